"""The store: migrations, engine settings, and aware UTC timestamps on both back ends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, text
from sqlmodel import Session, select

from db.engine import get_engine
from db.migrate import current_revision, upgrade
from db.models import Agent, SyncState


def test_migrations_create_every_table_and_rerun_harmlessly(engine):
    tables = set(inspect(engine).get_table_names())
    assert {
        "agent",
        "team",
        "contact",
        "work_segment",
        "agent_status_interval",
        "queue_snapshot",
        "csat_rating",
        "pulse_survey",
        "pulse_answer",
        "agent_day",
        "ax_user",
        "lead_team",
        "break_plan",
        "sync_state",
        "job_run",
        "audit_event",
    } <= tables
    revision = current_revision(engine)
    assert revision is not None
    upgrade(engine)  # `ax init` twice
    assert current_revision(engine) == revision


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    engine = get_engine(f"sqlite:///{tmp_path}/nested/dir/ax.db")  # parent folders are created
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_timestamps_come_back_aware_utc(engine):
    lisbon_summer = timezone(timedelta(hours=1))
    moment = datetime(2026, 7, 1, 9, 30, tzinfo=lisbon_summer)
    with Session(engine) as session:
        session.add(SyncState(source="s", stream="x", last_success_at=moment))
        session.commit()
    with Session(engine) as session:
        stored = session.get(SyncState, ("s", "x")).last_success_at
    assert stored.tzinfo is not None
    assert stored == moment
    assert stored.utcoffset() == timedelta(0)
    assert stored.astimezone(UTC).hour == 8


def test_naive_timestamps_are_refused(engine):
    with Session(engine) as session:
        session.add(SyncState(source="s", stream="x", last_success_at=datetime(2026, 7, 1, 9, 30)))
        with pytest.raises(Exception, match="naive datetime"):
            session.commit()


def test_foreign_keys_are_enforced(engine):
    from db.models import TeamMembership

    with Session(engine) as session:
        session.add(TeamMembership(source="s", external_id="x", team_id=999, agent_id=999))
        with pytest.raises(Exception, match=r"(?i)foreign key"):
            session.commit()


def test_agent_row_roundtrip(engine):
    with Session(engine) as session:
        session.add(Agent(source="s", external_id="a1", name="Ana", timezone="Europe/Lisbon"))
        session.commit()
    with Session(engine) as session:
        agent = session.exec(select(Agent)).one()
    assert (agent.name, agent.timezone, agent.deleted) == ("Ana", "Europe/Lisbon", False)


def test_bulk_binding_writes_what_sqlalchemy_would(engine):
    """Ingest's own bind processors (db.types, db.upsert) store what SQLAlchemy's general ones
    store, value for value, in any order: repeats, None in between, other zones, whole seconds."""
    from sqlalchemy import insert, select

    from db.models import Contact
    from db.upsert import bulk_upsert

    moments = [
        datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 29, 2, 0, tzinfo=timezone(timedelta(hours=1))),
        None,
        datetime(2026, 3, 29, 2, 0, tzinfo=timezone(timedelta(hours=1))),
    ]
    moments.insert(2, moments[0])  # the same object twice in a row, as a page's synced_at
    rows = [
        {
            "source": source,
            "external_id": f"c{n}",
            "channel": "chat",
            "created_at": moment or moments[0],
            "first_response_at": moment,
            "escalated": n % 2 == 0,
            "reopened": n == 3,
            "work_day": date(2026, 3, n + 1) if moment else None,
        }
        for source in ("bulk", "orm")
        for n, moment in enumerate(moments)
    ]
    with engine.begin() as conn:
        bulk_upsert(conn, Contact.__table__, [r for r in rows if r["source"] == "bulk"])
        conn.execute(insert(Contact.__table__), [r for r in rows if r["source"] == "orm"])
        c = Contact.__table__.c
        stored = {
            source: conn.execute(
                text(
                    "SELECT external_id, created_at, first_response_at, escalated, reopened, work_day "
                    "FROM contact WHERE source = :s ORDER BY external_id"
                ),
                {"s": source},
            ).all()
            for source in ("bulk", "orm")
        }
        assert conn.execute(select(c.first_response_at).where(c.external_id == "c1")).scalar() == moments[1]
    assert stored["bulk"] == stored["orm"]
    assert len(stored["bulk"]) == len(moments)

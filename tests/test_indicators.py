"""Agent-day indicators: local days, handle-time parts, hard contacts, incremental recompute."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import Session, select

from ax.indicators import compute_agent_days
from db.ingest import Ingestor
from db.models import Agent, AgentDay
from db.records import AgentRecord, ContactRecord


def _contact(n: int, at: datetime, agent: str = "ny", **kw) -> ContactRecord:
    return ContactRecord(f"c{n}", kw.pop("channel", "phone"), at, agent_external_id=agent, **kw)


def _days(engine) -> dict[tuple[str, date], AgentDay]:
    with Session(engine) as session:
        rows = session.exec(select(AgentDay)).all()
    return {(row.agent_id, row.day): row for row in rows}


def test_agent_days_use_local_days_and_sum_parts(engine):
    Ingestor(engine, "t").write_page(
        "all",
        [
            AgentRecord("ny", "Nia", timezone="America/New_York"),
            # 03:00 UTC on 10 March is 23:00 on 9 March in New York (EDT started 8 March 2026)
            _contact(
                1,
                datetime(2026, 3, 10, 3, 0, tzinfo=UTC),
                handle_seconds=400,
                talk_seconds=300,
                hold_seconds=40,
                wrap_seconds=60,
                csat=2,
            ),
            _contact(2, datetime(2026, 3, 10, 14, 0, tzinfo=UTC), channel="email", handle_seconds=200),
            _contact(
                3,
                datetime(2026, 3, 10, 15, 0, tzinfo=UTC),
                channel="chat",
                handle_seconds=600,
                sentiment=-0.8,
            ),
            _contact(
                4,
                datetime(2026, 3, 10, 16, 0, tzinfo=UTC),
                channel="social",
                handle_seconds=100,
                escalated=True,
                csat=5,
            ),
            _contact(5, datetime(2026, 3, 10, 17, 0, tzinfo=UTC), handle_seconds=50, deleted=True),
        ],
        None,
    )
    assert compute_agent_days(engine) == 2
    days = {day: row for (_, day), row in _days(engine).items()}
    ninth, tenth = days[date(2026, 3, 9)], days[date(2026, 3, 10)]
    assert (ninth.contacts, ninth.handle_seconds, ninth.talk_seconds, ninth.hold_seconds) == (1, 400, 300, 40)
    assert (ninth.hard_contacts, ninth.csat_sum, ninth.csat_count) == (1, 2, 1)
    # 10 March: email + chat + social; the deleted contact is left out
    assert (tenth.contacts, tenth.contacts_email, tenth.contacts_chat, tenth.contacts_other) == (3, 1, 1, 1)
    assert tenth.handle_seconds == 900
    assert tenth.hard_contacts == 2  # negative sentiment, escalation
    assert (tenth.csat_sum, tenth.csat_count) == (5, 1)


def test_incremental_recompute_touches_only_days_from_since(engine):
    ingest = Ingestor(engine, "t")
    ingest.write_page(
        "all",
        [
            AgentRecord("ny", "Nia", timezone="UTC"),
            _contact(1, datetime(2026, 3, 1, 10, tzinfo=UTC), handle_seconds=100),
            _contact(2, datetime(2026, 3, 5, 10, tzinfo=UTC), handle_seconds=100),
        ],
        None,
    )
    compute_agent_days(engine)
    ingest.write_page(
        "all",
        [
            _contact(1, datetime(2026, 3, 1, 10, tzinfo=UTC), handle_seconds=999),
            _contact(3, datetime(2026, 3, 5, 11, tzinfo=UTC), handle_seconds=50),
        ],
        None,
    )
    assert compute_agent_days(engine, since=date(2026, 3, 4)) == 1
    days = {day: row for (_, day), row in _days(engine).items()}
    assert days[date(2026, 3, 1)].handle_seconds == 100  # before the window: kept as computed
    assert (days[date(2026, 3, 5)].contacts, days[date(2026, 3, 5)].handle_seconds) == (2, 150)
    compute_agent_days(engine)
    assert {day: row for (_, day), row in _days(engine).items()}[date(2026, 3, 1)].handle_seconds == 999


def test_unknown_agent_timezone_falls_back_to_utc_instead_of_breaking_compute(engine):
    Ingestor(engine, "t").write_page(
        "all",
        [
            AgentRecord("x", "Xan", timezone="Pacific Time (US & Canada)"),
            _contact(1, datetime(2026, 3, 10, 3, 0, tzinfo=UTC), agent="x", handle_seconds=60),
        ],
        None,
    )
    assert compute_agent_days(engine) == 1
    assert next(iter(_days(engine).values())).day == date(2026, 3, 10)
    with Session(engine) as session:
        assert session.exec(select(Agent.timezone)).one() == "UTC"

"""The audit log: HR and admins browse it (filters, pages, their timezone); nobody can change it."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session, select

from ax.access import AccessDenied, Viewer
from ax.audit import VIEW_DEDUPE, record_view
from ax.audit_view import audit_filters, browse_audit
from db.models import AuditEvent, Role

ROOT = Path(__file__).resolve().parent.parent
HR = Viewer(user_id=None, username="hr", display_name="HR", role=Role.hr, timezone="Pacific/Auckland")  # type: ignore[arg-type]


def add(session: Session, username: str, action: str, at: datetime, **details) -> None:
    """An entry dated ``at`` (entries cannot be re-dated afterwards: the store refuses updates)."""
    details_text = json.dumps(details, sort_keys=True) if details else None
    session.add(AuditEvent(at=at, username=username, action=action, target="t", details=details_text))


@pytest.fixture
def session(engine):
    with Session(engine) as session:
        for n in range(120):
            add(
                session,
                "hana" if n % 2 else "lea",
                "export" if n % 3 else "sign_in",
                datetime(2026, 3, 1 + n % 28, 10, tzinfo=UTC),
                n=n,
            )
        add(session, "late", "export", datetime(2026, 3, 31, 12, 30, tzinfo=UTC))  # 1 April in Auckland
        session.commit()
        yield session


def test_pages_newest_first_in_the_viewers_timezone(session):
    first = browse_audit(session, HR, page_size=50)
    assert first.total == 121 and first.pages == 3 and len(first.entries) == 50
    newest = first.entries[0]
    assert newest.user == "late" and newest.at.utcoffset().total_seconds() == 13 * 3600
    assert newest.at.date() == date(2026, 4, 1)
    times = [e.at for e in first.entries]
    assert times == sorted(times, reverse=True)
    last = browse_audit(session, HR, page=3, page_size=50)
    assert len(last.entries) == 21 and {e.id for e in last.entries}.isdisjoint(e.id for e in first.entries)
    assert browse_audit(session, HR, page=99).page == 3  # past the end: the last page, not an error


def test_filters_by_user_action_and_local_dates(session):
    assert {e.user for e in browse_audit(session, HR, user="lea", page_size=200).entries} == {"lea"}
    exports = browse_audit(session, HR, action="export", page_size=200)
    assert exports.total == 81 and {e.action for e in exports.entries} == {"export"}
    april = browse_audit(session, HR, since=date(2026, 4, 1), until=date(2026, 4, 1))
    assert [e.user for e in april.entries] == ["late"]  # 31 March 12:30 UTC is 1 April in Auckland
    assert browse_audit(session, HR, user="lea", action="sign_in", page_size=200).total == 20
    filters = audit_filters(session, HR)
    assert filters.users == ["hana", "late", "lea"] and filters.actions == ["export", "sign_in"]
    with pytest.raises(ValueError, match="after the end date"):
        browse_audit(session, HR, since=date(2026, 3, 5), until=date(2026, 3, 1))


@pytest.mark.parametrize("role", [Role.agent, Role.lead])
def test_agents_and_leads_are_refused_and_the_refusal_is_logged(session, role):
    viewer = Viewer(user_id=None, username=f"x-{role.value}", display_name="x", role=role)  # type: ignore[arg-type]
    with pytest.raises(AccessDenied):
        browse_audit(session, viewer)
    refusal = session.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert refusal.action == "access_denied" and refusal.username == f"x-{role.value}"


def test_no_code_path_changes_or_deletes_audit_entries():
    """Entries are only added: no UPDATE or DELETE of audit_event anywhere in the app's code."""
    pattern = re.compile(
        r"(update|delete)\(\s*(AuditEvent|audit_event)|(UPDATE|DELETE FROM)\s+audit_event", re.I
    )
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("ax", "pages", "db", "connectors")
        for path in (ROOT / folder).rglob("*.py")
        if "migrations" not in path.parts and pattern.search(path.read_text())
    ]
    offenders += [str(p.name) for p in [ROOT / "dashboard.py"] if pattern.search(p.read_text())]
    assert not offenders, f"audit entries must never be edited or removed: {offenders}"


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_event SET username = 'someone else'", "DELETE FROM audit_event"],
    ids=["update", "delete"],
)
def test_the_store_itself_refuses_to_change_or_remove_entries(engine, session, statement):
    """Migration 0005's triggers: even SQL outside the app cannot rewrite the log."""
    with engine.connect() as conn:
        with pytest.raises(DatabaseError, match="append-only"):
            conn.execute(text(statement))
        conn.rollback()
        assert conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one() == 121


def test_a_view_of_individual_data_is_recorded_once_per_quarter_hour(session):
    lead = Viewer(user_id=None, username="lena", display_name="Lena", role=Role.lead)  # type: ignore[arg-type]
    start = datetime(2026, 5, 4, 9, tzinfo=UTC)

    def view(target: str, days: int, now: datetime) -> bool:
        return record_view(session, lead, what="team heatmap", target=target, filters={"days": days}, now=now)

    assert view("team 3", 14, start)
    again = start + VIEW_DEDUPE - timedelta(seconds=1)
    assert not view("team 3", 14, again)
    # Another filter, another target or a later quarter hour is another view.
    assert view("team 3", 28, again)
    assert view("team 4", 14, again)
    later = start + VIEW_DEDUPE + timedelta(seconds=1)
    assert view("team 3", 14, later)
    session.commit()
    views = browse_audit(session, HR, action="viewed_individuals", page_size=50).entries
    assert len(views) == 4 and {v.user for v in views} == {"lena"}

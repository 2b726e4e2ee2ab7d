"""Ingest: idempotent upserts keyed on (source, external_id), cursor atomic with its rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from connectors.contract import run_sync, stored_cursor
from db.ingest import Ingestor
from db.models import Agent, Contact, SyncState, Team, TeamMembership
from db.records import (
    AgentRecord,
    ContactRecord,
    DeletionRecord,
    MembershipRecord,
    PulseAnswerRecord,
    TeamRecord,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _count(engine, model) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model.__table__)).scalar_one()


def _contact(n: int, agent: str = "a1", **changes) -> ContactRecord:
    values = dict(
        external_id=f"c{n}",
        channel="phone",
        created_at=T0 + timedelta(minutes=10 * n),
        agent_external_id=agent,
        handle_seconds=300 + n,
        talk_seconds=240,
        hold_seconds=0,
        wrap_seconds=60 + n,
    )
    values.update(changes)
    return ContactRecord(**values)


DIRECTORY = [
    TeamRecord("t1", "Billing", site="Lisbon"),
    TeamRecord("t2", "Billing tier 2", parent_external_id="t1"),
    AgentRecord("a1", "Ana", email="ana@example.com", timezone="Europe/Lisbon"),
    AgentRecord("a2", "Ben"),
    MembershipRecord("t1", "a1"),
    MembershipRecord("t2", "a2"),
]


def test_same_page_twice_changes_nothing(engine):
    ingest = Ingestor(engine, "zendesk")
    page = [*DIRECTORY, *(_contact(n) for n in range(50))]
    first = ingest.write_page("all", page, "c1")
    second = ingest.write_page("all", page, "c1")
    assert first.rows["contact"] == second.rows["contact"] == 50
    assert (_count(engine, Contact), _count(engine, Agent), _count(engine, Team)) == (50, 2, 2)
    assert _count(engine, TeamMembership) == 2
    with Session(engine) as session:
        child = session.exec(select(Team).where(Team.external_id == "t2")).scalar_one()
        parent = session.exec(select(Team).where(Team.external_id == "t1")).scalar_one()
        assert child.parent_id == parent.id


def test_updated_records_overwrite_and_deleted_are_marked(engine):
    ingest = Ingestor(engine, "zendesk")
    ingest.write_page("all", [*DIRECTORY, _contact(1), _contact(2)], "p1")
    ingest.write_page("all", [_contact(1, csat=1, handle_seconds=999), _contact(2, deleted=True)], "p2")
    with Session(engine) as session:
        rows = {c.external_id: c for c in session.exec(select(Contact)).scalars()}
    assert (rows["c1"].csat, rows["c1"].handle_seconds, rows["c1"].deleted) == (1, 999, False)
    assert rows["c2"].deleted is True
    assert len(rows) == 2


def test_deletion_record_marks_rows_deleted_and_keeps_their_data(engine):
    ingest = Ingestor(engine, "intercom")
    ingest.write_page("all", [*DIRECTORY, _contact(1, csat=4), _contact(2)], None)
    ingest.write_page("all", [DeletionRecord("contact", "c1"), DeletionRecord("agent", "a2")], None)
    with Session(engine) as session:
        contacts = {c.external_id: c for c in session.exec(select(Contact)).scalars()}
        ben = session.exec(select(Agent).where(Agent.external_id == "a2")).scalar_one()
    assert (contacts["c1"].deleted, contacts["c1"].csat, contacts["c1"].handle_seconds) == (True, 4, 301)
    assert contacts["c2"].deleted is False
    assert (ben.deleted, ben.name) == (True, "Ben")
    with pytest.raises(ValueError, match="unknown kind"):
        ingest.write_page("all", [DeletionRecord("ax_user", "1")], None)


def test_same_external_id_from_two_sources_are_two_rows(engine):
    Ingestor(engine, "zendesk").write_page("all", [_contact(1)], None)
    Ingestor(engine, "freshdesk").write_page("all", [_contact(1)], None)
    assert _count(engine, Contact) == 2


def test_unknown_agent_gets_a_placeholder_that_the_agent_sync_fills_in(engine):
    ingest = Ingestor(engine, "zendesk")
    result = ingest.write_page("tickets", [_contact(1, agent="a9")], "p1")
    assert result.placeholders == 1
    ingest.write_page("agents", [AgentRecord("a9", "Nia", timezone="Europe/Dublin")], "done")
    with Session(engine) as session:
        agent = session.exec(select(Agent).where(Agent.external_id == "a9")).scalar_one()
        contact = session.exec(select(Contact)).scalar_one()
    assert (agent.name, agent.timezone) == ("Nia", "Europe/Dublin")
    assert contact.agent_id == agent.id


def test_failed_page_keeps_neither_rows_nor_cursor(engine):
    ingest = Ingestor(engine, "zendesk")
    ingest.write_page("all", [*DIRECTORY, _contact(1)], "after-1")
    bad_page = [_contact(2), PulseAnswerRecord("x", "no-such-survey", "a1", "who5_1", T0, value=3)]
    with pytest.raises(ValueError, match="unknown surveys"):
        ingest.write_page("all", bad_page, "after-2")
    assert _count(engine, Contact) == 1
    assert stored_cursor(engine, "zendesk", "all") == "after-1"
    # the resolver cache must not keep ids from the rolled-back page
    ingest.write_page("all", [_contact(3, agent="a-new")], "after-3")
    assert _count(engine, Contact) == 2


class _CrashingHelpdesk:
    """Yields pages, and dies after ``crash_after`` pages on its first life."""

    name = "fake"

    def __init__(self, pages: int, crash_after: int | None) -> None:
        self.total = pages
        self.crash_after = crash_after

    def streams(self):
        return ("contacts",)

    def pages(self, stream, cursor):
        start = 0 if cursor is None else int(cursor) + 1
        for index in range(start, self.total):
            if self.crash_after is not None and index == self.crash_after:
                raise ConnectionError("helpdesk went away")
            yield [_contact(index * 10 + k) for k in range(10)], str(index)


def test_crash_between_pages_resumes_without_loss_or_duplicates(engine):
    with pytest.raises(ConnectionError):
        run_sync(engine, _CrashingHelpdesk(pages=6, crash_after=3))
    assert _count(engine, Contact) == 30
    assert stored_cursor(engine, "fake", "contacts") == "2"
    with Session(engine) as session:
        state = session.get(SyncState, ("fake", "contacts"))
        assert "helpdesk went away" in state.last_error
    results = run_sync(engine, _CrashingHelpdesk(pages=6, crash_after=None))
    assert results["contacts"].rows["contact"] == 30  # only the three missing pages were fetched
    assert _count(engine, Contact) == 60
    with Session(engine) as session:
        ids = session.exec(select(Contact.external_id)).scalars().all()
        state = session.get(SyncState, ("fake", "contacts"))
    assert sorted(ids) == sorted(f"c{n}" for n in range(60))
    assert state.last_error is None and state.cursor == "5"

"""How the compute cuts its work into batches (batches rebuilt side by side give what one batch
gives), and what it keeps between runs."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import Session, select

from ax import compute
from ax.compute import _partial_batches, _spread, run_compute
from ax.indicators import Scope
from ax.settings import reset_settings
from db.ingest import Ingestor
from db.models import ComputeState, TeamDay
from db.records import (
    AgentRecord,
    ContactRecord,
    DeletionRecord,
    MembershipRecord,
    StatusIntervalRecord,
    TeamRecord,
)
from tests.test_indicators import _computed, at, contact

DAY = date(2026, 3, 10)


def test_a_days_sync_is_one_batch_until_split_for_the_workers(monkeypatch):
    monkeypatch.setattr(compute, "MIN_SPLIT", 50)
    touched = {agent: DAY for agent in range(1, 301)}
    (batch,) = _partial_batches(touched, DAY)
    assert batch == Scope(tuple(range(1, 301)), DAY)
    halves = _spread([batch], 2)
    assert halves == [Scope(tuple(range(1, 151)), DAY), Scope(tuple(range(151, 301)), DAY)]
    quarters = _spread([batch], 4)
    assert [len(scope.agent_ids) for scope in quarters] == [75, 75, 75, 75]
    assert sorted(a for scope in quarters for a in scope.agent_ids) == list(range(1, 301))
    # Never below MIN_SPLIT agents a batch, and one worker keeps one batch.
    assert _spread([Scope(tuple(range(99)), DAY)], 4) == [Scope(tuple(range(99)), DAY)]
    assert _spread([batch], 1) == [batch]
    assert _spread([], 4) == []


def test_split_batches_rebuilt_side_by_side_equal_a_full_run(engine, monkeypatch):
    """On PostgreSQL the split halves run in two threads, each its own transaction."""
    monkeypatch.setattr(compute, "WATERMARK_MARGIN", timedelta(0))
    monkeypatch.setattr(compute, "MIN_SPLIT", 1)
    monkeypatch.setattr(compute, "PARALLEL_BATCHES", 2)
    ingest = Ingestor(engine, "t")
    agents = [f"a{n}" for n in range(6)]
    records: list = [AgentRecord(agent, agent.upper()) for agent in agents]
    for n, agent in enumerate(agents):
        for d in range(3):
            day = DAY + timedelta(days=d)
            records += [
                contact(10 * n + d, at(9, n, day=day), 100 + 10 * n, agent=agent),
                StatusIntervalRecord(f"s{agent}{d}", agent, "online", at(8, 0, day=day), at(12, 0, day=day)),
            ]
    ingest.write_page("all", records)
    run_compute(engine)
    # A new day for every agent: one batch of six, split in two.
    new_day = DAY + timedelta(days=3)
    ingest.write_page(
        "all", [contact(100 + n, at(9, 0, day=new_day), 50, agent=a) for n, a in enumerate(agents)]
    )
    rebuilt: list[Scope] = []
    rebuild = compute._rebuild_batch
    monkeypatch.setattr(
        compute, "_rebuild_batch", lambda e, scope, *rest: rebuilt.append(scope) or rebuild(e, scope, *rest)
    )
    assert run_compute(engine).agents == 6
    assert len(rebuilt) == (2 if engine.dialect.name == "postgresql" else 1)
    incremental = _computed(engine)
    run_compute(engine, full=True)
    assert incremental == _computed(engine)


def _stored_bound(engine) -> int | None:
    with engine.connect() as conn:
        return conn.execute(select(ComputeState.longest_on_queue)).scalar_one()


def test_the_interval_bound_grows_with_what_is_synced_and_shrinks_in_a_full_run(engine, monkeypatch):
    """Who was on the queue in the peak hour is searched for among intervals no longer than a
    stored bound: an incremental run raises it by the intervals synced since, so a longer one is
    still found; only a full run measures it afresh (lower, once the long one is gone)."""
    monkeypatch.setattr(compute, "WATERMARK_MARGIN", timedelta(0))
    monkeypatch.setenv("AX_TIMEZONE", "UTC")
    reset_settings()
    ingest = Ingestor(engine, "t")
    ingest.write_page(
        "all",
        [
            TeamRecord("t1", "One"),
            AgentRecord("a", "Ana"),
            AgentRecord("b", "Bo"),
            MembershipRecord("t1", "a"),
            MembershipRecord("t1", "b"),
            StatusIntervalRecord("sa", "a", "online", at(8, 0), at(9, 0)),
            ContactRecord("c1", "phone", at(8, 30), "a", "t1", handle_seconds=60),
        ],
    )
    run_compute(engine)
    assert _stored_bound(engine) == 3601
    # The next day Bo is on the queue from midnight to noon, the peak hour is 10:00-11:00.
    next_day = DAY + timedelta(days=1)
    long_one = StatusIntervalRecord("sb", "b", "online", at(0, 0, day=next_day), at(12, 0, day=next_day))
    calls = [
        ContactRecord(f"n{i}", "phone", at(10, 10 + i, day=next_day), "b", "t1", handle_seconds=60)
        for i in range(3)
    ]
    ingest.write_page("all", [long_one, *calls])
    run_compute(engine)
    assert _stored_bound(engine) == 12 * 3600 + 1
    with Session(engine) as session:
        staffed = session.exec(select(TeamDay.agents_staffed).where(TeamDay.day == next_day)).one()
    assert staffed == 1  # Bo, found although his interval began ten hours before the hour
    ingest.write_page("all", [DeletionRecord("agent_status_interval", "sb")])
    run_compute(engine)
    assert _stored_bound(engine) == 12 * 3600 + 1  # a bound may stay above the truth
    run_compute(engine, full=True)
    assert _stored_bound(engine) == 3601

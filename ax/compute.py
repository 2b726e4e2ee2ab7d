"""One entry point for the indicator pipeline: agent-days, then baselines, risk and team roll-ups.

Incremental by default: only agents with rows synced since the last run are rebuilt, from the
earliest local day those rows touch, or that ingest noted as left by work that moved
(``compute_pending``: a contact handed to another agent or day, a timezone change). Each batch of
agents is one transaction (delete and rebuild its agent-days, derived columns and risk levels),
so a crash leaves earlier results intact and the watermark unmoved: the next run redoes the work.
``full`` rebuilds everything; ``since`` rebuilds every agent from that local date on (the nightly
job uses it as a safety net, e.g. for team membership changes, which move team-days but no
agent-day).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, select, text, union_all
from sqlalchemy.engine import Connection, Engine, Row

from ax.baselines import update_derived
from ax.indicators import Scope, chunks, rebuild_agent_days
from ax.risk import rebuild_risk
from ax.settings import Settings, get_settings
from ax.team_indicators import compute_team_days, longest_on_queue
from db.models import Agent, AgentStatusInterval, ComputePending, ComputeState, Contact
from db.stats import refresh_statistics
from db.types import utcnow

log = logging.getLogger("ax.compute")

STATE = "indicators"
# A batch is one transaction. A full run takes this many agents per batch, every day of each; a
# partial run (``since`` or synced rows) fills a batch up to about BATCH_AGENT_DAYS agent-days
# (as many as 250 agents × 100 days), so a day's sync for a thousand agents is one batch, not
# four: each batch costs a few statements whatever its size.
AGENT_BATCH = 250
BATCH_AGENT_DAYS = 25_000
MAX_BATCH_AGENTS = 2500
# Agents whose first touched days are this close share a batch, rebuilt from its first day (the
# days rebuilt again come out the same).
MERGE_DAYS = 1
# Two computes may overlap (the worker's own job and the one after a sync): on PostgreSQL a run
# holds this advisory lock from its plan to its saved watermark, so their delete-and-rebuild
# steps never interleave (the second plans once the first is done). SQLite already lets one
# writer at a time in.
COMPUTE_LOCK = 0x41584350
# PostgreSQL: batches rebuilt side by side, each in its own transaction (and server process); the
# agents of two batches never overlap. SQLite has one writer at a time, so it runs them in turn.
PARALLEL_BATCHES = max(1, min(4, os.cpu_count() or 1))
# A batch is split for another worker only into halves of at least this many agents.
MIN_SPLIT = 50
# Rows stamped just before a run started may commit after it read: look back a little further.
WATERMARK_MARGIN = timedelta(minutes=10)


@dataclass
class ComputeResult:
    agent_days: int = 0
    team_days: int = 0
    risks: int = 0
    agents: int = 0

    @property
    def rows(self) -> int:
        return self.agent_days + self.team_days + self.risks


def _touched(conn: Connection, after) -> dict[int, date]:
    """Agents with activity rows synced after ``after``, each with the earliest local day touched.

    The local days are the work days ingest stamps on contacts and status intervals; both are
    read off (synced_at, agent_id, work_day) indexes. A rating needs no look-up of its own:
    ingest gives its contact a new synced_at when the contact's lowest rating changes. Where work
    *was* before a row moved to another agent or day (or its agent to another timezone), ingest
    notes in ``compute_pending``.
    """
    c, s, p = Contact.__table__.c, AgentStatusInterval.__table__.c, ComputePending.__table__.c
    contacts = select(c.agent_id, c.work_day.label("day")).where(c.synced_at > after)
    statuses = select(s.agent_id, s.work_day).where(s.synced_at > after)
    pending = select(p.agent_id, p.day).where(p.noted_at > after)
    rows = union_all(contacts, statuses, pending).subquery("touched")
    query = select(rows.c.agent_id, func.min(rows.c.day)).where(
        rows.c.agent_id.is_not(None), rows.c.day.is_not(None)
    )
    return dict(conn.execute(query.group_by(rows.c.agent_id)).all())


def _partial_batches(first_days: dict[int, date], last: date) -> list[Scope]:
    """Batches for agents to rebuild each from their first day up to about ``last`` (the latest
    day touched, or today): see BATCH_AGENT_DAYS."""
    scopes: list[Scope] = []
    batch: list[int] = []
    since: date | None = None
    for agent_id, day in sorted(first_days.items(), key=lambda item: (item[1], item[0])):
        if since is not None:
            days = max(1, (last - since).days + 2)  # and a local day ahead of UTC
            full = (len(batch) + 1) * days > BATCH_AGENT_DAYS or len(batch) >= MAX_BATCH_AGENTS
            if full or (day - since).days > MERGE_DAYS:
                scopes.append(Scope(tuple(batch), since))
                batch, since = [], None
        if since is None:
            since = day
        batch.append(agent_id)
    if batch and since is not None:
        scopes.append(Scope(tuple(batch), since))
    return scopes


def _spread(scopes: list[Scope], workers: int) -> list[Scope]:
    """Split the largest batches in two until there is one per worker, so a run that is one
    batch (a day's sync) still keeps every worker busy; batches stay at least MIN_SPLIT agents."""
    scopes = list(scopes)
    while len(scopes) < workers:
        largest = max(range(len(scopes)), key=lambda i: len(scopes[i].agent_ids or ()), default=None)
        if largest is None:
            break
        scope = scopes[largest]
        ids = scope.agent_ids or ()
        if len(ids) < 2 * MIN_SPLIT:
            break
        half = len(ids) // 2
        scopes[largest : largest + 1] = [Scope(ids[:half], scope.since), Scope(ids[half:], scope.since)]
    return scopes


def _workers(engine: Engine) -> int:
    """Batches rebuilt side by side: PostgreSQL only (SQLite lets one writer in at a time)."""
    return PARALLEL_BATCHES if engine.dialect.name == "postgresql" else 1


def _state(engine: Engine) -> Row | None:
    with engine.connect() as conn:
        return conn.execute(select(ComputeState.__table__).where(ComputeState.name == STATE)).first()


def _plan(
    engine: Engine, state: Row | None, since: date | None, full: bool, today: date
) -> tuple[list[Scope], date | None, bool]:
    """The batches to rebuild, the earliest day they touch (None: all days), and whether it is full."""
    scopes, first_day, full = _batches(engine, state, since, full, today)
    return _spread(scopes, _workers(engine)), first_day, full


def _batches(
    engine: Engine, state: Row | None, since: date | None, full: bool, today: date
) -> tuple[list[Scope], date | None, bool]:
    """The batches the store calls for: all agents, every agent from ``since``, or those touched."""
    with engine.connect() as conn:
        everyone = [row[0] for row in conn.execute(select(Agent.id).order_by(Agent.id))]
        if full or state is None or state.watermark is None:
            return [Scope(ids, None) for ids in chunks(everyone, AGENT_BATCH)], None, True
        if since is not None:
            return _partial_batches(dict.fromkeys(everyone, since), today), since, False
        touched = _touched(conn, state.watermark - WATERMARK_MARGIN)
    last = max(touched.values(), default=today)
    return _partial_batches(touched, last), min(touched.values(), default=None), False


# Tables whose planner statistics the compute's joins depend on (see db.stats).
ANALYZED_TABLES = ("contact", "agent_status_interval", "agent_day", "agent")


@contextmanager
def _compute_lock(engine: Engine) -> Iterator[None]:
    """Hold the compute lock for a run (PostgreSQL), on a connection of its own outside any
    transaction; a crash releases it with the connection."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": COMPUTE_LOCK})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": COMPUTE_LOCK})


def _prepare(conn: Connection) -> None:
    """Set a compute transaction up (PostgreSQL).

    JIT is switched off for the transaction: the compute's statements are large (hundreds of
    expressions) and their estimated cost passes the JIT thresholds, so PostgreSQL spent seconds
    compiling them, more than running them.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL jit = off"))


def _rebuild_batch(engine: Engine, scope: Scope, settings: Settings, started: datetime) -> tuple[int, int]:
    """One batch, one transaction: its agent-days, derived columns and risk levels."""
    with engine.begin() as conn:
        _prepare(conn)
        days = rebuild_agent_days(conn, scope, settings, started)
        update_derived(conn, scope, settings)
        risks = rebuild_risk(conn, scope, settings, started)
    return days, risks


def _rebuild_batches(engine: Engine, scopes: list[Scope], settings: Settings, started: datetime):
    """(agent-days, risk levels) written per batch, in order; side by side on PostgreSQL."""
    workers = min(_workers(engine), len(scopes))
    if workers <= 1:
        return [_rebuild_batch(engine, scope, settings, started) for scope in scopes]
    with ThreadPoolExecutor(workers, thread_name_prefix="ax-compute") as pool:
        return list(pool.map(lambda scope: _rebuild_batch(engine, scope, settings, started), scopes))


def _save_state(conn: Connection, watermark, full: bool, longest_on_queue: int) -> None:
    """Move the watermark, keep the interval bound, and drop the pending notes every later run
    would read past."""
    table = ComputeState.__table__
    values = {
        "watermark": watermark,
        "longest_on_queue": longest_on_queue,
        **({"last_full_at": watermark} if full else {}),
    }
    if conn.execute(table.update().where(table.c.name == STATE).values(**values)).rowcount == 0:
        conn.execute(table.insert().values(name=STATE, **values))
    pending = ComputePending.__table__
    conn.execute(delete(pending).where(pending.c.noted_at <= watermark - WATERMARK_MARGIN))


def run_compute(
    engine: Engine,
    *,
    since: date | None = None,
    full: bool = False,
    settings: Settings | None = None,
) -> ComputeResult:
    """Bring every computed table up to date with the store."""
    settings = settings or get_settings()
    result = ComputeResult()
    with _compute_lock(engine):
        started = utcnow()
        state = _state(engine)
        scopes, first_day, full = _plan(engine, state, since, full, started.date())
        refresh_statistics(engine, ANALYZED_TABLES)
        for scope, (days, risks) in zip(
            scopes, _rebuild_batches(engine, scopes, settings, started), strict=True
        ):
            result.agent_days += days
            result.risks += risks
            result.agents += len(scope.agent_ids or ())
        # A full run rewrote agent_day, and the team roll-up reads all of it.
        refresh_statistics(engine, ("agent_day",))
        with engine.begin() as conn:
            _prepare(conn)
            known = None if full or state is None else state.longest_on_queue
            synced_after = None if known is None else state.watermark - WATERMARK_MARGIN
            longest = longest_on_queue(conn, synced_after=synced_after, known=known)
            if full or scopes:
                result.team_days = compute_team_days(
                    conn, since=None if full else first_day, settings=settings, longest_status=longest
                )
            _save_state(conn, started, full, longest)
    log.info(
        "computed %d agent-days, %d risk levels, %d team-days for %d agents%s",
        result.agent_days,
        result.risks,
        result.team_days,
        result.agents,
        " (full)" if full else "",
    )
    return result

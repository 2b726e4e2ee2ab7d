"""One entry point for the indicator pipeline: agent-days, then baselines, risk and team roll-ups.

Incremental by default: only agents with rows synced since the last run are rebuilt, from the
earliest local day those rows touch. Each batch of agents is one transaction (delete and rebuild
its agent-days, derived columns and risk levels), so a crash leaves earlier results intact and the
watermark unmoved: the next run redoes the work. ``full`` rebuilds everything; ``since`` rebuilds
every agent from that local date on (the nightly job uses it to catch what synced_at cannot show,
such as a contact moved from one agent to another).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Date, func, select, text, union_all
from sqlalchemy.engine import Connection, Engine

from ax.baselines import update_derived
from ax.indicators import Scope, chunks, rebuild_agent_days
from ax.risk import rebuild_risk
from ax.settings import Settings, get_settings
from ax.team_indicators import compute_team_days
from db.models import Agent, AgentStatusInterval, ComputeState, Contact, CsatRating
from db.types import utcnow

log = logging.getLogger("ax.compute")

STATE = "indicators"
AGENT_BATCH = 250
# Two computes may overlap (the worker's own job and the one after a sync): on PostgreSQL each
# batch takes this transaction-scoped lock so their delete-and-rebuild steps never interleave.
# SQLite already lets one writer at a time in.
COMPUTE_LOCK = 0x41584350
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
    """Agents with activity rows synced after ``after``, each with the earliest local day touched."""
    c, s, r, a = (
        Contact.__table__.c,
        AgentStatusInterval.__table__.c,
        CsatRating.__table__.c,
        Agent.__table__.c,
    )
    start = func.coalesce(c.first_response_at, c.created_at)
    contacts = (
        select(c.agent_id, func.ax_local_date(start, a.timezone, type_=Date).label("day"))
        .join_from(Contact.__table__, Agent.__table__, a.id == c.agent_id)
        .where(c.synced_at > after)
    )
    statuses = (
        select(s.agent_id, func.ax_local_date(s.started_at, a.timezone, type_=Date))
        .join_from(AgentStatusInterval.__table__, Agent.__table__, a.id == s.agent_id)
        .where(s.synced_at > after)
    )
    rated = (
        select(c.agent_id, func.ax_local_date(start, a.timezone, type_=Date))
        .select_from(CsatRating.__table__)
        .join(Contact.__table__, (c.source == r.source) & (c.external_id == r.contact_external_id))
        .join(Agent.__table__, a.id == c.agent_id)
        .where(r.synced_at > after)
    )
    rows = union_all(contacts, statuses, rated).subquery("touched")
    query = select(rows.c.agent_id, func.min(rows.c.day)).where(rows.c.agent_id.is_not(None))
    return dict(conn.execute(query.group_by(rows.c.agent_id)).all())


def _plan(engine: Engine, since: date | None, full: bool) -> tuple[list[Scope], date | None, bool]:
    """The batches to rebuild, the earliest day they touch (None: all days), and whether it is full."""
    with engine.connect() as conn:
        state = conn.execute(select(ComputeState.__table__).where(ComputeState.name == STATE)).first()
        everyone = [row[0] for row in conn.execute(select(Agent.id).order_by(Agent.id))]
        if full or state is None or state.watermark is None:
            return [Scope(ids, None) for ids in chunks(everyone, AGENT_BATCH)], None, True
        if since is not None:
            return [Scope(ids, since) for ids in chunks(everyone, AGENT_BATCH)], since, False
        touched = _touched(conn, state.watermark - WATERMARK_MARGIN)
    by_day: dict[date, list[int]] = defaultdict(list)
    for agent_id, day in touched.items():
        by_day[day].append(agent_id)
    scopes = [
        Scope(ids, day)
        for day, agents in sorted(by_day.items())
        for ids in chunks(sorted(agents), AGENT_BATCH)
    ]
    return scopes, min(by_day, default=None), False


def _refresh_statistics(engine: Engine) -> None:
    """Let PostgreSQL's planner see what a bulk load brought before the big joins run.

    Right after a large sync autovacuum may not have analyzed yet; estimates of a few rows for
    tables of millions turn hash joins into nested loops.
    """
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE contact, agent_status_interval, csat_rating, agent_day, agent"))


def _serialize(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": COMPUTE_LOCK})


def _save_state(conn: Connection, watermark, full: bool) -> None:
    table = ComputeState.__table__
    values = {"watermark": watermark, **({"last_full_at": watermark} if full else {})}
    if conn.execute(table.update().where(table.c.name == STATE).values(**values)).rowcount == 0:
        conn.execute(table.insert().values(name=STATE, **values))


def run_compute(
    engine: Engine,
    *,
    since: date | None = None,
    full: bool = False,
    settings: Settings | None = None,
) -> ComputeResult:
    """Bring every computed table up to date with the store."""
    settings = settings or get_settings()
    started = utcnow()
    scopes, first_day, full = _plan(engine, since, full)
    result = ComputeResult()
    if full or sum(len(scope.agent_ids or ()) for scope in scopes) > AGENT_BATCH:
        _refresh_statistics(engine)
    for scope in scopes:
        with engine.begin() as conn:
            _serialize(conn)
            result.agent_days += rebuild_agent_days(conn, scope, settings, started)
            update_derived(conn, scope, settings)
            result.risks += rebuild_risk(conn, scope, settings, started)
        result.agents += len(scope.agent_ids or ())
    with engine.begin() as conn:
        _serialize(conn)
        if full or scopes:
            result.team_days = compute_team_days(conn, since=None if full else first_day, settings=settings)
        _save_state(conn, started, full)
    log.info(
        "computed %d agent-days, %d risk levels, %d team-days for %d agents%s",
        result.agent_days,
        result.risks,
        result.team_days,
        result.agents,
        " (full)" if full else "",
    )
    return result

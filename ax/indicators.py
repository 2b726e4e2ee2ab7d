"""Per agent-day workload, computed set-based in SQL from contacts and status intervals.

An agent's day is their *local* day: ``ax_local_date(ts, tz)`` is a PostgreSQL function
(created by the first migration) and a Python function registered on every SQLite connection,
so these statements run unchanged on both back ends. Window functions (LAG, running MAX/SUM)
do the timeline work: back-to-back contacts, chat concurrency, stretches without a break.

Definitions (docs: ``indicators.md``; thresholds live in :mod:`ax.settings`):

- a contact's work span starts at its first response (or creation) and lasts its handle time;
  it counts on the local day its work started;
- on-queue time is status ``online``/``available``/``busy``; ``away``/``break`` is a break;
  logged-in time is both; an interval counts on the local day it started;
- occupancy = handling ÷ on-queue time (capped at 1); no status intervals → unknown (NULL);
- a stretch is on-queue time with no pause of at least ``break_min_minutes`` inside it;
- hard contact = CSAT ≤ 2 (the contact's own, else its rating), customer sentiment ≤ −0.5, or
  escalated. The "abnormally long" criterion (> p95 of the queue) is left out: a percentile per
  queue is not portable SQL, and long contacts already show in AHT deviation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import (
    Date,
    Integer,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    union,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from ax.settings import Settings
from db.models import Agent, AgentDay, AgentStatusInterval, Contact, CsatRating
from db.sqlfuncs import epoch_seconds

HARD_CSAT_MAX = 2
HARD_SENTIMENT_MAX = -0.5
ON_QUEUE = ("online", "available", "busy")
BREAKS = ("away", "break")
CONCURRENT_CHANNELS = ("chat", "messaging")
# A local day can begin up to 14 h before UTC midnight of the same date (UTC+14).
_ZONE_LEAD = timedelta(hours=14)
# Contacts are found by creation time (indexed); one first answered later than this after being
# created counts only in a full recompute.
CREATION_LOOKBACK = timedelta(days=7)


@dataclass(frozen=True)
class Scope:
    """Which agent-days to rebuild: these agents (all when None) from local day ``since`` on."""

    agent_ids: tuple[int, ...] | None = None
    since: date | None = None

    @property
    def window_start(self) -> datetime | None:
        if self.since is None:
            return None
        return datetime.combine(self.since, time(), UTC) - _ZONE_LEAD

    def agents(self, column):
        return column.in_(self.agent_ids) if self.agent_ids is not None else literal(True)


def _seconds(expr):
    return cast(func.round(expr), Integer)


def _count_if(condition):
    return func.sum(case((condition, 1), else_=0))


def _contacts(scope: Scope):
    """One row per contact in scope: local day, work span in epoch seconds, hard flag, CSAT."""
    c, a, r = Contact.__table__.c, Agent.__table__.c, CsatRating.__table__.c
    start = func.coalesce(c.first_response_at, c.created_at)
    rating = (
        select(func.min(r.score))
        .where(r.source == c.source, r.contact_external_id == c.external_id, r.deleted.is_(False))
        .scalar_subquery()
    )
    csat = func.coalesce(c.csat, rating)
    hard = or_(csat <= HARD_CSAT_MAX, c.sentiment <= HARD_SENTIMENT_MAX, c.escalated.is_(True))
    handle = func.coalesce(c.handle_seconds, 0)
    where = [c.deleted.is_(False), c.agent_id.is_not(None), scope.agents(c.agent_id)]
    if scope.window_start is not None:
        where += [c.created_at >= scope.window_start - CREATION_LOOKBACK, start >= scope.window_start]
    return (
        select(
            c.agent_id,
            func.ax_local_date(start, a.timezone, type_=Date).label("day"),
            c.channel,
            epoch_seconds(start).label("t0"),
            (epoch_seconds(start) + handle).label("t1"),
            handle.label("handle"),
            func.coalesce(c.talk_seconds, 0).label("talk"),
            func.coalesce(c.hold_seconds, 0).label("hold"),
            func.coalesce(c.wrap_seconds, 0).label("wrap"),
            case((hard, 1), else_=0).label("hard"),
            csat.label("csat"),
        )
        .select_from(Contact.__table__.join(Agent.__table__, a.id == c.agent_id))
        .where(and_(*where))
        .cte("cx")
    )


def _contact_totals(cx, settings: Settings):
    """Counts, handle-time parts, hard contacts, CSAT and back-to-back contacts per agent-day."""
    prev_end = func.lag(cx.c.t1).over(partition_by=(cx.c.agent_id, cx.c.day), order_by=(cx.c.t0, cx.c.t1))
    seq = select(
        cx,
        case((cx.c.t0 - prev_end <= settings.back_to_back_seconds, 1), else_=0).label("b2b"),
    ).subquery("seq")
    s = seq.c
    return (
        select(
            s.agent_id,
            s.day,
            func.count().label("contacts"),
            _count_if(s.channel == "email").label("contacts_email"),
            _count_if(s.channel == "chat").label("contacts_chat"),
            _count_if(s.channel == "phone").label("contacts_phone"),
            _count_if(s.channel.not_in(("email", "chat", "phone"))).label("contacts_other"),
            func.sum(s.handle).label("handle_seconds"),
            func.sum(s.talk).label("talk_seconds"),
            func.sum(s.hold).label("hold_seconds"),
            func.sum(s.wrap).label("wrap_seconds"),
            func.sum(s.hard).label("hard_contacts"),
            func.coalesce(func.sum(s.csat), 0).label("csat_sum"),
            func.count(s.csat).label("csat_count"),
            func.sum(s.b2b).label("back_to_back"),
        )
        .group_by(s.agent_id, s.day)
        .subquery("ct")
    )


def _islands(rows, gap_seconds: float, name: str):
    """Merge a day's [t0, t1] spans that overlap or lie closer than ``gap_seconds`` (gaps and islands).

    Returns one row per island: agent_id, day, island number, start, end and the summed span length.
    """
    order = (rows.c.t0, rows.c.t1)
    part = (rows.c.agent_id, rows.c.day)
    reach = func.max(rows.c.t1).over(partition_by=part, order_by=order, rows=(None, -1))
    flagged = select(
        rows, case((or_(reach.is_(None), rows.c.t0 - reach >= gap_seconds), 1), else_=0).label("new")
    ).subquery(f"{name}_flag")
    f = flagged.c
    numbered = select(
        f.agent_id,
        f.day,
        f.t0,
        f.t1,
        func.sum(f.new)
        .over(partition_by=(f.agent_id, f.day), order_by=(f.t0, f.t1), rows=(None, 0))
        .label("island"),
    ).subquery(f"{name}_num")
    n = numbered.c
    return (
        select(
            n.agent_id,
            n.day,
            n.island,
            func.min(n.t0).label("s0"),
            func.max(n.t1).label("s1"),
            func.sum(n.t1 - n.t0).label("busy"),
        )
        .group_by(n.agent_id, n.day, n.island)
        .subquery(name)
    )


def _chat_concurrency(cx):
    """Time-weighted mean of open chats: summed chat time ÷ time with at least one chat open."""
    chats = select(cx.c.agent_id, cx.c.day, cx.c.t0, cx.c.t1).where(
        cx.c.channel.in_(CONCURRENT_CHANNELS), cx.c.t1 > cx.c.t0
    )
    spans = _islands(chats.subquery("chats"), 1e-9, "chat_isl")
    open_time = func.sum(spans.c.s1 - spans.c.s0)
    return (
        select(
            spans.c.agent_id,
            spans.c.day,
            case((open_time > 0, func.sum(spans.c.busy) * 1.0 / open_time)).label("chat_concurrency"),
        )
        .group_by(spans.c.agent_id, spans.c.day)
        .subquery("conc")
    )


def _statuses(scope: Scope):
    s, a = AgentStatusInterval.__table__.c, Agent.__table__.c
    where = [
        s.deleted.is_(False),
        s.ended_at > s.started_at,
        s.status.in_(ON_QUEUE + BREAKS),
        scope.agents(s.agent_id),
    ]
    if scope.window_start is not None:
        where.append(s.started_at >= scope.window_start)
    return (
        select(
            s.agent_id,
            func.ax_local_date(s.started_at, a.timezone, type_=Date).label("day"),
            s.status,
            epoch_seconds(s.started_at).label("t0"),
            epoch_seconds(s.ended_at).label("t1"),
        )
        .select_from(AgentStatusInterval.__table__.join(Agent.__table__, a.id == s.agent_id))
        .where(and_(*where))
        .cte("st")
    )


def _status_totals(st):
    on_queue = func.sum(case((st.c.status.in_(ON_QUEUE), st.c.t1 - st.c.t0), else_=0))
    breaks = func.sum(case((st.c.status.in_(BREAKS), st.c.t1 - st.c.t0), else_=0))
    return (
        select(
            st.c.agent_id,
            st.c.day,
            _seconds(on_queue).label("on_queue_seconds"),
            _seconds(breaks).label("break_seconds"),
            _seconds(on_queue + breaks).label("logged_in_seconds"),
        )
        .group_by(st.c.agent_id, st.c.day)
        .subquery("stt")
    )


def _stretches(st, settings: Settings):
    on_queue = select(st.c.agent_id, st.c.day, st.c.t0, st.c.t1).where(st.c.status.in_(ON_QUEUE))
    return _islands(on_queue.subquery("onq"), settings.break_min_minutes * 60, "stretch")


def _stretch_totals(stretch, cx):
    """Longest stretch, and the most hard contacts that started within one stretch."""
    hard_in = (
        select(stretch.c.agent_id, stretch.c.day, stretch.c.island, func.count().label("hard"))
        .select_from(
            stretch.join(
                cx,
                and_(
                    cx.c.agent_id == stretch.c.agent_id,
                    # same local day: an equi-join the planner can hash (a stretch crossing midnight
                    # counts only the contacts that started on its first day)
                    cx.c.day == stretch.c.day,
                    cx.c.t0 >= stretch.c.s0,
                    cx.c.t0 <= stretch.c.s1,
                    cx.c.hard == 1,
                ),
            )
        )
        .group_by(stretch.c.agent_id, stretch.c.day, stretch.c.island)
        .subquery("hard_in")
    )
    joined = stretch.outerjoin(
        hard_in,
        and_(
            hard_in.c.agent_id == stretch.c.agent_id,
            hard_in.c.day == stretch.c.day,
            hard_in.c.island == stretch.c.island,
        ),
    )
    return (
        select(
            stretch.c.agent_id,
            stretch.c.day,
            _seconds(func.max(stretch.c.s1 - stretch.c.s0)).label("longest_stretch_seconds"),
            func.coalesce(func.max(hard_in.c.hard), 0).label("hard_since_break_max"),
        )
        .select_from(joined)
        .group_by(stretch.c.agent_id, stretch.c.day)
        .subquery("strt")
    )


BASE_COLUMNS = (
    "agent_id",
    "day",
    "contacts",
    "contacts_email",
    "contacts_chat",
    "contacts_phone",
    "contacts_other",
    "handle_seconds",
    "talk_seconds",
    "hold_seconds",
    "wrap_seconds",
    "hard_contacts",
    "csat_sum",
    "csat_count",
    "back_to_back",
    "chat_concurrency",
    "on_queue_seconds",
    "break_seconds",
    "logged_in_seconds",
    "scheduled_seconds",
    "overtime_seconds",
    "occupancy",
    "longest_stretch_seconds",
    "hard_since_break_max",
    "consecutive_days",
    "computed_at",
)


def agent_day_select(scope: Scope, settings: Settings, computed_at: datetime) -> Select:
    """Every agent-day in ``scope`` with its per-day indicators, in :data:`BASE_COLUMNS` order."""
    cx = _contacts(scope)
    st = _statuses(scope)
    ct = _contact_totals(cx, settings)
    conc = _chat_concurrency(cx)
    stt = _status_totals(st)
    strt = _stretch_totals(_stretches(st, settings), cx)
    keys = union(select(ct.c.agent_id, ct.c.day), select(stt.c.agent_id, stt.c.day)).subquery("keys")
    a = Agent.__table__.c

    def on_key(sub):
        return and_(sub.c.agent_id == keys.c.agent_id, sub.c.day == keys.c.day)

    handle = func.coalesce(ct.c.handle_seconds, 0)
    on_queue = stt.c.on_queue_seconds
    scheduled = _seconds(a.scheduled_hours_per_day * 3600)
    occupancy = case(
        (on_queue > 0, case((handle < on_queue, handle), else_=on_queue) * 1.0 / on_queue), else_=null()
    )
    overtime = case(
        (stt.c.logged_in_seconds > scheduled, stt.c.logged_in_seconds - scheduled),
        (stt.c.logged_in_seconds.is_not(None), 0),
        else_=null(),
    )
    query = (
        select(
            keys.c.agent_id,
            keys.c.day,
            func.coalesce(ct.c.contacts, 0),
            func.coalesce(ct.c.contacts_email, 0),
            func.coalesce(ct.c.contacts_chat, 0),
            func.coalesce(ct.c.contacts_phone, 0),
            func.coalesce(ct.c.contacts_other, 0),
            handle,
            func.coalesce(ct.c.talk_seconds, 0),
            func.coalesce(ct.c.hold_seconds, 0),
            func.coalesce(ct.c.wrap_seconds, 0),
            func.coalesce(ct.c.hard_contacts, 0),
            func.coalesce(ct.c.csat_sum, 0),
            func.coalesce(ct.c.csat_count, 0),
            func.coalesce(ct.c.back_to_back, 0),
            conc.c.chat_concurrency,
            on_queue,
            stt.c.break_seconds,
            stt.c.logged_in_seconds,
            scheduled,
            overtime,
            occupancy,
            strt.c.longest_stretch_seconds,
            strt.c.hard_since_break_max,
            literal(0),
            literal(computed_at, AgentDay.__table__.c.computed_at.type),
        )
        .select_from(
            keys.join(Agent.__table__, a.id == keys.c.agent_id)
            .outerjoin(ct, on_key(ct))
            .outerjoin(conc, on_key(conc))
            .outerjoin(stt, on_key(stt))
            .outerjoin(strt, on_key(strt))
        )
        .add_cte(cx)
        .add_cte(st)
    )
    if scope.since is not None:
        query = query.where(keys.c.day >= scope.since)
    return query


def rebuild_agent_days(conn: Connection, scope: Scope, settings: Settings, computed_at: datetime) -> int:
    """Replace the agent-days in ``scope`` inside the caller's transaction; returns rows written."""
    table = AgentDay.__table__
    stale = delete(table).where(scope.agents(table.c.agent_id))
    if scope.since is not None:
        stale = stale.where(table.c.day >= scope.since)
    conn.execute(stale)
    rows = agent_day_select(scope, settings, computed_at)
    conn.execute(insert(table).from_select(list(BASE_COLUMNS), rows))
    # rowcount of INSERT … SELECT is not reported by every driver; count what the scope holds.
    written = select(func.count()).select_from(table).where(scope.agents(table.c.agent_id))
    if scope.since is not None:
        written = written.where(table.c.day >= scope.since)
    return conn.execute(written).scalar_one()


def chunks(ids: Sequence[int], size: int) -> list[tuple[int, ...]]:
    return [tuple(ids[i : i + size]) for i in range(0, len(ids), size)]

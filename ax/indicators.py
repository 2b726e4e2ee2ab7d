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
from typing import Any

from sqlalchemy import (
    Float,
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
    union_all,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from ax.settings import Settings
from db.models import Agent, AgentDay, AgentStatusInterval, Contact
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
    # FILTER, not SUM(CASE …): a third cheaper per row on SQLite; PostgreSQL has it too.
    return func.count().filter(condition)


def contact_csat(c):
    """A contact's CSAT: its own score, else the lowest of its ratings (stamped at ingest)."""
    return func.coalesce(c.csat, c.rating_score)


def hard_contact(c):
    """Whether a contact is hard (see the module docstring), given the ``contact`` table's columns.

    The one definition: the agent-day compute and the break planner (hard contacts since the
    current stretch began) both use it."""
    return or_(contact_csat(c) <= HARD_CSAT_MAX, c.sentiment <= HARD_SENTIMENT_MAX, c.escalated.is_(True))


def _contacts(scope: Scope):
    """One row per contact in scope: local day, work span in epoch seconds, hard flag, CSAT.

    Day, span and rating are stamped at ingest (``Contact.work_day``, ``work_start``,
    ``work_end``, ``rating_score``), so this reads one table through ``ix_contact_agent_work``.
    Several parts read it: PostgreSQL materializes it once; SQLite is told not to, so each part
    reads the index in (agent, day, start, end) order and its window needs no sort.
    """
    c = Contact.__table__.c
    where = [c.deleted.is_(False), c.agent_id.is_not(None), scope.agents(c.agent_id), c.work_day.is_not(None)]
    if scope.since is not None:
        where.append(c.work_day >= scope.since)
    return (
        select(
            c.agent_id,
            c.work_day,
            c.channel,
            c.work_start,
            c.work_end,
            c.handle_seconds,
            c.talk_seconds,
            c.hold_seconds,
            c.wrap_seconds,
            hard_contact(c).label("hard"),
            contact_csat(c).label("csat"),
        )
        .where(and_(*where))
        .cte("cx")
        .prefix_with("NOT MATERIALIZED")
    )


def _totals(c) -> list:
    """Counts, handle-time parts, hard contacts and CSAT, as aggregates over contact rows ``c``."""
    return [
        func.count().label("contacts"),
        _count_if(c.channel == "email").label("contacts_email"),
        _count_if(c.channel == "chat").label("contacts_chat"),
        _count_if(c.channel == "phone").label("contacts_phone"),
        _count_if(c.channel.not_in(("email", "chat", "phone"))).label("contacts_other"),
        func.sum(c.handle_seconds).label("handle_seconds"),
        func.sum(c.talk_seconds).label("talk_seconds"),
        func.sum(c.hold_seconds).label("hold_seconds"),
        func.sum(c.wrap_seconds).label("wrap_seconds"),
        _count_if(c.hard).label("hard_contacts"),
        func.sum(c.csat).label("csat_sum"),
        func.count(c.csat).label("csat_count"),
    ]


def _contact_totals(cx, settings: Settings):
    """SQLite: the totals per agent-day, grouped as they stream out of the index (no sort), each
    with its count of contacts that are not back-to-back (:func:`_not_back_to_back`)."""
    c = cx.c
    grouped = (
        select(c.agent_id, c.work_day.label("day"), *_totals(c))
        .group_by(c.agent_id, c.work_day)
        .subquery("ct")
    )
    return select(grouped, _not_back_to_back(grouped, settings).label("not_b2b")).subquery("ctb")


def _contact_day_pass(cx, settings: Settings):
    """PostgreSQL: everything per agent-day from the contacts in one ordered pass.

    One window (previous contact's end, furthest chat end so far) over the index-ordered
    contacts, grouped as they stream out: totals, contacts *not* back-to-back (see
    :func:`_not_back_to_back`) and chat concurrency (see :func:`_chat_concurrency`).
    """
    c = cx.c
    # One frame for both: LAG ignores it, and one window spec is one WindowAgg step.
    window = {
        "partition_by": (c.agent_id, c.work_day),
        "order_by": (c.work_start, c.work_end),
        "rows": (None, -1),
    }
    chat = and_(c.channel.in_(CONCURRENT_CHANNELS), c.work_end > c.work_start)
    seq = select(
        cx,
        (c.work_start - func.lag(c.work_end).over(**window)).label("gap"),
        chat.label("chat"),
        func.max(case((chat, c.work_end))).over(**window).label("reach"),
    ).subquery("seq")
    s = seq.c
    return (
        select(
            s.agent_id,
            s.work_day.label("day"),
            *_totals(s),
            _count_if(or_(s.gap.is_(None), s.gap > settings.back_to_back_seconds)).label("not_b2b"),
            _concurrency(s.work_start, s.work_end, s.reach, s.chat).label("chat_concurrency"),
        )
        .group_by(s.agent_id, s.work_day)
        .subquery("cday")
    )


def _concurrency(start, end, reach, chats=None):
    """Chat concurrency over rows in start order (``chats``: which rows are chats; all when None):
    summed chat time ÷ the time at least one chat was open, each span adding the part of it that
    lies beyond ``reach``, the furthest end of the chats before it (see :func:`_chat_concurrency`)."""
    beyond = case(
        (or_(reach.is_(None), reach <= start), end - start),
        (end > reach, end - reach),
        else_=0,
    )
    chat_time, open_time = func.sum(end - start), func.sum(beyond)
    if chats is not None:
        chat_time, open_time = chat_time.filter(chats), open_time.filter(chats)
    return chat_time * 1.0 / open_time


def _not_back_to_back(day, settings: Settings):
    """SQLite: for the agent-day of row ``day`` (agent_id, day), its contacts that do *not* start
    within the back-to-back gap of the previous one's end (in start, end order), or are the
    day's first. Back-to-back = contacts − these.

    A correlated subquery, once per agent-day: a window over that day's contacts, read in index
    order. One window over every contact in scope instead had to be sorted again to be grouped,
    which cost more than the window itself. It reads ``contact`` itself, not the scope's CTE: the
    agent and day pin the rows down, and the scope's list of agents would be looked at per call.
    """
    o = Contact.__table__.alias("own").c
    gap = (o.work_start - func.lag(o.work_end).over(order_by=(o.work_start, o.work_end))).label("gap")
    seq = (
        select(gap)
        .where(o.agent_id == day.c.agent_id, o.work_day == day.c.day, o.deleted.is_(False))
        .correlate(day)
        .subquery("seq")
    )
    return (
        select(func.count())
        .select_from(seq)
        .where(or_(seq.c.gap.is_(None), seq.c.gap > settings.back_to_back_seconds))
        .correlate(day)
        .scalar_subquery()
    )


def _chat_concurrency(cx):
    """Time-weighted mean of open chats: summed chat time ÷ time with at least one chat open.

    The time with a chat open is the length of the union of the day's chat spans; a sweep in
    start order gets it without building islands: each span adds the part of it beyond the
    furthest end of the spans before it.
    """
    c = cx.c
    reach = func.max(c.work_end).over(
        partition_by=(c.agent_id, c.work_day), order_by=(c.work_start, c.work_end), rows=(None, -1)
    )
    swept = (
        select(c.agent_id, c.work_day, c.work_start, c.work_end, reach.label("reach"))
        .where(c.channel.in_(CONCURRENT_CHANNELS), c.work_end > c.work_start)
        .subquery("chats")
    )
    s = swept.c
    return (
        select(
            s.agent_id,
            s.work_day.label("day"),
            _concurrency(s.work_start, s.work_end, s.reach).label("chat_concurrency"),
        )
        .group_by(s.agent_id, s.work_day)
        .subquery("conc")
    )


def _islands(rows, gap_seconds: float, name: str):
    """Merge a day's [t0, t1] spans that overlap or lie closer than ``gap_seconds`` (gaps and islands).

    Returns one row per island: agent_id, day, island number, start, end and the summed span length,
    as a CTE: the caller reads it twice, and it is worked out once.
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
        .cte(name)
    )


def _statuses(scope: Scope):
    """On-queue and break intervals in scope, on the agent's local day stamped at ingest."""
    s = AgentStatusInterval.__table__.c
    where = [
        s.deleted.is_(False),
        s.ended_at > s.started_at,
        s.status.in_(ON_QUEUE + BREAKS),
        scope.agents(s.agent_id),
        s.work_day.is_not(None),
    ]
    if scope.since is not None:
        where.append(s.work_day >= scope.since)
    return (
        select(
            s.agent_id,
            s.work_day.label("day"),
            s.status,
            epoch_seconds(s.started_at).label("t0"),
            epoch_seconds(s.ended_at).label("t1"),
        )
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
    """Longest stretch, and the most hard contacts that started within one stretch.

    Each stretch counts the hard contacts of its agent that started within [s0, s1] on the
    stretch's (first) local day: an equi-join on (agent, day), which PostgreSQL hashes and SQLite
    answers from ``ix_contact_agent_work`` as a range of work starts, then the range test.
    """
    s, c = stretch.c, cx.c
    hard_in = (
        select(s.agent_id, s.day, s.island, func.count().label("hard"))
        .select_from(
            stretch.join(
                cx,
                and_(
                    c.agent_id == s.agent_id,
                    c.work_day == s.day,
                    c.work_start >= s.s0,
                    c.work_start <= s.s1,
                    c.hard,
                ),
            )
        )
        .group_by(s.agent_id, s.day, s.island)
        .subquery("hard_in")
    )
    joined = stretch.outerjoin(
        hard_in,
        and_(hard_in.c.agent_id == s.agent_id, hard_in.c.day == s.day, hard_in.c.island == s.island),
    )
    return (
        select(
            s.agent_id,
            s.day,
            _seconds(func.max(s.s1 - s.s0)).label("longest_stretch_seconds"),
            func.coalesce(func.max(hard_in.c.hard), 0).label("hard_since_break_max"),
        )
        .select_from(joined)
        .group_by(s.agent_id, s.day)
        .subquery("strt")
    )


# The per-day contact totals (see _totals), kept under the same names in agent_day.
TOTAL_COLUMNS = (
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
)
# Status-interval totals, also kept as they are.
STATUS_COLUMNS = ("on_queue_seconds", "break_seconds", "logged_in_seconds")

# What agent_day_select returns, in order: the columns rebuild_agent_days inserts.
BASE_COLUMNS = (
    "agent_id",
    "day",
    *TOTAL_COLUMNS,
    "back_to_back",
    "chat_concurrency",
    *STATUS_COLUMNS,
    "scheduled_seconds",
    "overtime_seconds",
    "occupancy",
    "longest_stretch_seconds",
    "hard_since_break_max",
    "consecutive_days",
    "computed_at",
)


# Every per-day column the parts of agent_day_select provide (each part some of them).
_PART_COLUMNS = (
    *TOTAL_COLUMNS,
    "not_b2b",
    "chat_concurrency",
    *STATUS_COLUMNS,
    "longest_stretch_seconds",
    "hard_since_break_max",
)


def _stacked(parts: list[Any]):
    """The per-day parts as one row per agent-day.

    Each part is stacked (UNION ALL, the other parts' columns NULL) and grouped once, instead of
    a union of keys outer-joined to each part: that form read every part twice. Every agent-day
    has contacts or status intervals, and every one with a stretch, back-to-back or chat row also
    has one of those, so the keys are the same. An agent-day has at most one row per part, so
    MAX just picks it.
    """

    def value(sub, name: str):
        if name in sub.c:
            return sub.c[name]
        return cast(null(), Float if name == "chat_concurrency" else Integer)

    stack = union_all(
        *(
            select(sub.c.agent_id, sub.c.day, *(value(sub, n).label(n) for n in _PART_COLUMNS))
            for sub in parts
        )
    ).subquery("stack")
    return (
        select(stack.c.agent_id, stack.c.day, *(func.max(stack.c[n]).label(n) for n in _PART_COLUMNS))
        .group_by(stack.c.agent_id, stack.c.day)
        .subquery("parts")
    )


def _contact_parts(cx, settings: Settings, dialect: str) -> list[Any]:
    """The per-day parts from contacts, in the shape each back end runs fastest.

    PostgreSQL windows and groups cheaply in one pass. SQLite has to sort again to group what
    leaves a window, so it groups the totals straight off the index, runs the back-to-back window
    per agent-day (nothing to sort), and only the chats go through one window in scope.
    """
    if dialect == "postgresql":
        return [_contact_day_pass(cx, settings)]
    return [_contact_totals(cx, settings), _chat_concurrency(cx)]


def agent_day_select(
    scope: Scope, settings: Settings, computed_at: datetime, dialect: str = "postgresql"
) -> Select:
    """Every agent-day in ``scope`` with its per-day indicators, in :data:`BASE_COLUMNS` order."""
    cx = _contacts(scope)
    st = _statuses(scope)
    parts = _stacked(
        [
            *_contact_parts(cx, settings, dialect),
            _status_totals(st),
            _stretch_totals(_stretches(st, settings), cx),
        ]
    )
    p = parts.c
    a = Agent.__table__.c

    totals = {name: func.coalesce(p[name], 0) for name in TOTAL_COLUMNS}  # no contacts: zeros
    contacts, handle = totals["contacts"], totals["handle_seconds"]
    on_queue = p.on_queue_seconds
    scheduled = _seconds(a.scheduled_hours_per_day * 3600)
    occupancy = case(
        (on_queue > 0, case((handle < on_queue, handle), else_=on_queue) * 1.0 / on_queue), else_=null()
    )
    overtime = case(
        (p.logged_in_seconds > scheduled, p.logged_in_seconds - scheduled),
        (p.logged_in_seconds.is_not(None), 0),
        else_=null(),
    )
    return (
        select(
            p.agent_id,
            p.day,
            *(totals[name] for name in TOTAL_COLUMNS),
            contacts - func.coalesce(p.not_b2b, 0),
            p.chat_concurrency,
            on_queue,
            p.break_seconds,
            p.logged_in_seconds,
            scheduled,
            overtime,
            occupancy,
            p.longest_stretch_seconds,
            p.hard_since_break_max,
            literal(0),
            literal(computed_at, AgentDay.__table__.c.computed_at.type),
        )
        .select_from(parts.join(Agent.__table__, a.id == p.agent_id))
        .add_cte(cx)
        .add_cte(st)
    )


def rebuild_agent_days(conn: Connection, scope: Scope, settings: Settings, computed_at: datetime) -> int:
    """Replace the agent-days in ``scope`` inside the caller's transaction; returns rows written."""
    table = AgentDay.__table__
    stale = delete(table).where(scope.agents(table.c.agent_id))
    if scope.since is not None:
        stale = stale.where(table.c.day >= scope.since)
    conn.execute(stale)
    rows = agent_day_select(scope, settings, computed_at, conn.dialect.name)
    conn.execute(insert(table).from_select(list(BASE_COLUMNS), rows))
    # rowcount of INSERT … SELECT is not reported by every driver; count what the scope holds.
    written = select(func.count()).select_from(table).where(scope.agents(table.c.agent_id))
    if scope.since is not None:
        written = written.where(table.c.day >= scope.since)
    return conn.execute(written).scalar_one()


def chunks(ids: Sequence[int], size: int) -> list[tuple[int, ...]]:
    return [tuple(ids[i : i + size]) for i in range(0, len(ids), size)]

"""Per team per day roll-ups (``team_day``): members' agent-days, queue load, service level, staffing.

Everything except the Erlang C staffing number is one ``INSERT … SELECT`` built with SQLAlchemy
Core, so it runs unchanged on SQLite and PostgreSQL; Python then runs ``required_agents`` once per
team-day that had live contacts and writes the answers back with one ``executemany`` UPDATE.

Which day
    Workload columns roll up ``agent_day`` rows, whose day is each agent's *local* day. Teams have
    no timezone, so contacts and queue snapshots are placed on days of the org timezone
    (``AX_TIMEZONE``). Python works out the zone's UTC offsets (and the instants they change) for
    the span the data covers, and SQL shifts each timestamp by the offset in force and takes its
    date (:class:`shifted_date`): plain date arithmetic on both back ends, no per-row function
    call into Python on SQLite.

Which hour (for the peak hour)
    There is no ``ax_local_hour`` function, and none is added. Hour ``h`` of a local day ``D`` is
    the span ``[local midnight of D + h hours, + 1 hour)``, and its bucket number is
    ``(epoch(ts) + offset(D)) // 3600``, where ``offset(D)`` is the zone's UTC offset at local
    midnight of ``D``. Python works the offsets out with :mod:`zoneinfo` for the days the data
    covers and hands SQL a ``CASE`` over date ranges (a constant for zones without DST), and
    ``epoch`` is a two-dialect expression (:class:`epoch_seconds`). So buckets follow local
    hours, half-hour zones included, and every bucket lasts exactly 3600 s, which is what the
    Erlang interval assumes; on a DST change day the buckets after the change are counted from
    midnight (a 23- or 25-bucket day) rather than by wall-clock label.

    Contacts are many, so they are not dated and bucketed one by one: they are first grouped by
    UTC slot (an hour, or for zones like India's a shorter slot that never straddles a local hour
    or an offset change: :func:`_slot_seconds`) off a cheap key, then each slot's start is dated
    and bucketed as above. Snapshots, far fewer, are dated one by one.

Live channels
    Phone, chat and messaging: contacts that wait in a queue for an agent. Email, social and
    other are worked from a backlog and count neither for service level nor for staffing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    Float,
    FromClause,
    Integer,
    Select,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union,
    union_all,
)
from sqlalchemy.engine import Connection

from ax.erlang import required_agents
from ax.settings import Settings, get_settings
from db.models import (
    AgentDay,
    AgentStatusInterval,
    Contact,
    QueueSnapshot,
    Team,
    TeamDay,
    TeamMembership,
)
from db.sqlfuncs import (
    epoch_date,
    epoch_seconds,
    from_epoch,
    hour_key_epoch,
    seconds_between,
    shifted_date,
    utc_hour_key,
    utc_minute,
)
from db.types import UTCDateTime, utcnow

LIVE_CHANNELS = ("phone", "chat", "messaging")
ON_QUEUE_STATUSES = ("online", "available", "busy")
HOUR_SECONDS = 3600
DAY_SECONDS = 86400
# A local day starts at the earliest 14 h before UTC midnight of the same date (UTC+14).
MAX_AHEAD = timedelta(hours=14)


# --- local hours ---------------------------------------------------------------------------------


def midnight_offset(zone: ZoneInfo, day: date) -> int:
    """UTC offset in seconds at the first instant of local ``day`` (fold=0: the earlier one)."""
    offset = datetime.combine(day, time(), zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def offset_runs(zone: ZoneInfo, first: date, last: date) -> list[tuple[date, int]]:
    """``(first day, offset)`` of each run of days sharing one midnight offset, oldest first."""
    runs = [(first, midnight_offset(zone, first))]
    day = first + timedelta(days=1)
    while day <= last:
        offset = midnight_offset(zone, day)
        if offset != runs[-1][1]:
            runs.append((day, offset))
        day += timedelta(days=1)
    return runs


def _offset_of_day(day: ColumnElement, runs: list[tuple[date, int]]) -> ColumnElement[int]:
    """SQL for the midnight offset of a local-date column; days outside the runs take the nearest."""
    if len(runs) == 1:
        return literal(runs[0][1], Integer)
    whens = [
        (day < literal(start, Date), literal(prev, Integer))
        for (start, _), (_, prev) in zip(runs[1:], runs, strict=False)
    ]
    return case(*whens, else_=literal(runs[-1][1], Integer))


def _hour_bucket(ts: ColumnElement, day: ColumnElement, runs: list[tuple[date, int]]) -> ColumnElement[int]:
    """Absolute local-hour number of ``ts`` on its local ``day`` (see the module docstring)."""
    return (epoch_seconds(ts) + _offset_of_day(day, runs)) // HOUR_SECONDS


def _offset_at_second(zone: ZoneInfo, epoch: int) -> int:
    offset = datetime.fromtimestamp(epoch, UTC).astimezone(zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def offset_changes(zone: ZoneInfo, first: date, last: date) -> list[tuple[datetime | None, int]]:
    """The zone's UTC offset from a day before ``first`` to two days after ``last``: ``(from,
    offset)`` pairs, oldest first, ``from`` the UTC instant it takes effect (None for the first).

    Days are checked at UTC midnight; where the offset differs from the day before, the second
    it changed is found by bisection (zones change their offset at most once a day)."""
    day = datetime.combine(first - timedelta(days=1), time(), UTC)
    end = datetime.combine(last + timedelta(days=2), time(), UTC)
    lo = int(day.timestamp())
    changes: list[tuple[datetime | None, int]] = [(None, _offset_at_second(zone, lo))]
    while day < end:
        day += timedelta(days=1)
        hi = int(day.timestamp())
        if _offset_at_second(zone, hi) != changes[-1][1]:
            a, b = lo, hi  # offset(a) is the old one, offset(b) the new one
            while b - a > 1:
                mid = (a + b) // 2
                a, b = (mid, b) if _offset_at_second(zone, mid) == changes[-1][1] else (a, mid)
            changes.append((datetime.fromtimestamp(b, UTC), _offset_at_second(zone, b)))
        lo = hi
    return changes


def _offset_at(
    ts: ColumnElement, changes: list[tuple[datetime | None, int]], *, epoch: bool = False
) -> ColumnElement[int]:
    """SQL for the UTC offset in force at timestamp column ``ts`` (epoch seconds with ``epoch``)."""
    if len(changes) == 1:
        return literal(changes[0][1], Integer)

    def bound(start: datetime) -> ColumnElement:
        return literal(int(start.timestamp()), BigInteger) if epoch else literal(start, UTCDateTime())

    whens = [
        (ts < bound(start), literal(prev, Integer))
        for (start, _), (_, prev) in zip(changes[1:], changes, strict=False)
    ]
    return case(*whens, else_=literal(changes[-1][1], Integer))


def _slot_seconds(runs: list[tuple[date, int]], changes: list[tuple[datetime | None, int]]) -> int:
    """The longest UTC slot (an hour, or a whole number of minutes dividing it) that never
    straddles a local hour or day boundary or an offset change: every contact of a slot then has
    the slot start's local day and hour, so contacts can be grouped by slot first and the slots
    placed after. An hour for zones on whole-hour offsets; a quarter for India or Nepal."""
    seconds = HOUR_SECONDS
    for _, offset in runs:
        seconds = math.gcd(seconds, offset)
    for start, offset in changes:
        seconds = math.gcd(seconds, offset)
        if start is not None:
            seconds = math.gcd(seconds, int(start.timestamp()))
    # Offsets with seconds in them (local mean time, before 1900) would need finer slots than
    # a minute; a minute is as fine as slots go.
    return max(60, seconds - seconds % 60)


def _local_day(ts: ColumnElement, changes: list[tuple[datetime | None, int]]) -> ColumnElement[date]:
    """The org-local date of timestamp column ``ts``."""
    return shifted_date(ts, _offset_at(ts, changes))


def _data_days(conn: Connection, since: date | None) -> tuple[date, date] | None:
    """First (``since`` when given) and last UTC date of contacts and snapshots, one day of margin.

    Each bound is a MIN or MAX of one indexed column, which both back ends read off the index
    (a filter, say on the channel, would make them scan the table)."""
    c = Contact.__table__.c
    s = QueueSnapshot.__table__.c

    def bound(agg, column) -> ColumnElement:
        return select(agg(column)).scalar_subquery()

    columns = [bound(func.max, c.created_at), bound(func.max, s.at)]
    if since is None:
        columns += [bound(func.min, c.created_at), bound(func.min, s.at)]
    found = conn.execute(select(*columns)).one()
    highs = [v for v in found[:2] if v is not None]
    if not highs:
        return None
    first = since if since is not None else min(v for v in found[2:] if v is not None).date()
    return first - timedelta(days=1), max(highs).date() + timedelta(days=1)


# --- the roll-up ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Parts:
    """The subqueries the roll-up joins, each keyed on (team_id, day) and limited to the window."""

    workload: FromClause
    service: FromClause
    queue: FromClause
    peak: FromClause
    snap_peak: FromClause
    status_peak: FromClause


def _parts(
    since: date | None,
    settings: Settings,
    runs: list[tuple[date, int]],
    changes: list[tuple[datetime | None, int]],
    longest_status: int,
) -> _Parts:
    """Build the pieces once, so the roll-up and the staffing query read the same peak hours."""
    team = Team.__table__.c
    tm = TeamMembership.__table__.c
    ad = AgentDay.__table__.c
    c = Contact.__table__.c
    s = QueueSnapshot.__table__.c
    si = AgentStatusInterval.__table__.c
    window_utc = None if since is None else datetime.combine(since, time(), UTC) - MAX_AHEAD

    # One row per (team, agent), however many membership rows say so.
    members = (
        select(tm.team_id, tm.agent_id)
        .join(Team.__table__, team.id == tm.team_id)
        .where(tm.deleted.is_(False), team.deleted.is_(False))
        .distinct()
        .cte("members")
    )

    # An agent's handling time behind their occupancy (occupancy × on-queue, so concurrent chats
    # count once); without an occupancy, handle time capped at the on-queue time.
    on_queue = cast(ad.on_queue_seconds, Float)
    handling = case(
        (ad.occupancy.is_not(None), ad.occupancy * on_queue),
        (ad.handle_seconds > ad.on_queue_seconds, on_queue),
        else_=cast(ad.handle_seconds, Float),
    )
    queued = ad.on_queue_seconds > 0
    workload_where = [] if since is None else [ad.day >= since]
    workload = (
        select(
            members.c.team_id,
            ad.day,
            func.count().label("agents"),
            func.sum(ad.contacts).label("contacts"),
            func.sum(ad.handle_seconds).label("handle_seconds"),
            func.sum(ad.on_queue_seconds).label("on_queue_seconds"),
            func.sum(case((queued, handling))).label("handling"),
            func.sum(case((queued, ad.on_queue_seconds))).label("queue_time"),
            func.sum(ad.logged_in_seconds).label("logged_in_seconds"),
            func.sum(ad.overtime_seconds).label("overtime_seconds"),
            func.sum(ad.hard_contacts).label("hard_contacts"),
            func.sum(ad.back_to_back).label("back_to_back"),
            func.sum(case((ad.occupancy > settings.occupancy_alert, 1), else_=0)).label("over"),
            func.avg(ad.chat_concurrency).label("chat_concurrency"),
        )
        .select_from(members.join(AgentDay.__table__, ad.agent_id == members.c.agent_id))
        .where(*workload_where)
        .group_by(members.c.team_id, ad.day)
        .cte("workload")
    )

    # Per local hour: arrivals, handle sums for staffing, and answered contacts (an agent or a
    # first response, and a known wait to judge the service level by), within the target or not.
    # Two steps (see _slot_seconds): live contacts grouped by UTC slot, with no date arithmetic
    # per contact, then the few slots placed on their org-local day and hour and grouped again.
    contact_where = [c.deleted.is_(False), c.team_id.is_not(None), c.channel.in_(LIVE_CHANNELS)]
    if window_utc is not None:
        contact_where.append(c.created_at >= window_utc)
    answered = and_(
        c.wait_seconds.is_not(None),
        or_(c.agent_id.is_not(None), c.first_response_at.is_not(None)),
    )
    within = and_(answered, c.wait_seconds <= settings.service_level_seconds)
    is_chat = c.channel == "chat"
    timed = c.handle_seconds.is_not(None)
    slot_seconds = _slot_seconds(runs, changes)
    slot_keys = [utc_hour_key(c.created_at).label("hour_key")]
    if slot_seconds < HOUR_SECONDS:
        slot_keys.append((utc_minute(c.created_at) // (slot_seconds // 60)).label("slot"))
    by_slot = (
        select(
            c.team_id,
            *slot_keys,
            func.count().label("arrivals"),
            func.count().filter(answered).label("answered"),
            func.count().filter(within).label("within"),
            func.count().filter(and_(timed, ~is_chat)).label("timed"),
            func.sum(c.handle_seconds).filter(and_(timed, ~is_chat)).label("handle"),
            func.count().filter(and_(timed, is_chat)).label("chat_timed"),
            func.sum(c.handle_seconds).filter(and_(timed, is_chat)).label("chat_handle"),
        )
        .where(*contact_where)
        # slot first: the contacts come off ix_contact_arrival in created_at order, nearly sorted
        # for SQLite's sort-based grouping (a few per cent less than team first)
        .group_by(*slot_keys, c.team_id)
        .subquery("by_slot")
    )
    b = by_slot.c
    slot_start = hour_key_epoch(b.hour_key)
    if slot_seconds < HOUR_SECONDS:
        slot_start = slot_start + b.slot * slot_seconds
    # Live teams only, checked per slot rather than per contact.
    placed = (
        select(b, slot_start.label("at"))
        .join(Team.__table__, team.id == b.team_id)
        .where(team.deleted.is_(False))
        .subquery("placed")
    )
    local_day = epoch_date(placed.c.at + _offset_at(placed.c.at, changes, epoch=True))
    slots = select(
        placed,
        local_day.label("day"),
        ((placed.c.at + _offset_of_day(local_day, runs)) // HOUR_SECONDS).label("hour"),
    ).subquery("slots")
    sl = slots.c
    live_where = [] if since is None else [sl.day >= since]
    hourly = (
        select(
            sl.team_id,
            sl.day,
            sl.hour,
            *(
                cast(func.coalesce(func.sum(sl[name]), 0), BigInteger).label(name)
                for name in ("arrivals", "answered", "within", "timed", "handle", "chat_timed", "chat_handle")
            ),
        )
        .where(*live_where)
        .group_by(sl.team_id, sl.day, sl.hour)
        .cte("hourly")
    )
    service = (
        select(
            hourly.c.team_id,
            hourly.c.day,
            cast(func.sum(hourly.c.answered), Integer).label("answered"),
            cast(func.sum(hourly.c.within), Integer).label("within"),
        )
        .group_by(hourly.c.team_id, hourly.c.day)
        .cte("service")
    )

    # The busiest hour wins, the earliest on a tie.
    ranked = select(
        *(col for col in hourly.c if col.name not in ("answered", "within")),
        func.row_number()
        .over(
            partition_by=(hourly.c.team_id, hourly.c.day), order_by=(hourly.c.arrivals.desc(), hourly.c.hour)
        )
        .label("rank"),
    ).subquery("ranked")
    hour_start = ranked.c.hour * HOUR_SECONDS - _offset_of_day(ranked.c.day, runs)
    peak = (
        select(*(col for col in ranked.c if col.name != "rank"), hour_start.label("hour_start"))
        .where(ranked.c.rank == 1)
        .cte("peak")
    )

    # Queue snapshots of live teams, with the same day and hour buckets as the contacts.
    snap_day = _local_day(s.at, changes)
    snap_where = [s.deleted.is_(False), s.team_id.is_not(None), team.deleted.is_(False)]
    if window_utc is not None:
        snap_where.append(s.at >= window_utc)
    snap_dated = (
        select(
            s.team_id,
            snap_day.label("day"),
            s.at,
            s.waiting,
            s.longest_wait_seconds,
            s.agents_online,
        )
        .join(Team.__table__, team.id == s.team_id)
        .where(*snap_where)
        .subquery("snap_dated")
    )
    snaps = (
        select(
            *(col for col in snap_dated.c if col.name != "at"),
            _hour_bucket(snap_dated.c.at, snap_dated.c.day, runs).label("hour"),
        )
        .where(*([] if since is None else [snap_dated.c.day >= since]))
        .cte("snaps")
    )
    queue = (
        select(
            snaps.c.team_id,
            snaps.c.day,
            func.avg(cast(snaps.c.waiting, Float)).label("waiting_avg"),
            func.max(snaps.c.waiting).label("waiting_max"),
            func.max(snaps.c.longest_wait_seconds).label("longest_wait_seconds"),
        )
        .group_by(snaps.c.team_id, snaps.c.day)
        .cte("queue")
    )
    snap_peak = (
        select(peak.c.team_id, peak.c.day, func.max(snaps.c.agents_online).label("online"))
        .select_from(
            peak.join(
                snaps,
                and_(
                    snaps.c.team_id == peak.c.team_id,
                    snaps.c.day == peak.c.day,
                    snaps.c.hour == peak.c.hour,
                ),
            )
        )
        .group_by(peak.c.team_id, peak.c.day)
        .subquery("snap_peak")
    )

    # Without snapshots: members on the queue (online, available, busy) at some point of the hour.
    # An interval lasts at most ``longest_status`` seconds, so one that overlaps the hour started
    # between that long before the hour and its end: on one of a few UTC days (``steps`` of them
    # from the first). Joining on (agent, UTC day the interval started) lets PostgreSQL hash the
    # intervals and SQLite look them up through (agent_id, started_at), instead of testing every
    # interval of every member against every peak hour; the exact conditions still decide.
    earliest = peak.c.hour_start - longest_status
    steps = union_all(
        *(select(literal(j, Integer).label("j")) for j in range(longest_status // DAY_SECONDS + 2))
    ).subquery("steps")
    start_day = (earliest // DAY_SECONDS + steps.c.j).label("start_day")
    candidates = (
        select(peak.c.team_id, peak.c.day, peak.c.hour_start, members.c.agent_id, start_day)
        .select_from(peak.join(members, members.c.team_id == peak.c.team_id).join(steps, literal(True)))
        .where(earliest // DAY_SECONDS + steps.c.j <= (peak.c.hour_start + HOUR_SECONDS - 1) // DAY_SECONDS)
        .subquery("candidates")
    )
    k = candidates.c
    status_on = [si.deleted.is_(False), si.status.in_(ON_QUEUE_STATUSES)]
    if window_utc is not None:
        status_on.append(si.ended_at > window_utc)
    status_peak = (
        select(k.team_id, k.day, func.count(si.agent_id.distinct()).label("online"))
        .select_from(
            candidates.join(
                AgentStatusInterval.__table__,
                and_(
                    si.agent_id == k.agent_id,
                    epoch_seconds(si.started_at) // DAY_SECONDS == k.start_day,
                    si.started_at >= from_epoch(k.hour_start - longest_status),
                    si.started_at < from_epoch(k.hour_start + HOUR_SECONDS),
                    epoch_seconds(si.started_at) < k.hour_start + HOUR_SECONDS,
                    epoch_seconds(si.ended_at) > k.hour_start,
                    *status_on,
                ),
            )
        )
        .group_by(k.team_id, k.day)
        .subquery("status_peak")
    )
    return _Parts(workload, service, queue, peak, snap_peak, status_peak)


def longest_on_queue(
    conn: Connection, *, synced_after: datetime | None = None, known: int | None = None
) -> int:
    """An upper bound, in whole seconds, on how long one on-queue status interval lasts.

    With ``known`` (the bound of an earlier run) and ``synced_after`` (when that run read), only
    the intervals synced since are measured, off ``ix_status_synced_work``, instead of every
    interval ever stored. The bound may stay above the truth (a long interval deleted since): it
    only widens the search for who was on the queue, never changes who was.
    """
    si = AgentStatusInterval.__table__.c
    where = [si.deleted.is_(False), si.status.in_(ON_QUEUE_STATUSES)]
    if known is None or synced_after is None:
        known = 0  # no earlier bound to raise: every interval is measured
    else:
        where.append(si.synced_at > synced_after)
    duration = func.max(seconds_between(si.started_at, si.ended_at))
    longest = conn.execute(select(duration).where(*where)).scalar()
    return max(known, max(0, math.ceil(longest or 0)) + 1)


def _on(left: FromClause, right: FromClause) -> ColumnElement[bool]:
    return and_(left.c.team_id == right.c.team_id, left.c.day == right.c.day)


TEAM_DAY_COLUMNS = [
    "team_id",
    "day",
    "agents",
    "contacts",
    "handle_seconds",
    "on_queue_seconds",
    "occupancy",
    "logged_in_seconds",
    "overtime_seconds",
    "hard_contacts",
    "back_to_back",
    "agents_over_occupancy",
    "waiting_avg",
    "waiting_max",
    "longest_wait_seconds",
    "service_level",
    "answered",
    "peak_hour_contacts",
    "agents_staffed",
    "computed_at",
]


def _team_day_select(p: _Parts) -> Select:
    """One row per team-day with any member agent-day, live contact or snapshot in the window:
    the :data:`TEAM_DAY_COLUMNS` but ``computed_at``, then what staffing needs of the peak hour
    (arrivals, handle sums by chat or not, the team's chat concurrency).

    One statement: the live contacts are read, dated and bucketed once for everything."""
    keys = union(
        select(p.workload.c.team_id, p.workload.c.day),
        select(p.service.c.team_id, p.service.c.day),
        select(p.queue.c.team_id, p.queue.c.day),
    ).subquery("keys")
    w, sv, q, pk = p.workload, p.service, p.queue, p.peak
    ratio = cast(w.c.handling, Float) / cast(w.c.queue_time, Float)
    occupancy = case((w.c.queue_time > 0, case((ratio > 1, literal(1.0, Float)), else_=ratio)))
    service_level = case((sv.c.answered > 0, cast(sv.c.within, Float) / cast(sv.c.answered, Float)))
    zero = literal(0, Integer)
    return select(
        keys.c.team_id,
        keys.c.day,
        func.coalesce(w.c.agents, zero).label("agents"),
        func.coalesce(w.c.contacts, zero).label("contacts"),
        func.coalesce(w.c.handle_seconds, zero).label("handle_seconds"),
        w.c.on_queue_seconds,
        occupancy.label("occupancy"),
        w.c.logged_in_seconds,
        w.c.overtime_seconds,
        func.coalesce(w.c.hard_contacts, zero).label("hard_contacts"),
        func.coalesce(w.c.back_to_back, zero).label("back_to_back"),
        func.coalesce(w.c.over, zero).label("agents_over_occupancy"),
        q.c.waiting_avg,
        q.c.waiting_max,
        q.c.longest_wait_seconds,
        service_level.label("service_level"),
        func.coalesce(sv.c.answered, zero).label("answered"),
        func.coalesce(pk.c.arrivals, zero).label("peak_hour_contacts"),
        func.coalesce(p.snap_peak.c.online, p.status_peak.c.online).label("agents_staffed"),
        pk.c.arrivals,
        pk.c.timed,
        pk.c.handle,
        pk.c.chat_timed,
        pk.c.chat_handle,
        w.c.chat_concurrency,
    ).select_from(
        keys.outerjoin(w, _on(keys, w))
        .outerjoin(sv, _on(keys, sv))
        .outerjoin(q, _on(keys, q))
        .outerjoin(pk, _on(keys, pk))
        .outerjoin(p.snap_peak, _on(keys, p.snap_peak))
        .outerjoin(p.status_peak, _on(keys, p.status_peak))
    )


def _agents_needed(row: Any, settings: Settings) -> int | None:
    """Erlang C for the peak hour of one row of :func:`_team_day_select` (None: nothing to go on)."""
    if row.arrivals is None:
        return None
    aht = peak_aht(row.handle, row.timed, row.chat_handle, row.chat_timed, row.chat_concurrency)
    if aht is None:
        return None
    return required_agents(
        arrivals=row.arrivals,
        interval_seconds=HOUR_SECONDS,
        aht=aht,
        target_seconds=settings.service_level_seconds,
        service_level_goal=settings.service_level_target,
        max_occupancy=settings.max_occupancy,
    ).agents


def peak_aht(
    handle: float, timed: int, chat_handle: float, chat_timed: int, chat_concurrency: float | None
) -> float | None:
    """Mean handle seconds of the peak hour's timed contacts, chats divided by the concurrency run.

    An agent running two chats at once gives each half their attention, so a chat takes half an
    agent's time (indicators.md, "Queue and staffing"); a mean below one chat is not a discount.
    """
    if timed + chat_timed == 0:
        return None
    concurrency = max(1.0, chat_concurrency) if chat_concurrency is not None else 1.0
    aht = (handle + chat_handle / concurrency) / (timed + chat_timed)
    return aht if aht > 0 else None


def compute_team_days(
    conn: Connection,
    *,
    since: date | None,
    settings: Settings | None = None,
    longest_status: int | None = None,
) -> int:
    """Rebuild ``team_day`` from ``since`` (every day when None) inside the caller's transaction.

    Rows before ``since`` are kept. ``longest_status`` is :func:`longest_on_queue` when the caller
    keeps it (measured here otherwise). Returns the number of rows the window now holds.
    """
    settings = settings or get_settings()
    zone = ZoneInfo(settings.timezone)
    table = TeamDay.__table__
    computed_at = utcnow()

    conn.execute(delete(table).where(*([] if since is None else [table.c.day >= since])))
    span = _data_days(conn, since)
    if span is None:
        anchor = since or computed_at.date()
        span = (anchor, anchor)
    runs = offset_runs(zone, *span)
    changes = offset_changes(zone, *span)
    rows = []
    if longest_status is None:
        longest_status = longest_on_queue(conn)
    parts = _parts(since, settings, runs, changes, longest_status)
    for row in conn.execute(_team_day_select(parts)):
        values = {name: getattr(row, name) for name in TEAM_DAY_COLUMNS if name != "computed_at"}
        rows.append({**values, "agents_needed": _agents_needed(row, settings), "computed_at": computed_at})
    if rows:
        conn.execute(insert(table), rows)
    return len(rows)

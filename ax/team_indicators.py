"""Per team per day roll-ups (``team_day``): members' agent-days, queue load, service level, staffing.

Everything except the Erlang C staffing number is one ``INSERT … SELECT`` built with SQLAlchemy
Core, so it runs unchanged on SQLite and PostgreSQL; Python then runs ``required_agents`` once per
team-day that had live contacts and writes the answers back with one ``executemany`` UPDATE.

Which day
    Workload columns roll up ``agent_day`` rows, whose day is each agent's *local* day. Teams have
    no timezone, so contacts and queue snapshots are placed on days of the org timezone
    (``AX_TIMEZONE``) through ``ax_local_date(ts, tz)``, the function both back ends provide.

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

Live channels
    Phone, chat and messaging: contacts that wait in a queue for an agent. Email, social and
    other are worked from a backlog and count neither for service level nor for staffing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Date,
    Float,
    FromClause,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union,
    update,
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
from db.sqlfuncs import epoch_seconds
from db.types import utcnow

LIVE_CHANNELS = ("phone", "chat", "messaging")
ON_QUEUE_STATUSES = ("online", "available", "busy")
HOUR_SECONDS = 3600
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


def _data_days(conn: Connection, since: date | None) -> tuple[date, date] | None:
    """First and last UTC date of live contacts and snapshots in the window, one day of margin."""
    c = Contact.__table__.c
    s = QueueSnapshot.__table__.c
    bounds = conn.execute(
        select(func.min(c.created_at), func.max(c.created_at)).where(c.channel.in_(LIVE_CHANNELS))
    ).one()
    snap = conn.execute(select(func.min(s.at), func.max(s.at))).one()
    lows = [v for v in (bounds[0], snap[0]) if v is not None]
    highs = [v for v in (bounds[1], snap[1]) if v is not None]
    if not highs:
        return None
    first = since if since is not None else min(lows).date()
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


def _parts(since: date | None, settings: Settings, runs: list[tuple[date, int]]) -> _Parts:
    """Build the pieces once, so the roll-up and the staffing query read the same peak hours."""
    team = Team.__table__.c
    tm = TeamMembership.__table__.c
    ad = AgentDay.__table__.c
    c = Contact.__table__.c
    s = QueueSnapshot.__table__.c
    si = AgentStatusInterval.__table__.c
    tz = literal(settings.timezone)
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

    # Live contacts of live teams, with their org-local day; then their local-hour bucket.
    contact_day = func.ax_local_date(c.created_at, tz, type_=Date)
    contact_where = [
        c.deleted.is_(False),
        c.team_id.is_not(None),
        c.channel.in_(LIVE_CHANNELS),
        team.deleted.is_(False),
    ]
    if window_utc is not None:
        contact_where.append(c.created_at >= window_utc)
    dated = (
        select(
            c.team_id,
            contact_day.label("day"),
            c.created_at,
            c.channel,
            c.agent_id,
            c.first_response_at,
            c.wait_seconds,
            c.handle_seconds,
        )
        .join(Team.__table__, team.id == c.team_id)
        .where(*contact_where)
        .subquery("dated")
    )
    live_where = [] if since is None else [dated.c.day >= since]
    live = (
        select(
            *(col for col in dated.c if col.name != "created_at"),
            _hour_bucket(dated.c.created_at, dated.c.day, runs).label("hour"),
        )
        .where(*live_where)
        .cte("live")
    )

    # Answered: an agent or a first response, and a known wait to judge the service level by.
    answered = and_(
        live.c.wait_seconds.is_not(None),
        or_(live.c.agent_id.is_not(None), live.c.first_response_at.is_not(None)),
    )
    within = and_(answered, live.c.wait_seconds <= settings.service_level_seconds)
    service = (
        select(
            live.c.team_id,
            live.c.day,
            func.sum(case((answered, 1), else_=0)).label("answered"),
            func.sum(case((within, 1), else_=0)).label("within"),
        )
        .group_by(live.c.team_id, live.c.day)
        .subquery("service")
    )

    # Arrivals per local hour; the busiest hour wins, the earliest on a tie.
    is_chat = live.c.channel == "chat"
    timed = live.c.handle_seconds.is_not(None)
    hourly = (
        select(
            live.c.team_id,
            live.c.day,
            live.c.hour,
            func.count().label("arrivals"),
            func.sum(case((and_(timed, ~is_chat), 1), else_=0)).label("timed"),
            func.sum(case((and_(timed, ~is_chat), live.c.handle_seconds), else_=0)).label("handle"),
            func.sum(case((and_(timed, is_chat), 1), else_=0)).label("chat_timed"),
            func.sum(case((and_(timed, is_chat), live.c.handle_seconds), else_=0)).label("chat_handle"),
        )
        .group_by(live.c.team_id, live.c.day, live.c.hour)
        .subquery("hourly")
    )
    ranked = select(
        *hourly.c,
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
    snap_day = func.ax_local_date(s.at, tz, type_=Date)
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
        .subquery("queue")
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
    status_on = [si.deleted.is_(False), si.status.in_(ON_QUEUE_STATUSES)]
    if window_utc is not None:
        status_on.append(si.ended_at > window_utc)
    status_peak = (
        select(peak.c.team_id, peak.c.day, func.count(si.agent_id.distinct()).label("online"))
        .select_from(
            peak.join(members, members.c.team_id == peak.c.team_id).join(
                AgentStatusInterval.__table__,
                and_(
                    si.agent_id == members.c.agent_id,
                    epoch_seconds(si.started_at) < peak.c.hour_start + HOUR_SECONDS,
                    epoch_seconds(si.ended_at) > peak.c.hour_start,
                    *status_on,
                ),
            )
        )
        .group_by(peak.c.team_id, peak.c.day)
        .subquery("status_peak")
    )
    return _Parts(workload, service, queue, peak, snap_peak, status_peak)


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


def _team_day_select(p: _Parts, computed_at: datetime) -> Select:
    """One row per team-day with any member agent-day, live contact or snapshot in the window."""
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
        func.coalesce(w.c.agents, zero),
        func.coalesce(w.c.contacts, zero),
        func.coalesce(w.c.handle_seconds, zero),
        w.c.on_queue_seconds,
        occupancy,
        w.c.logged_in_seconds,
        w.c.overtime_seconds,
        func.coalesce(w.c.hard_contacts, zero),
        func.coalesce(w.c.back_to_back, zero),
        func.coalesce(w.c.over, zero),
        q.c.waiting_avg,
        q.c.waiting_max,
        q.c.longest_wait_seconds,
        service_level,
        func.coalesce(sv.c.answered, zero),
        func.coalesce(pk.c.arrivals, zero),
        func.coalesce(p.snap_peak.c.online, p.status_peak.c.online),
        literal(computed_at, TeamDay.__table__.c.computed_at.type),
    ).select_from(
        keys.outerjoin(w, _on(keys, w))
        .outerjoin(sv, _on(keys, sv))
        .outerjoin(q, _on(keys, q))
        .outerjoin(pk, _on(keys, pk))
        .outerjoin(p.snap_peak, _on(keys, p.snap_peak))
        .outerjoin(p.status_peak, _on(keys, p.status_peak))
    )


def _staffing_inputs(p: _Parts) -> Select:
    """Per team-day peak hour: arrivals, handle sums by chat or not, and the team's concurrency."""
    pk, w = p.peak, p.workload
    return select(
        pk.c.team_id,
        pk.c.day,
        pk.c.arrivals,
        pk.c.timed,
        pk.c.handle,
        pk.c.chat_timed,
        pk.c.chat_handle,
        w.c.chat_concurrency,
    ).select_from(pk.outerjoin(w, _on(pk, w)))


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


def compute_team_days(conn: Connection, *, since: date | None, settings: Settings | None = None) -> int:
    """Rebuild ``team_day`` from ``since`` (every day when None) inside the caller's transaction.

    Rows before ``since`` are kept. Returns the number of rows the window now holds.
    """
    settings = settings or get_settings()
    zone = ZoneInfo(settings.timezone)
    table = TeamDay.__table__
    computed_at = utcnow()

    conn.execute(delete(table).where(*([] if since is None else [table.c.day >= since])))
    span = _data_days(conn, since)
    if span is None:
        anchor = since or computed_at.date()
        runs = [(anchor, midnight_offset(zone, anchor))]
    else:
        runs = offset_runs(zone, *span)
    parts = _parts(since, settings, runs)
    conn.execute(insert(table).from_select(TEAM_DAY_COLUMNS, _team_day_select(parts, computed_at)))

    needed = []
    for row in conn.execute(_staffing_inputs(parts)):
        aht = peak_aht(row.handle, row.timed, row.chat_handle, row.chat_timed, row.chat_concurrency)
        if aht is None:
            continue
        staffing = required_agents(
            arrivals=row.arrivals,
            interval_seconds=HOUR_SECONDS,
            aht=aht,
            target_seconds=settings.service_level_seconds,
            service_level_goal=settings.service_level_target,
            max_occupancy=settings.max_occupancy,
        )
        needed.append({"t": row.team_id, "d": row.day, "n": staffing.agents})
    if needed:
        conn.execute(
            update(table)
            .where(table.c.team_id == bindparam("t"), table.c.day == bindparam("d"))
            .values(agents_needed=bindparam("n")),
            needed,
        )

    # rowcount of INSERT … SELECT is not reported by every driver; count what the window holds.
    written = select(func.count()).select_from(table)
    if since is not None:
        written = written.where(table.c.day >= since)
    return conn.execute(written).scalar_one()

"""Break planner: who can take a break now, for how long, without service level falling below target.

Every function takes ``(session, viewer, …)`` and asks :mod:`ax.access` first; refusals are audited
there, and every change of a break's state leaves an audit entry (no survey data, no note text).

Live load (:func:`live_queue`), one team, at ``now``
    arrival rate
        Live-channel contacts (phone, chat, messaging; :data:`ax.team_indicators.LIVE_CHANNELS`) of
        the team created in the 60 minutes before ``now``. Queue snapshots carry no arrival
        counts, so contacts are the only source. None arrived → unknown (a quiet hour and a stalled
        sync look the same), never zero.
    AHT
        Mean handle seconds of the team's handled live contacts (an agent and a handle time > 0)
        created in the last 60 minutes, widened to the last 4 hours when fewer than
        :data:`MIN_TIMED_CONTACTS` are timed. Chat handle time is divided by the team's chat
        concurrency today (mean of the members' ``agent_day.chat_concurrency``), as
        ``indicators.md`` says: two chats at once take half an agent each. Without a concurrency
        figure a chat counts one at a time (the cautious side), and the reading says so.
    agents available
        Members whose latest status interval is on the queue (online / available / busy) and
        reaches to within ``sync_minutes`` + 5 minutes of ``now`` — connectors close the current
        interval at sync time, so "covering now" would miss everyone between syncs. Without any
        fresh interval: the latest queue snapshot's ``agents_online`` (the largest over the team's
        queues, since one agent may staff several).
    waiting, longest wait
        The latest snapshot of each of the team's queues from the last 30 minutes: waiting summed,
        longest wait the maximum.

Forecast
    Traffic A = λ × AHT; service level, occupancy and the "queue grows" case come from
    :mod:`ax.erlang`. The last hour's load is held constant over the planning horizon (no intraday
    forecast). A break of ``k`` minutes from ``s`` is safe when, with N − (the most other breaks
    running at once in ``[s, s + k)``) − 1 agents, SL within ``service_level_seconds`` stays at or
    above ``service_level_target`` and occupancy stays below 1. Other breaks are the planned,
    suggested and accepted ones of agents counted in N (when N comes from a snapshot, only those
    not started yet: one in progress is already in the snapshot's count). Each answer assumes only
    that one new break; after scheduling one, plan again.

Recovery need (ranking)
    ``score = min(minutes since last break ÷ stretch_warning_minutes, 2)
    + min(hard contacts since then ÷ hard_since_break, 2) + min(today's occupancy ÷ occupancy_alert, 2)``.
    Each part is 1 at its threshold, capped at 2 so one extreme signal cannot swamp the rest; an
    unknown part adds nothing and is named as unknown. Ties: longer without a break first. The last
    break is the end of the latest gap of at least ``break_min_minutes`` in on-queue time (the
    stretch definition of :mod:`ax.indicators`); hard contacts use that module's definition too.
    Under the ``team_only`` privacy profile the order stays, the per-agent numbers are withheld.

Break states (``break_plan.status``)
    planned (a lead scheduled it) → accepted / declined by the agent; requested (the agent asked)
    → accepted / declined by a lead; any open one → cancelled. ``suggested`` is read like planned.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlmodel import Session

from ax.access import AccessDenied, Viewer, check_agent, check_self, check_team, require_role
from ax.audit import record_event, record_view
from ax.erlang import service_level
from ax.indicators import ON_QUEUE, hard_contact
from ax.settings import Settings, get_settings
from ax.team_indicators import LIVE_CHANNELS, peak_aht
from ax.wording import duration_text
from ax.workload import teams_of_agent
from db.ingest import epoch_second
from db.models import (
    Agent,
    AgentDay,
    AgentStatusInterval,
    Break,
    Contact,
    QueueSnapshot,
    Role,
    Team,
    TeamMembership,
    User,
)
from db.types import utcnow

__all__ = [
    "AccessDenied",
    "BreakError",
    "BreakOption",
    "BreakPlan",
    "BreakView",
    "Candidate",
    "LiveQueue",
    "Reading",
    "cancel_break",
    "decide_request",
    "live_queue",
    "my_breaks",
    "offered_lengths",
    "pending_requests",
    "plan_breaks",
    "planner_teams",
    "request_break",
    "respond_to_break",
    "schedule_break",
    "team_breaks",
    "team_members",
]

PLANNED, SUGGESTED, REQUESTED = "planned", "suggested", "requested"
ACCEPTED, DECLINED, CANCELLED = "accepted", "declined", "cancelled"
# Breaks that take an agent off the queue in their window, and those still open for one agent.
BLOCKING = (PLANNED, SUGGESTED, ACCEPTED)
OPEN = (*BLOCKING, REQUESTED)

ARRIVAL_WINDOW = timedelta(minutes=60)
AHT_WINDOWS = (timedelta(minutes=60), timedelta(hours=4))
MIN_TIMED_CONTACTS = 10
SNAPSHOT_MAX_AGE = timedelta(minutes=30)
STATUS_LOOKBACK = timedelta(hours=12)
STATUS_SLACK = timedelta(minutes=5)
MAX_BREAK_MINUTES = 30  # recovery and micro-breaks; meal breaks belong to the shift schedule
MAX_LEAD_TIME = timedelta(hours=24)
PAST_GRACE = timedelta(minutes=1)
NEED_CAP = 2.0
NOTE_MAX = 500
LENGTHS = (5, 10, 15, 20, MAX_BREAK_MINUTES)  # the break lengths the pages offer

T = TypeVar("T")


class BreakError(ValueError):
    """A break that cannot be scheduled or changed; the message says why, in plain words."""


@dataclass(frozen=True)
class Reading(Generic[T]):
    """One live figure with its freshness: ``value`` None means unknown, and ``note`` says why."""

    value: T | None
    as_of: datetime | None
    note: str

    @property
    def known(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class LiveQueue:
    """A team's live load: what the Erlang C forecast needs, each figure with its source."""

    team_id: int
    now: datetime
    arrivals_per_hour: Reading[float]
    aht_seconds: Reading[float]
    chat_concurrency: Reading[float]
    agents_available: Reading[int]
    waiting: Reading[int]
    longest_wait_seconds: Reading[int]

    @property
    def traffic(self) -> float | None:
        """Offered load in Erlangs (λ × AHT), None when either is unknown."""
        if self.arrivals_per_hour.value is None or self.aht_seconds.value is None:
            return None
        return self.arrivals_per_hour.value / 3600 * self.aht_seconds.value

    @property
    def missing(self) -> list[str]:
        """Why a forecast cannot be made (empty when it can)."""
        needed = (self.arrivals_per_hour, self.aht_seconds, self.agents_available)
        return [r.note for r in needed if r.value is None]


@dataclass(frozen=True)
class BreakOption:
    """One break length for one candidate: the forecast with and without it, and the verdict."""

    minutes: int
    starts_at: datetime
    agents: int | None  # on the queue now (N)
    other_breaks: int  # most other breaks running at once in the window
    service_level_without_break: float | None
    service_level_with_break: float | None
    occupancy_with_break: float | None
    safe: bool
    why: str
    earliest_safe_start: datetime | None = None  # ``starts_at`` when safe now; a later time, or None


@dataclass(frozen=True)
class Candidate:
    """An agent on the queue now, with their recovery need and their break options."""

    agent_id: int
    name: str
    rank: int
    score: float
    minutes_since_break: float | None
    hard_since_break: int | None
    occupancy_today: float | None
    need: str
    options: list[BreakOption]
    why: str

    @property
    def longest_safe_minutes(self) -> int | None:
        safe = [o.minutes for o in self.options if o.safe]
        return max(safe) if safe else None

    @property
    def longest_safe(self) -> BreakOption | None:
        best = self.longest_safe_minutes
        return next((o for o in self.options if o.minutes == best), None) if best else None


@dataclass(frozen=True)
class BreakPlan:
    team_id: int
    now: datetime
    live: LiveQueue
    target: float
    target_seconds: int
    service_level_now: float | None
    spare_agents: int | None  # how many could be on a break at once now, with SL still on target
    candidates: list[Candidate]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BreakView:
    id: int
    agent_id: int
    agent_name: str
    starts_at: datetime
    ends_at: datetime
    status: str
    note: str | None
    requested_by_agent: bool
    created_by_name: str | None = None  # who planned or asked for it (a user's display name)

    @property
    def minutes(self) -> int:
        return round((self.ends_at - self.starts_at).total_seconds() / 60)


# --- small helpers -------------------------------------------------------------------------------


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value


def _hhmm(value: datetime, timezone: str) -> str:
    return value.astimezone(ZoneInfo(timezone)).strftime("%H:%M")


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _members(session: Session, team_id: int) -> dict[int, Agent]:
    """The team's current agents (membership and agent not deleted, agent active)."""
    tm = TeamMembership.__table__.c
    ids = select(tm.agent_id).where(tm.team_id == team_id, tm.deleted.is_(False))
    agents = session.scalars(
        select(Agent).where(Agent.id.in_(ids), Agent.deleted.is_(False), Agent.active.is_(True))
    ).all()
    return {a.id: a for a in agents if a.id is not None}


def _team(session: Session, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None or team.deleted:
        raise LookupError(f"team {team_id} does not exist")
    return team


# --- live load -----------------------------------------------------------------------------------


@dataclass
class _Status:
    """An agent's recent status intervals (oldest first) and whether they are on the queue now."""

    intervals: list[tuple[str, datetime, datetime]] = field(default_factory=list)
    current: str | None = None  # status of a fresh latest interval; None: no fresh reading
    seen_at: datetime | None = None


@dataclass(frozen=True)
class _Load:
    live: LiveQueue
    statuses: dict[int, _Status]
    on_queue: set[int] | None  # members on the queue now; None when only a snapshot says how many
    day_rows: dict[int, AgentDay]  # each member's agent_day of their local today


def _arrivals(session: Session, team_id: int, now: datetime, viewer_tz: str) -> Reading[float]:
    c = Contact.__table__.c
    count, newest = session.execute(
        select(func.count(), func.max(c.created_at)).where(
            c.team_id == team_id,
            c.deleted.is_(False),
            c.channel.in_(LIVE_CHANNELS),
            c.created_at >= now - ARRIVAL_WINDOW,
            c.created_at < now,
        )
    ).one()
    if not count:
        return Reading(
            None, None, "no live contacts arrived in the last 60 min (quiet, or the sync is behind)"
        )
    hours = ARRIVAL_WINDOW.total_seconds() / 3600
    note = (
        f"{count} live contacts in the 60 min to {_hhmm(now, viewer_tz)} (newest {_hhmm(newest, viewer_tz)})"
    )
    return Reading(count / hours, newest, note)


def _team_concurrency(members: dict[int, Agent], day_rows: dict[int, AgentDay]) -> Reading[float]:
    values = [r.chat_concurrency for r in day_rows.values() if r.chat_concurrency is not None]
    if not values:
        return Reading(None, None, "no chat concurrency computed today; chats counted one at a time")
    as_of = max(r.computed_at for r in day_rows.values() if r.chat_concurrency is not None)
    mean = sum(values) / len(values)
    return Reading(mean, as_of, f"mean open chats today over {len(values)} of {len(members)} agents")


def _aht(
    session: Session, team_id: int, now: datetime, concurrency: Reading[float]
) -> tuple[Reading[float], bool]:
    """AHT of recent handled live contacts, chats divided by concurrency; also whether chats counted."""
    c = Contact.__table__.c
    is_chat = c.channel == "chat"
    for window in AHT_WINDOWS:
        row = session.execute(
            select(
                func.sum(case((~is_chat, 1), else_=0)),
                func.sum(case((~is_chat, c.handle_seconds), else_=0)),
                func.sum(case((is_chat, 1), else_=0)),
                func.sum(case((is_chat, c.handle_seconds), else_=0)),
                func.max(c.created_at),
            ).where(
                c.team_id == team_id,
                c.deleted.is_(False),
                c.channel.in_(LIVE_CHANNELS),
                c.agent_id.is_not(None),
                c.handle_seconds > 0,
                c.created_at >= now - window,
                c.created_at < now,
            )
        ).one()
        timed, handle, chat_timed, chat_handle = (int(v or 0) for v in row[:4])
        if timed + chat_timed >= MIN_TIMED_CONTACTS or window == AHT_WINDOWS[-1]:
            break
    minutes = int(window.total_seconds() // 60)
    aht = peak_aht(handle, timed, chat_handle, chat_timed, concurrency.value)
    if aht is None:
        return Reading(
            None, None, f"no handled live contacts with a handle time in the last {minutes} min"
        ), False
    note = f"{timed + chat_timed} handled live contacts in the last {minutes} min"
    if chat_timed:
        divisor = max(1.0, concurrency.value) if concurrency.value is not None else 1.0
        note += f"; {chat_timed} chats at {divisor:.2f} at once"
    return Reading(aht, row[4], note), chat_timed > 0


def _statuses(
    session: Session, members: Iterable[int], now: datetime, fresh: timedelta
) -> dict[int, _Status]:
    si = AgentStatusInterval.__table__.c
    rows = session.execute(
        select(si.agent_id, si.status, si.started_at, si.ended_at)
        .where(
            si.agent_id.in_(list(members)),
            si.deleted.is_(False),
            si.started_at <= now,
            si.ended_at >= now - STATUS_LOOKBACK,
            si.ended_at > si.started_at,
        )
        .order_by(si.agent_id, si.started_at, si.ended_at)
    ).all()
    out: dict[int, _Status] = defaultdict(_Status)
    for agent_id, status, start, end in rows:
        out[agent_id].intervals.append((status, start, end))
    for st in out.values():
        status, _, end = st.intervals[-1]
        if end >= now - fresh:
            st.current, st.seen_at = status, min(end, now)
    return dict(out)


def _snapshots(
    session: Session, team_id: int, now: datetime, tz: str
) -> tuple[Reading[int], Reading[int], Reading[int]]:
    """Waiting, longest wait and agents online from each queue's latest recent snapshot."""
    s = QueueSnapshot.__table__.c
    rows = session.execute(
        select(s.queue, s.at, s.waiting, s.longest_wait_seconds, s.agents_online, s.agents_available)
        .where(s.team_id == team_id, s.deleted.is_(False), s.at <= now, s.at >= now - SNAPSHOT_MAX_AGE)
        .order_by(s.queue, s.at)
    ).all()
    latest = {row.queue: row for row in rows}  # ordered by time: the last one per queue wins
    if not latest:
        older = session.execute(
            select(func.max(s.at)).where(s.team_id == team_id, s.deleted.is_(False), s.at <= now)
        ).scalar_one_or_none()
        why = (
            f"latest queue snapshot is from {older:%Y-%m-%d} {_hhmm(older, tz)}, older than 30 min"
            if older is not None
            else "no queue snapshots for this team"
        )
        gone = Reading[int](None, None, why)
        return gone, gone, gone
    snaps = list(latest.values())
    as_of = min(r.at for r in snaps)
    queues = f"{len(snaps)} queue{'s' if len(snaps) > 1 else ''} as of {_hhmm(as_of, tz)}"
    waiting = Reading(sum(r.waiting for r in snaps), as_of, f"waiting now, {queues}")
    longest = Reading(max(r.longest_wait_seconds for r in snaps), as_of, f"longest wait, {queues}")
    online = max(max(r.agents_online, r.agents_available) for r in snaps)
    agents = Reading(online, as_of, f"agents online per the queue snapshot ({queues})")
    return waiting, longest, agents


def _day_rows(session: Session, members: dict[int, Agent], now: datetime) -> dict[int, AgentDay]:
    """Each member's agent_day of their own local today (if computed yet)."""
    if not members:
        return {}
    local = {a_id: now.astimezone(ZoneInfo(a.timezone or "UTC")).date() for a_id, a in members.items()}
    rows = session.scalars(
        select(AgentDay).where(
            AgentDay.agent_id.in_(list(members)),
            AgentDay.day >= min(local.values()),
            AgentDay.day <= max(local.values()),
        )
    ).all()
    return {r.agent_id: r for r in rows if local.get(r.agent_id) == r.day}


def _load(session: Session, team_id: int, now: datetime, settings: Settings, tz: str) -> _Load:
    members = _members(session, team_id)
    day_rows = _day_rows(session, members, now)
    arrivals = _arrivals(session, team_id, now, tz)
    concurrency = _team_concurrency(members, day_rows)
    aht, has_chats = _aht(session, team_id, now, concurrency)
    if not has_chats and concurrency.value is None:
        concurrency = Reading(None, None, "no chats handled recently and no chat concurrency computed today")
    fresh = timedelta(minutes=settings.sync_minutes) + STATUS_SLACK
    statuses = _statuses(session, members, now, fresh) if members else {}
    waiting, longest, snap_agents = _snapshots(session, team_id, now, tz)
    read = {a: st for a, st in statuses.items() if st.current is not None}
    on_queue: set[int] | None
    if read:
        on_queue = {a for a, st in read.items() if st.current in ON_QUEUE}
        seen = [read[a].seen_at for a in on_queue] or [st.seen_at for st in read.values()]
        as_of = min(t for t in seen if t is not None)
        note = f"{len(on_queue)} of {len(members)} agents on the queue by status as of {_hhmm(as_of, tz)}"
        agents: Reading[int] = Reading(len(on_queue), as_of, note)
    else:
        on_queue = None
        agents = snap_agents
        if agents.value is None:
            agents = Reading(None, None, f"no fresh status intervals and {snap_agents.note}")
    live = LiveQueue(team_id, now, arrivals, aht, concurrency, agents, waiting, longest)
    return _Load(live, statuses, on_queue, day_rows)


def live_queue(session: Session, viewer: Viewer, team_id: int, now: datetime) -> LiveQueue:
    """The team's live load for the planner and the queue tile; unknown figures stay None with a reason."""
    check_team(session, viewer, team_id)
    _team(session, team_id)
    return _load(session, team_id, _aware(now, "now"), get_settings(), viewer.timezone).live


# --- forecast ------------------------------------------------------------------------------------


def _forecast(live: LiveQueue, agents: int, settings: Settings) -> tuple[float, float]:
    """Service level within the target time, and occupancy, with ``agents`` answering."""
    traffic, aht = live.traffic, live.aht_seconds.value
    assert traffic is not None and aht is not None
    if agents <= 0:
        return 0.0, math.inf
    return service_level(traffic, agents, aht, settings.service_level_seconds), traffic / agents


def _ok(sl: float, occupancy: float, settings: Settings) -> bool:
    return sl >= settings.service_level_target and occupancy < 1


def _most_at_once(breaks: Sequence[Break], start: datetime, end: datetime) -> int:
    """Largest number of distinct agents on one of ``breaks`` at the same moment in ``[start, end)``."""
    inside = [b for b in breaks if b.starts_at < end and b.ends_at > start]
    moments = [start, *(b.starts_at for b in inside if b.starts_at > start)]
    return max(
        (len({b.agent_id for b in inside if b.starts_at <= m < b.ends_at}) for m in moments),
        default=0,
    )


@dataclass(frozen=True)
class _Check:
    others: int
    without: float
    with_break: float
    occupancy: float
    safe: bool
    own: Break | None


def _check(
    load: _Load,
    settings: Settings,
    agent_id: int,
    breaks: Sequence[Break],
    start: datetime,
    minutes: int,
) -> _Check:
    end = start + timedelta(minutes=minutes)
    n = load.live.agents_available.value or 0
    own = next(
        (b for b in breaks if b.agent_id == agent_id and b.starts_at < end and b.ends_at > start), None
    )
    others = _most_at_once([b for b in breaks if b.agent_id != agent_id], start, end)
    without, _ = _forecast(load.live, n - others, settings)
    with_break, occupancy = _forecast(load.live, n - others - 1, settings)
    return _Check(
        others, without, with_break, occupancy, own is None and _ok(with_break, occupancy, settings), own
    )


def _verdict(check: _Check, n: int, traffic: float, settings: Settings, tz: str) -> str:
    target = f"{_pct(settings.service_level_target)} in {settings.service_level_seconds} s"
    if check.own is not None:
        return f"Overlaps their break planned at {_hhmm(check.own.starts_at, tz)}."
    left = n - check.others - 1
    others = ""
    if check.others:
        others = f" ({check.others} other break{'s' if check.others > 1 else ''} in this window)"
    if check.occupancy >= 1:
        return (
            f"Not safe: {left} agents for {traffic:.1f} Erlangs of traffic{others} — "
            "the queue would grow without limit."
            if left > 0
            else f"Not safe: nobody would be left on the queue{others}."
        )
    verdict = "Safe" if check.safe else "Not safe"
    level = "stays at" if check.safe else "would drop to"
    return (
        f"{verdict}: with {left} agents answering{others}, service level {level} {_pct(check.with_break)} "
        f"(target {target}; {_pct(check.without)} without this break)."
    )


def _option(
    load: _Load,
    settings: Settings,
    agent_id: int,
    breaks: Sequence[Break],
    minutes: int,
    horizon_end: datetime,
    tz: str,
) -> BreakOption:
    now, live = load.live.now, load.live
    if live.missing:
        why = "Cannot forecast: " + "; ".join(live.missing) + "."
        return BreakOption(minutes, now, live.agents_available.value, 0, None, None, None, False, why)
    n = live.agents_available.value or 0
    check = _check(load, settings, agent_id, breaks, now, minutes)
    why = _verdict(check, n, live.traffic or 0.0, settings, tz)
    earliest: datetime | None = now if check.safe else None
    if not check.safe:
        # Load is held constant, so a later start helps only once a break ends: try those moments.
        for start in sorted({b.ends_at for b in breaks if now < b.ends_at <= horizon_end}):
            if _check(load, settings, agent_id, breaks, start, minutes).safe:
                earliest = start
                why += f" Safe from {_hhmm(start, tz)}."
                break
    return BreakOption(
        minutes=minutes,
        starts_at=now,
        agents=n,
        other_breaks=check.others,
        service_level_without_break=check.without,
        service_level_with_break=check.with_break,
        occupancy_with_break=check.occupancy,
        safe=check.safe,
        why=why,
        earliest_safe_start=earliest,
    )


# --- recovery need -------------------------------------------------------------------------------


def _stretch_start(status: _Status, now: datetime, gap: timedelta) -> datetime | None:
    """Start of the current on-queue stretch: back from now until a pause of at least ``gap``."""
    spans = sorted(((s, min(e, now)) for st, s, e in status.intervals if st in ON_QUEUE), key=lambda x: x[1])
    if not spans:
        return None
    start = spans[-1][0]
    for s, e in reversed(spans[:-1]):
        if start - e >= gap:
            break
        start = min(start, s)
    return start


def _hard_since(session: Session, starts: dict[int, datetime], now: datetime) -> dict[int, int]:
    """Hard contacts (ax.indicators' definition) each agent started since their stretch began.

    Read through the compute's ``ix_contact_agent_work`` by the work start stamped at ingest
    (whole epoch seconds: a contact started within the stretch's first second counts). The
    agent's local work day is within a day of the UTC date, which bounds the index range.
    """
    if not starts:
        return {}
    c = Contact.__table__.c
    earliest = min(starts.values())
    since = {agent_id: epoch_second(start) for agent_id, start in starts.items()}
    rows = session.execute(
        select(c.agent_id, c.work_start).where(
            c.agent_id.in_(list(starts)),
            c.work_day >= earliest.astimezone(UTC).date() - timedelta(days=1),
            c.work_day <= now.astimezone(UTC).date() + timedelta(days=1),
            c.work_start >= min(since.values()),
            c.work_start <= epoch_second(now),
            c.deleted.is_(False),
            hard_contact(c),
        )
    ).all()
    counts: dict[int, int] = dict.fromkeys(starts, 0)
    for agent_id, begun in rows:
        if begun >= since[agent_id]:
            counts[agent_id] += 1
    return counts


def _need(
    minutes: float | None, hard: int | None, occupancy: float | None, settings: Settings
) -> tuple[float, str]:
    """The documented recovery-need score and its plain-words reasons."""
    parts: list[str] = []
    score = 0.0
    if minutes is not None:
        score += min(minutes / settings.stretch_warning_minutes, NEED_CAP)
        due = duration_text(settings.stretch_warning_minutes * 60)
        parts.append(f"{duration_text(minutes * 60)} on the queue without a break (due at {due})")
    else:
        parts.append("time since last break unknown")
    if hard is not None:
        score += min(hard / settings.hard_since_break, NEED_CAP)
        parts.append(
            f"{hard} hard contact{'s' if hard != 1 else ''} since (break due at {settings.hard_since_break})"
        )
    else:
        parts.append("hard contacts since the last break unknown")
    if occupancy is not None:
        score += min(occupancy / settings.occupancy_alert, NEED_CAP)
        parts.append(
            f"occupancy today {occupancy * 100:.0f}% (overload above {settings.occupancy_alert * 100:.0f}%)"
        )
    else:
        parts.append("occupancy today not computed yet")
    return round(score, 3), "; ".join(parts)


def _summary(options: list[BreakOption], tz: str) -> str:
    safe = [o for o in options if o.safe]
    if safe:
        best = max(safe, key=lambda o: o.minutes)
        assert best.service_level_with_break is not None and best.service_level_without_break is not None
        return (
            f"Can take up to {best.minutes} min now: service level {_pct(best.service_level_with_break)} "
            f"with the break, {_pct(best.service_level_without_break)} without."
        )
    if options and options[0].service_level_with_break is None:
        return options[0].why
    later = [o for o in options if o.earliest_safe_start is not None]
    if later:
        first = min(later, key=lambda o: (o.earliest_safe_start, -o.minutes))
        assert first.earliest_safe_start is not None
        return (
            f"No break is safe now; {first.minutes} min is safe from {_hhmm(first.earliest_safe_start, tz)}."
        )
    shortest = min(options, key=lambda o: o.minutes) if options else None
    return "No break is safe within the planning horizon." + (f" {shortest.why}" if shortest else "")


# --- the planner ---------------------------------------------------------------------------------


def _blocking_breaks(
    session: Session, agent_ids: Iterable[int], start: datetime, end: datetime
) -> list[Break]:
    ids = list(agent_ids)
    if not ids:
        return []
    return list(
        session.scalars(
            select(Break)
            .where(
                Break.agent_id.in_(ids),
                Break.status.in_(BLOCKING),
                Break.ends_at > start,
                Break.starts_at < end,
            )
            .order_by(Break.starts_at, Break.id)
        ).all()
    )


def _check_minutes(minutes: int, settings: Settings) -> None:
    if minutes < settings.break_min_minutes:
        raise BreakError(
            f"A break must last at least {settings.break_min_minutes} min "
            "(shorter pauses do not count as a break)."
        )
    if minutes > MAX_BREAK_MINUTES:
        raise BreakError(
            f"A break here lasts at most {MAX_BREAK_MINUTES} min; "
            "plan longer ones (meals) in the shift schedule."
        )


def plan_breaks(
    session: Session,
    viewer: Viewer,
    team_id: int,
    now: datetime,
    durations: Sequence[int] = (5, 10, 15),
    horizon_minutes: int = 60,
) -> BreakPlan:
    """Who on the team can take a break now, for how long, without service level falling below target."""
    require_role(session, viewer, Role.lead, action="plan breaks as")
    check_team(session, viewer, team_id)
    _team(session, team_id)
    now = _aware(now, "now")
    settings = get_settings()
    durations = sorted(set(durations))
    if not durations:
        raise BreakError("Give at least one break length.")
    for minutes in durations:
        _check_minutes(minutes, settings)
    if horizon_minutes < 0:
        raise BreakError("The planning horizon cannot be negative.")
    tz = viewer.timezone
    load = _load(session, team_id, now, settings, tz)
    live = load.live
    horizon_end = now + timedelta(minutes=horizon_minutes)
    notes = ["The forecast holds the last hour's arrivals and handle time constant."]
    notes += [f"Unknown: {why}" for why in live.missing]

    members = _members(session, team_id)
    if load.on_queue is not None:
        breaks = _blocking_breaks(session, load.on_queue, now, horizon_end + timedelta(minutes=durations[-1]))
    else:
        # N comes from a snapshot: a break in progress is already in its count, later ones are not.
        window_end = horizon_end + timedelta(minutes=durations[-1])
        breaks = [b for b in _blocking_breaks(session, members, now, window_end) if b.starts_at > now]
        notes.append("Who is on the queue is unknown (no fresh status intervals): no candidates to rank.")

    sl_now: float | None = None
    spare: int | None = None
    if not live.missing:
        n = live.agents_available.value or 0
        sl_now = _forecast(live, n, settings)[0]
        running = _most_at_once(breaks, now, now + timedelta(minutes=durations[0]))
        spare = 0
        while spare < n - running and _ok(*_forecast(live, n - running - spare - 1, settings), settings):
            spare += 1

    on_break_now = {b.agent_id for b in breaks if b.starts_at <= now}
    pool = sorted((load.on_queue or set()) - on_break_now)
    gap = timedelta(minutes=settings.break_min_minutes)
    starts = {a: s for a in pool if (s := _stretch_start(load.statuses[a], now, gap)) is not None}
    hard = _hard_since(session, starts, now)
    per_agent = settings.privacy_profile == "per_agent"

    ranked: list[tuple[float, float, str, int, Candidate]] = []
    for agent_id in pool:
        since = (now - starts[agent_id]).total_seconds() / 60 if agent_id in starts else None
        day = load.day_rows.get(agent_id)
        occupancy = day.occupancy if day is not None else None
        score, need = _need(since, hard.get(agent_id), occupancy, settings)
        if not per_agent:
            since, occupancy, need = None, None, "per-agent details withheld (privacy profile: team only)"
        options = [_option(load, settings, agent_id, breaks, m, horizon_end, tz) for m in durations]
        name = members[agent_id].name if agent_id in members else f"agent {agent_id}"
        candidate = Candidate(
            agent_id=agent_id,
            name=name,
            rank=0,
            score=score,
            minutes_since_break=since,
            hard_since_break=hard.get(agent_id) if per_agent else None,
            occupancy_today=occupancy,
            need=need,
            options=options,
            why=_summary(options, tz),
        )
        order_since = (now - starts[agent_id]).total_seconds() if agent_id in starts else -1.0
        ranked.append((-score, -order_since, name, agent_id, candidate))
    ranked.sort(key=lambda item: item[:4])
    candidates = [replace(c, rank=i) for i, (*_, c) in enumerate(ranked, start=1)]
    if per_agent and candidates:
        record_view(session, viewer, what="break planner recovery need", target=f"team {team_id}")
    return BreakPlan(
        team_id=team_id,
        now=now,
        live=live,
        target=settings.service_level_target,
        target_seconds=settings.service_level_seconds,
        service_level_now=sl_now,
        spare_agents=spare,
        candidates=candidates,
        notes=notes,
    )


# --- scheduling and answers ----------------------------------------------------------------------


def _view(session: Session, brk: Break) -> BreakView:
    agent = session.get(Agent, brk.agent_id)
    creator = session.get(User, brk.created_by) if brk.created_by is not None else None
    assert brk.id is not None
    return BreakView(
        id=brk.id,
        agent_id=brk.agent_id,
        agent_name=agent.name if agent else f"agent {brk.agent_id}",
        starts_at=brk.starts_at,
        ends_at=brk.ends_at,
        status=brk.status,
        note=brk.note,
        requested_by_agent=creator is not None and creator.agent_id == brk.agent_id,
        created_by_name=creator.display_name if creator is not None else None,
    )


def _validate_new(
    session: Session,
    agent_id: int,
    starts_at: datetime,
    minutes: int,
    note: str | None,
    now: datetime,
    tz: str,
) -> datetime:
    """Refuse past, too long, too far ahead or overlapping breaks; return the end."""
    settings = get_settings()
    _check_minutes(minutes, settings)
    if starts_at < now - PAST_GRACE:
        raise BreakError(f"That break would start in the past ({_hhmm(starts_at, tz)}); pick now or later.")
    if starts_at > now + MAX_LEAD_TIME:
        raise BreakError("Breaks are planned at most 24 h ahead.")
    if note is not None and len(note) > NOTE_MAX:
        raise BreakError(f"The note is too long ({len(note)} characters; at most {NOTE_MAX}).")
    ends_at = starts_at + timedelta(minutes=minutes)
    # Serialise break writes per agent on PostgreSQL (SQLite writers are serial already).
    session.execute(select(Agent.id).where(Agent.id == agent_id).with_for_update())
    clash = session.scalars(
        select(Break)
        .where(
            Break.agent_id == agent_id,
            Break.status.in_(OPEN),
            Break.starts_at < ends_at,
            Break.ends_at > starts_at,
        )
        .order_by(Break.starts_at)
    ).first()
    if clash is not None:
        raise BreakError(
            f"Overlaps the {clash.status} break {_hhmm(clash.starts_at, tz)}–{_hhmm(clash.ends_at, tz)}; "
            "cancel or move that one first."
        )
    return ends_at


def _start(starts_at: datetime, now: datetime) -> datetime:
    """A start a moment ago (the page took a second) means now; anything earlier is refused later."""
    starts_at = _aware(starts_at, "starts_at")
    return now if now - PAST_GRACE <= starts_at < now else starts_at


def _audit(session: Session, viewer: Viewer, action: str, brk: Break, **extra: object) -> None:
    details = {
        "agent_id": brk.agent_id,
        "starts_at": brk.starts_at.isoformat(),
        "minutes": round((brk.ends_at - brk.starts_at).total_seconds() / 60),
        "status": brk.status,
        **extra,
    }
    record_event(session, viewer=viewer, action=action, target=f"break {brk.id}", details=details)


def schedule_break(
    session: Session,
    viewer: Viewer,
    agent_id: int,
    starts_at: datetime,
    minutes: int,
    note: str | None = None,
    *,
    now: datetime | None = None,
) -> BreakView:
    """A lead plans a break for an agent of their team, now or later; the agent sees it at once."""
    require_role(session, viewer, Role.lead, action="schedule breaks as")
    check_agent(session, viewer, agent_id, team_ids_of_agent=teams_of_agent(session, agent_id))
    now = _aware(now or utcnow(), "now")
    starts_at = _start(starts_at, now)
    ends_at = _validate_new(session, agent_id, starts_at, minutes, note, now, viewer.timezone)
    brk = Break(
        agent_id=agent_id, starts_at=starts_at, ends_at=ends_at, status=PLANNED, created_by=viewer.user_id
    )
    brk.note = note
    session.add(brk)
    session.flush()
    _audit(session, viewer, "break_scheduled", brk)
    session.commit()
    return _view(session, brk)


def request_break(
    session: Session,
    viewer: Viewer,
    minutes: int,
    note: str | None = None,
    *,
    starts_at: datetime | None = None,
    now: datetime | None = None,
) -> BreakView:
    """An agent asks for a break (now by default); it shows up for their lead(s) as requested."""
    agent_id = check_self(session, viewer, "request a break for")
    if not teams_of_agent(session, agent_id):
        raise BreakError("You are not in a team yet, so no lead can approve a break; ask an administrator.")
    now = _aware(now or utcnow(), "now")
    start = _start(starts_at, now) if starts_at is not None else now
    ends_at = _validate_new(session, agent_id, start, minutes, note, now, viewer.timezone)
    brk = Break(
        agent_id=agent_id, starts_at=start, ends_at=ends_at, status=REQUESTED, created_by=viewer.user_id
    )
    brk.note = note
    session.add(brk)
    session.flush()
    _audit(session, viewer, "break_requested", brk)
    session.commit()
    return _view(session, brk)


def _get(session: Session, break_id: int) -> Break:
    brk = session.get(Break, break_id)
    if brk is None:
        raise LookupError(f"break {break_id} does not exist")
    return brk


def respond_to_break(
    session: Session, viewer: Viewer, break_id: int, accept: bool, *, now: datetime | None = None
) -> BreakView:
    """The agent a planned (or suggested) break is for takes or declines it; nobody else may."""
    agent_id = check_self(session, viewer, "answer a break for")
    brk = _get(session, break_id)
    if brk.agent_id != agent_id:
        check_agent(session, viewer, brk.agent_id, team_ids_of_agent=set())  # refuses, audited
    if brk.status not in (PLANNED, SUGGESTED):
        raise BreakError(f"This break is {brk.status}; only a planned or suggested break can be answered.")
    if brk.ends_at <= _aware(now or utcnow(), "now"):
        raise BreakError("This break is already over.")
    before = brk.status
    brk.status = ACCEPTED if accept else DECLINED
    session.add(brk)
    _audit(session, viewer, "break_accepted" if accept else "break_declined", brk, previous=before)
    session.commit()
    return _view(session, brk)


def decide_request(
    session: Session, viewer: Viewer, break_id: int, approve: bool, *, now: datetime | None = None
) -> BreakView:
    """A lead of the agent's team approves or declines a requested break."""
    require_role(session, viewer, Role.lead, action="decide break requests as")
    brk = _get(session, break_id)
    check_agent(session, viewer, brk.agent_id, team_ids_of_agent=teams_of_agent(session, brk.agent_id))
    if brk.status != REQUESTED:
        raise BreakError(f"This break is {brk.status}, not a pending request.")
    if approve and brk.ends_at <= _aware(now or utcnow(), "now"):
        raise BreakError("The requested break time is already over; ask the agent to request again.")
    brk.status = ACCEPTED if approve else DECLINED
    session.add(brk)
    _audit(session, viewer, "break_request_approved" if approve else "break_request_declined", brk)
    session.commit()
    return _view(session, brk)


def cancel_break(
    session: Session, viewer: Viewer, break_id: int, *, now: datetime | None = None
) -> BreakView:
    """The agent or a lead of their team calls off an open break that has not ended."""
    brk = _get(session, break_id)
    check_agent(session, viewer, brk.agent_id, team_ids_of_agent=teams_of_agent(session, brk.agent_id))
    if brk.status not in OPEN:
        raise BreakError(f"This break is {brk.status} already.")
    if brk.ends_at <= _aware(now or utcnow(), "now"):
        raise BreakError("This break is already over.")
    before = brk.status
    brk.status = CANCELLED
    session.add(brk)
    _audit(session, viewer, "break_cancelled", brk, previous=before)
    session.commit()
    return _view(session, brk)


def _local_day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(), zone)
    end = datetime.combine(day + timedelta(days=1), time(), zone)
    return start, end


def my_breaks(session: Session, viewer: Viewer, *, now: datetime | None = None) -> list[BreakView]:
    """The signed-in agent's breaks of today (their local day) and later, every status, by start."""
    agent_id = check_self(session, viewer, "view the breaks of")
    now = _aware(now or utcnow(), "now")
    start, _ = _local_day_bounds(now.astimezone(ZoneInfo(viewer.timezone)).date(), viewer.timezone)
    rows = session.scalars(
        select(Break)
        .where(Break.agent_id == agent_id, Break.ends_at > start)
        .order_by(Break.starts_at, Break.id)
    ).all()
    return [_view(session, b) for b in rows]


def team_breaks(session: Session, viewer: Viewer, team_id: int, day: date) -> list[BreakView]:
    """Every break of the team's agents starting on ``day`` (the lead's local day), by start."""
    require_role(session, viewer, Role.lead, action="view the break plan as")
    check_team(session, viewer, team_id)
    _team(session, team_id)
    start, end = _local_day_bounds(day, viewer.timezone)
    tm = TeamMembership.__table__.c
    members = select(tm.agent_id).where(tm.team_id == team_id, tm.deleted.is_(False))
    rows = session.scalars(
        select(Break)
        .where(Break.agent_id.in_(members), Break.starts_at >= start, Break.starts_at < end)
        .order_by(Break.starts_at, Break.id)
    ).all()
    return [_view(session, b) for b in rows]


def offered_lengths(settings: Settings | None = None) -> list[int]:
    """The break lengths to offer: :data:`LENGTHS` from the shortest pause that counts as a break."""
    shortest = (settings or get_settings()).break_min_minutes
    return sorted({shortest, *LENGTHS} & set(range(shortest, MAX_BREAK_MINUTES + 1)))


def planner_teams(session: Session, viewer: Viewer) -> list[Team]:
    """The teams a lead plans breaks for, by name; anyone else is refused (and audited)."""
    require_role(session, viewer, Role.lead, action="plan breaks as")
    return list(
        session.scalars(
            select(Team)
            .where(Team.id.in_(viewer.team_ids or {-1}), Team.deleted.is_(False))
            .order_by(Team.name, Team.id)
        ).all()
    )


def team_members(session: Session, viewer: Viewer, team_id: int) -> list[tuple[int, str]]:
    """``(agent id, name)`` of the team's current agents, by name: whom a lead can plan a break for."""
    require_role(session, viewer, Role.lead, action="plan breaks as")
    check_team(session, viewer, team_id)
    _team(session, team_id)
    return sorted(((a_id, a.name) for a_id, a in _members(session, team_id).items()), key=lambda x: x[::-1])


def pending_requests(session: Session, viewer: Viewer, team_id: int, now: datetime) -> list[BreakView]:
    """Break requests of the team's agents still waiting for a lead (not yet over), by start."""
    require_role(session, viewer, Role.lead, action="decide break requests as")
    check_team(session, viewer, team_id)
    _team(session, team_id)
    tm = TeamMembership.__table__.c
    members = select(tm.agent_id).where(tm.team_id == team_id, tm.deleted.is_(False))
    rows = session.scalars(
        select(Break)
        .where(
            Break.agent_id.in_(members),
            Break.status == REQUESTED,
            Break.ends_at > _aware(now, "now"),
        )
        .order_by(Break.starts_at, Break.id)
    ).all()
    return [_view(session, b) for b in rows]

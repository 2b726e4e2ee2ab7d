"""The lead's team overview: agents × days of one indicator, who is over a threshold and for how long,
and the queue's load today. Every read takes the viewer; the privacy profile is applied here.

Per-agent or team level
    Under ``AX_PRIVACY_PROFILE=team_only`` no function here returns an agent's name or an agent's
    own number to a lead: the heatmap has one "Team" row (team figures per day), and "above
    threshold" becomes a count of agents. Pages cannot undo that, because the rows never leave.
Unknown is not zero
    Occupancy, longest stretch, logged-in time and overtime come from status intervals; an
    agent-day without them is "no status data", drawn as such, never as 0 and never counted as
    under (or over) a threshold.
Which days
    ``agent_day`` days are each agent's local days; the window ends on the viewer's local today.
    "The last 5 working days" are an agent's last 5 days with a row, as in :mod:`ax.risk`, and
    the thresholds are the ones the risk drivers use, so the overview and the risk level agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, case, func, select
from sqlmodel import Session

from ax.access import Viewer, check_team, require_role
from ax.breaks import LiveQueue, live_queue
from ax.lead_visible import FIGURE_COLUMNS, team_figures
from ax.privacy import Period
from ax.settings import Settings, get_settings
from ax.team_indicators import LIVE_CHANNELS
from ax.wording import duration_text, shown
from ax.workload import agents_today, local_today
from db.models import Agent, AgentDay, Contact, QueueSnapshot, Role, Team, TeamDay, TeamMembership

HEATMAP_DAYS = 14
RECENT_DAYS = 5  # "of the last 5 working days", as the risk drivers count
CURRENT_WITHIN = timedelta(days=3)  # a latest working day older than this is not "now"
NO_STATUS = "no status data"
SO_FAR = "not in yet"  # the agent's today, still going: status intervals arrive once they end
TEAM_ROW = "Team"
LATEST_COLUMNS = ["agent", "day", "so_far", *FIGURE_COLUMNS]


@dataclass(frozen=True)
class Indicator:
    """One heatmap indicator: its per-agent figure (:data:`ax.lead_visible.FIGURES`), its team figure."""

    key: str
    label: str
    figure: str  # column of ax.lead_visible's per-agent days, in display units
    team: Callable[[pd.DataFrame], pd.Series]  # per day over a team's raw agent_day rows, same units
    fmt: str  # d3 format for the chart
    threshold: Callable[[Settings], float | None] = lambda _: None
    needs_status: bool = False  # unknown (not zero) without status intervals

    def describe_threshold(self, settings: Settings) -> str | None:
        limit = self.threshold(settings)
        if limit is None:
            return None
        shown = f"{limit:.0%}" if self.fmt.endswith("%") else f"{limit:g}"
        return f"above {shown}"


def _per(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    return numerator / denominator.where(denominator > 0)


def _team_occupancy(f: pd.DataFrame) -> pd.Series:
    known = f[f["occupancy"].notna() & (f["on_queue_seconds"] > 0)]
    grouped = known.assign(busy=known["occupancy"] * known["on_queue_seconds"]).groupby("day")
    return _per(grouped["busy"].sum(), grouped["on_queue_seconds"].sum())


def _sum_known(column: str, scale: float = 1.0) -> Callable[[pd.DataFrame], pd.Series]:
    """Team sum of a column that may be unknown: a day where nobody has it stays unknown."""
    return lambda f: f.groupby("day")[column].sum(min_count=1) / scale


def _team_aht(f: pd.DataFrame) -> pd.Series:
    by_day = f.groupby("day")
    return _per(by_day["handle_seconds"].sum(), by_day["contacts"].sum()) / 60


INDICATORS: dict[str, Indicator] = {
    i.key: i
    for i in (
        Indicator(
            "occupancy",
            "Occupancy",
            "occupancy",
            _team_occupancy,
            ".0%",
            lambda s: s.occupancy_alert,
            needs_status=True,
        ),
        Indicator("contacts", "Contacts", "contacts", _sum_known("contacts"), ",.0f"),
        Indicator("aht", "AHT (min)", "aht_minutes", _team_aht, ".1f"),
        Indicator("back_to_back", "Back-to-back", "back_to_back", _sum_known("back_to_back"), ",.0f"),
        Indicator(
            "longest_stretch",
            "Longest stretch (min)",
            "longest_stretch_minutes",
            # the team's median day: a maximum would be one person's number under "team level only"
            lambda f: f.groupby("day")["longest_stretch_seconds"].median() / 60,
            ",.0f",
            lambda s: float(s.stretch_warning_minutes),
            needs_status=True,
        ),
        Indicator(
            "logged_in",
            "Logged-in hours",
            "logged_in_hours",
            lambda f: f.groupby("day")["logged_in_seconds"].mean() / 3600,
            ".1f",
            lambda s: s.long_day_hours,
            needs_status=True,
        ),
        Indicator(
            "overtime",
            "Overtime (h)",
            "overtime_hours",
            _sum_known("overtime_seconds", 3600),
            ".1f",
            needs_status=True,
        ),
        Indicator("hard_contacts", "Hard contacts", "hard_contacts", _sum_known("hard_contacts"), ",.0f"),
    )
}
TEAM_COLUMNS = (
    "contacts",
    "handle_seconds",
    "occupancy",
    "on_queue_seconds",
    "back_to_back",
    "longest_stretch_seconds",
    "logged_in_seconds",
    "overtime_seconds",
    "hard_contacts",
)


def _members(session: Session, team_id: int) -> dict[int, str]:
    tm = TeamMembership.__table__.c
    ag = Agent.__table__.c
    rows = session.execute(
        select(ag.id, ag.name)
        .join(TeamMembership.__table__, tm.agent_id == ag.id)
        .where(tm.team_id == team_id, tm.deleted.is_(False), ag.deleted.is_(False))
    )
    return {agent_id: name for agent_id, name in rows}


def _team(session: Session, viewer: Viewer, team_id: int) -> Team:
    require_role(session, viewer, Role.lead, action="view the team overview as")
    check_team(session, viewer, team_id)
    team = session.get(Team, team_id)
    if team is None or team.deleted:
        raise LookupError(f"team {team_id} does not exist")
    return team


def per_agent_allowed(settings: Settings | None = None) -> bool:
    """Whether leads may see operational numbers per agent (the deployment's privacy profile)."""
    return (settings or get_settings()).privacy_profile == "per_agent"


def _agent_days(
    session: Session, agent_ids: list[int], since: date, columns: tuple[str, ...]
) -> pd.DataFrame:
    ad = AgentDay.__table__.c
    rows = session.execute(
        select(ad.agent_id, ad.day, *[ad[c] for c in columns]).where(
            ad.agent_id.in_(agent_ids), ad.day >= since
        )
    ).all()
    return pd.DataFrame(rows, columns=["agent_id", "day", *columns])


# --- the team's picture and its heatmap ------------------------------------------------------------


@dataclass(frozen=True)
class TeamPicture:
    """Everything the overview draws per agent or per team, read once per team (pages cache it).

    Per-agent rows come from :func:`ax.lead_visible.team_figures`, the same rows the agent's
    "What my lead sees" page shows; under ``team_only`` there are none and ``team_days`` holds
    the team's figure per day for every indicator instead.
    """

    team_id: int
    team: str
    per_agent: bool
    days: list[date]  # every day of the window, oldest first
    agents: int  # team members
    # agent, day, FIGURE_COLUMNS, so_far (the agent's own today, still filling in); empty under team_only
    agent_days: pd.DataFrame
    risk: pd.DataFrame  # agent, level, drivers: workload-only levels (empty under team_only)
    team_days: pd.DataFrame  # day + one column per indicator key (empty under per_agent)
    # per agent, their latest worked day that is over, else today so far (AgentFigures.latest):
    # agent, day, so_far (True: the agent's today, figures still coming in), FIGURE_COLUMNS
    latest: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LATEST_COLUMNS))

    @property
    def empty(self) -> bool:
        return self.agent_days.empty and self.team_days.empty


def team_picture(session: Session, viewer: Viewer, team_id: int, *, days: int = HEATMAP_DAYS) -> TeamPicture:
    """The team's last ``days`` days: the lead's per-agent figures, or team figures only if so configured."""
    team = _team(session, viewer, team_id)
    members = _members(session, team_id)
    figures = team_figures(session, viewer, team_id, days=days)
    # the days are the agents' own local days: up to the latest one begun, so an agent ahead of
    # the lead (Kolkata seen from UTC in the evening) has today's column too
    end = max([local_today(viewer.timezone), *(a.today for a in figures.agents)])
    window = [end - timedelta(days=n) for n in range(days - 1, -1, -1)]
    agent_days = pd.DataFrame(columns=["agent", "day", *FIGURE_COLUMNS, "so_far"])
    latest = pd.DataFrame(columns=LATEST_COLUMNS)
    risk = pd.DataFrame(columns=["agent", "level", "drivers"])
    team_days = pd.DataFrame(columns=["day", *INDICATORS])
    if figures.per_agent:
        if not figures.days.empty:
            names = {a.agent_id: a.name for a in figures.agents}
            today = {a.agent_id: a.today for a in figures.agents}
            rows = figures.days
            agent_days = rows.assign(
                agent=rows["agent_id"].map(names), so_far=rows["day"] >= rows["agent_id"].map(today)
            )[["agent", "day", *FIGURE_COLUMNS, "so_far"]]
        latest = pd.DataFrame(
            [
                (a.name, row["day"], a.in_progress(row["day"]), *row[FIGURE_COLUMNS])
                for a in figures.agents
                if (row := a.latest) is not None
            ],
            columns=LATEST_COLUMNS,
        )
        risk = pd.DataFrame(
            [
                (
                    a.name,
                    a.risk.level.value if a.risk.level else None,
                    "; ".join(d.text for d in a.risk.drivers),
                )
                for a in figures.agents
            ],
            columns=["agent", "level", "drivers"],
        )
    elif members:
        raw = _agent_days(session, list(members), window[0], TEAM_COLUMNS)
        if not raw.empty:
            team_days = pd.DataFrame({key: ind.team(raw) for key, ind in INDICATORS.items()})
            team_days = team_days.rename_axis("day").reset_index()
    return TeamPicture(
        team_id, team.name, figures.per_agent, window, len(members), agent_days, risk, team_days, latest
    )


def heatmap_cells(picture: TeamPicture, indicator: str, settings: Settings | None = None) -> pd.DataFrame:
    """Only what the chart needs: row, day, value, label, state ("above", "normal", NO_STATUS,
    or SO_FAR: unknown on the agent's today, whose status data comes in as intervals end)."""
    ind = INDICATORS[indicator]
    settings = settings or get_settings()
    if picture.per_agent:
        f = picture.agent_days
        cells = f[["agent", "day", ind.figure, "so_far"]].set_axis(["row", "day", "value", "so_far"], axis=1)
    else:
        f = picture.team_days
        cells = pd.DataFrame({"row": TEAM_ROW, "day": f["day"], "value": f[indicator], "so_far": False})
    inside = (cells["day"] >= picture.days[0]) & (cells["day"] <= picture.days[-1])
    cells = cells[inside].reset_index(drop=True)
    cells["value"] = pd.to_numeric(cells["value"], errors="coerce").astype(float)
    threshold = ind.threshold(settings)
    unknown = cells["value"].isna()
    state = np.where(unknown, NO_STATUS if ind.needs_status else "no data", "normal")
    state = np.where(unknown & cells["so_far"].astype(bool), SO_FAR, state)
    if threshold is not None:
        state = np.where(cells["value"] > threshold, "above", state)
    cells["state"] = state
    cells["label"] = _labels(cells["value"], ind.fmt, cells["state"] == "above")
    cells["label"] = cells["label"].where(cells["state"] != SO_FAR, "…")
    cells = cells.drop(columns="so_far")
    cells["day"] = pd.to_datetime(cells["day"]).dt.strftime("%a %d %b")
    return cells.sort_values(["row"], kind="stable", ignore_index=True)


def _labels(values: pd.Series, fmt: str, above: pd.Series) -> pd.Series:
    """Cell text: the number, "▲" when over the threshold (so colour is not the only signal), "n/a"."""
    if fmt.endswith("%"):
        text = shown((values * 100).round(), "{:.0f}%", "n/a")
    elif fmt.endswith(".1f"):
        text = shown(values, "{:.1f}", "n/a")
    else:
        text = shown(values.round(), "{:,.0f}", "n/a")
    return text.where(~above, text + " ▲")


# --- above thresholds now ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Signal:
    """A per-day threshold from :mod:`ax.risk`'s drivers, checked on each of the last working days."""

    key: str
    label: str
    column: str
    above: Callable[[pd.Series, Settings], pd.Series]  # NaN (unknown) compares False
    describe: Callable[[Settings], str]
    needs_status: bool = True


SIGNALS: tuple[Signal, ...] = (
    Signal(
        "occupancy",
        "Occupancy",
        "occupancy",
        lambda v, s: v > s.occupancy_alert,
        lambda s: f"occupancy above {s.occupancy_alert:.0%}",
    ),
    Signal(
        "long_day",
        "Long days",
        "logged_in_seconds",
        lambda v, s: v > s.long_day_hours * 3600,
        lambda s: f"more than {s.long_day_hours:g} h logged in",
    ),
    Signal(
        "no_breaks",
        "No breaks",
        "longest_stretch_seconds",
        lambda v, s: v > s.stretch_warning_minutes * 60,
        lambda s: f"more than {duration_text(s.stretch_warning_minutes * 60)} without a break",
    ),
    Signal(
        "hard_run",
        "Hard contacts between breaks",
        "hard_since_break_max",
        lambda v, s: v >= s.hard_since_break,
        lambda s: f"{s.hard_since_break} or more hard contacts between breaks",
    ),
)


@dataclass(frozen=True)
class Streak:
    """One agent (or, team level only, a count of agents) over one threshold on the latest working day."""

    who: str  # agent name, or "3 agents" under the team_only profile
    agent_id: int | None
    signal: str
    days_above: int  # of the last ``of_days`` working days
    of_days: int
    in_a_row: int
    latest_day: date
    text: str


def recent_signal_counts(
    session: Session, agent_ids: list[int], today: date, settings: Settings, now: datetime | None = None
) -> pd.DataFrame:
    """Per agent and signal on their latest working day (if recent): days above of the last 5, the run.

    An agent's own today (at ``now``) counts only once it is over the threshold: until then its
    figures are partial (status intervals arrive as they end, so a morning is "unknown"), and the
    days that are over say where the agent stands.

    No viewer: the alert job and :func:`over_thresholds` both call it, so an alert and the
    overview say the same thing. Columns: agent_id, signal, days_above, of_days, in_a_row,
    latest_day, now_above, unknown (the latest day had no status data).
    """
    columns = tuple({s.column for s in SIGNALS})
    frame = _agent_days(session, agent_ids, today - timedelta(days=21), columns) if agent_ids else None
    out = ["agent_id", "signal", "days_above", "of_days", "in_a_row", "latest_day", "now_above", "unknown"]
    if frame is None or frame.empty:
        return pd.DataFrame(columns=out)
    # sorted, so an agent's last row is their latest day ("last" is vectorised; "max" of dates is not)
    frame = frame[frame["day"] <= today].sort_values(["agent_id", "day"], ignore_index=True)
    in_progress = frame["day"] >= frame["agent_id"].map(agents_today(session, agent_ids, now))
    parts = []
    for signal in SIGNALS:
        values = frame[signal.column].astype(float)
        above = signal.above(values, settings).fillna(False).astype(bool)
        part = pd.DataFrame(
            {"agent_id": frame["agent_id"], "day": frame["day"], "above": above, "unknown": values.isna()}
        )[above | ~in_progress]
        part = part.groupby("agent_id").tail(RECENT_DAYS)
        part = part[part.groupby("agent_id")["day"].transform("last") >= today - CURRENT_WITHIN]
        grouped = part.groupby("agent_id")
        summary = grouped.agg(
            days_above=("above", "sum"), of_days=("above", "size"), latest_day=("day", "last")
        )
        last = grouped.tail(1).set_index("agent_id")
        summary["now_above"] = last["above"]
        summary["unknown"] = last["unknown"]
        # run of days above, counted back from the latest working day: newest first, a running
        # product stays 1 until the first day not above
        backwards = part.iloc[::-1]
        run = backwards["above"].astype(int).groupby(backwards["agent_id"]).cumprod()
        summary["in_a_row"] = run.groupby(backwards["agent_id"]).sum()
        summary["signal"] = signal.key
        parts.append(summary.reset_index())
    return pd.concat(parts, ignore_index=True)[out]


def streak_text(signal: Signal, days_above: int, of_days: int, in_a_row: int, settings: Settings) -> str:
    """E.g. "occupancy above 90% on 4 of the last 5 working days (3 in a row)"."""
    text = f"{signal.describe(settings)} on {days_above} of the last {of_days} working days"
    return text + (f" ({in_a_row} in a row)" if 1 < in_a_row < days_above else "")


@dataclass(frozen=True)
class OverThresholds:
    per_agent: bool
    streaks: list[Streak]  # sustained ones first
    no_status: int  # agents whose latest working day had no status data (unknown, not "fine")
    agents_recent: int  # agents with a recent working day


def over_thresholds(session: Session, viewer: Viewer, team_id: int) -> OverThresholds:
    """Who is over a threshold on their latest working day, and on how many of the last 5."""
    _team(session, viewer, team_id)
    settings = get_settings()
    members = _members(session, team_id)
    counts = recent_signal_counts(session, list(members), local_today(viewer.timezone), settings)
    per_agent = per_agent_allowed(settings)
    by_key = {s.key: s for s in SIGNALS}
    status_rows = counts[counts["signal"] == SIGNALS[0].key]
    no_status = int(status_rows["unknown"].sum())
    now = counts[counts["now_above"].astype(bool)].sort_values(
        ["days_above", "in_a_row"], ascending=False, kind="stable"
    )
    streaks: list[Streak] = []
    if per_agent:
        for row in now.itertuples():
            signal = by_key[row.signal]
            text = streak_text(signal, int(row.days_above), int(row.of_days), int(row.in_a_row), settings)
            streaks.append(
                Streak(
                    members[row.agent_id],
                    int(row.agent_id),
                    signal.label,
                    int(row.days_above),
                    int(row.of_days),
                    int(row.in_a_row),
                    row.latest_day,
                    text,
                )
            )
    else:
        for signal in SIGNALS:
            rows = now[now["signal"] == signal.key]
            if rows.empty:
                continue
            sustained = int((rows["days_above"] >= settings.sustained_days).sum())
            n = len(rows)
            text = (
                f"{n} agent{'s' if n > 1 else ''}: {signal.describe(settings)} on their latest working day"
                f"; {sustained} of them on {settings.sustained_days} or more of the last {RECENT_DAYS}"
            )
            streaks.append(
                Streak(
                    f"{n} agent{'s' if n > 1 else ''}",
                    None,
                    signal.label,
                    sustained,
                    n,
                    0,
                    rows["latest_day"].max(),
                    text,
                )
            )
    return OverThresholds(per_agent, streaks, no_status, len(status_rows))


# --- queue today -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueToday:
    live: LiveQueue
    hourly: pd.DataFrame  # hour (local start), waiting, longest_wait_minutes, service_level, answered
    service_level_today: float | None  # share of today's answered live contacts within the target
    answered_today: int
    target: float
    target_seconds: int


def queue_today(session: Session, viewer: Viewer, team_id: int, now: datetime) -> QueueToday:
    """Live load (waiting, longest wait, agents) and its trend per local hour since midnight."""
    _team(session, viewer, team_id)
    settings = get_settings()
    live = live_queue(session, viewer, team_id, now)
    zone = ZoneInfo(viewer.timezone)
    midnight = datetime.combine(now.astimezone(zone).date(), datetime.min.time(), zone)
    s = QueueSnapshot.__table__.c
    snaps = pd.DataFrame(
        session.execute(
            select(s.queue, s.at, s.waiting, s.longest_wait_seconds).where(
                s.team_id == team_id, s.deleted.is_(False), s.at >= midnight, s.at <= now
            )
        ).all(),
        columns=["queue", "at", "waiting", "longest_wait_seconds"],
    )
    c = Contact.__table__.c
    answered = (c.wait_seconds.is_not(None)) & (c.agent_id.is_not(None) | c.first_response_at.is_not(None))
    hour = _hour_bucket(c.created_at, midnight, now)
    within = func.sum(case((c.wait_seconds <= settings.service_level_seconds, 1), else_=0))
    # counted per hour in SQL: a busy team's day is thousands of contacts, the chart needs 24 rows
    contacts = pd.DataFrame(
        session.execute(
            select(hour.label("hour"), func.count().label("answered"), within.label("within"))
            .where(
                c.team_id == team_id,
                c.deleted.is_(False),
                c.channel.in_(LIVE_CHANNELS),
                c.created_at >= midnight,
                c.created_at <= now,
                answered,
            )
            .group_by(hour)
        ).all(),
        columns=["hour", "answered", "within"],
    )
    hourly = _hourly(snaps, contacts, midnight)
    total = int(contacts["answered"].sum())
    level = int(contacts["within"].sum()) / total if total else None
    return QueueToday(
        live,
        hourly,
        level,
        total,
        settings.service_level_target,
        settings.service_level_seconds,
    )


def _hour_of(at: pd.Series, midnight: datetime) -> pd.Series:
    seconds = (pd.to_datetime(at, utc=True) - pd.Timestamp(midnight)).dt.total_seconds()
    return (seconds // 3600).astype(int)


def _hour_bucket(at: ColumnElement, midnight: datetime, now: datetime) -> ColumnElement[int]:
    """Whole hours since local midnight: a CASE over the hour boundaries, the same SQL on both back ends."""
    hours = max(1, math.ceil((now - midnight).total_seconds() / 3600))
    return case(*[(at < midnight + timedelta(hours=h + 1), h) for h in range(hours)], else_=hours)


def _hourly(snaps: pd.DataFrame, contacts: pd.DataFrame, midnight: datetime) -> pd.DataFrame:
    """One row per local hour with any data: the peak per queue summed, the longest wait, the SL."""
    columns = ["hour", "waiting", "longest_wait_minutes", "service_level", "answered"]
    parts = []
    if not snaps.empty:
        snaps = snaps.assign(hour=_hour_of(snaps["at"], midnight))
        per_queue = snaps.groupby(["hour", "queue"]).agg(
            waiting=("waiting", "max"), longest=("longest_wait_seconds", "max")
        )
        per_hour = per_queue.groupby("hour").agg(waiting=("waiting", "sum"), longest=("longest", "max"))
        parts.append(
            per_hour.assign(longest_wait_minutes=per_hour["longest"] / 60)[
                ["waiting", "longest_wait_minutes"]
            ]
        )
    if not contacts.empty:
        service = contacts.set_index("hour")
        parts.append(
            service.assign(service_level=service["within"] / service["answered"])[
                ["service_level", "answered"]
            ]
        )
    if not parts:
        return pd.DataFrame(columns=columns)
    hourly = pd.concat(parts, axis=1).sort_index().reset_index(names="hour")
    hourly["hour"] = [midnight + timedelta(hours=int(h)) for h in hourly["hour"]]
    for column in columns:
        if column not in hourly:
            hourly[column] = np.nan
    return hourly[columns]


# --- workload next to survey results ---------------------------------------------------------------


def workload_by_period(session: Session, viewer: Viewer, team_id: int, periods: list[Period]) -> pd.DataFrame:
    """The team's workload per survey period (from ``team_day``): context for its morale figures.

    Team figures only (contacts, occupancy weighted by time on queue, overtime, share of hard
    contacts, agent-days over the occupancy threshold), so it may sit next to survey aggregates.
    A period without status data has occupancy unknown, not zero.
    """
    _team(session, viewer, team_id)
    columns = ["period", "contacts", "occupancy", "overtime_hours", "hard_share", "days_over_occupancy"]
    if not periods:
        return pd.DataFrame(columns=columns)
    td = TeamDay.__table__.c
    frame = pd.DataFrame(
        session.execute(
            select(
                td.day,
                td.contacts,
                td.occupancy,
                td.on_queue_seconds,
                td.overtime_seconds,
                td.hard_contacts,
                td.agents_over_occupancy,
            ).where(td.team_id == team_id, td.day >= periods[0].start, td.day < periods[-1].end)
        ).all(),
        columns=["day", "contacts", "occupancy", "on_queue", "overtime", "hard", "over"],
    )
    rows = []
    for period in periods:
        f = frame[(frame["day"] >= period.start) & (frame["day"] < period.end)]
        known = f[f["occupancy"].notna() & (f["on_queue"] > 0)]
        queue = known["on_queue"].sum()
        contacts = int(f["contacts"].sum())
        rows.append(
            (
                period.label,
                contacts if not f.empty else None,
                (known["occupancy"] * known["on_queue"]).sum() / queue if queue else None,
                f["overtime"].sum(min_count=1) / 3600 if not f.empty else None,
                f["hard"].sum() / contacts if contacts else None,
                int(f["over"].sum()) if not f.empty else None,
            )
        )
    return pd.DataFrame(rows, columns=columns)

"""Workload reads for the pages: each takes the viewer and returns only what that viewer may see.

All numbers come from the precomputed ``agent_day`` table (and, for an agent's own "by this time
of day" average, their own contacts); nothing here is derived from survey answers, so every
figure a lead sees about an agent is operational work data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import case, func, select
from sqlmodel import Session

from ax.access import Viewer, check_agent, require_role
from db.ingest import epoch_second, local_day
from db.models import Agent, AgentDay, Contact, Role, Team, TeamMembership
from db.types import utcnow

DAY_COLUMNS = [
    "day",
    "contacts",
    "contacts_email",
    "contacts_chat",
    "contacts_phone",
    "contacts_other",
    "handle_seconds",
    "hard_contacts",
    "csat_sum",
    "csat_count",
    "occupancy",
    "on_queue_seconds",
    "longest_stretch_seconds",
    "back_to_back",
    "logged_in_seconds",
    "overtime_seconds",
]


def local_today(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


def agents_today(session: Session, agent_ids: list[int], now: datetime | None = None) -> dict[int, date]:
    """Each agent's own local date at ``now``: their day still in progress, whose figures are
    partial (a morning's first contacts; status intervals arrive only once they end)."""
    now = now or utcnow()
    rows = session.execute(select(Agent.id, Agent.timezone).where(Agent.id.in_(agent_ids)))
    return {agent_id: local_day(now, timezone or "UTC") for agent_id, timezone in rows}


def teams_of_agent(session: Session, agent_id: int) -> set[int]:
    tm = TeamMembership.__table__.c
    rows = session.execute(select(tm.team_id).where(tm.agent_id == agent_id, tm.deleted.is_(False)))
    return {team_id for (team_id,) in rows}


def _with_derived(frame: pd.DataFrame) -> pd.DataFrame:
    """Add AHT (seconds per contact) and handle hours; empty days give no AHT, not zero."""
    frame = frame.copy()
    frame["handle_hours"] = frame["handle_seconds"] / 3600
    contacts = frame["contacts"].where(frame["contacts"] > 0)
    frame["aht_seconds"] = frame["handle_seconds"] / contacts
    csat = frame["csat_count"].where(frame["csat_count"] > 0)
    frame["csat_avg"] = frame["csat_sum"] / csat
    return frame


# --- agent: my workload ----------------------------------------------------------------------


@dataclass(frozen=True)
class SoFar:
    """The agent's 28-day average of what they had started by this clock time of day."""

    at: datetime  # now, in the agent's timezone
    contacts: float
    handle_hours: float


@dataclass
class MyWorkload:
    agent_name: str
    timezone: str
    today: date
    days: pd.DataFrame  # one row per worked local day, oldest first
    team_median: pd.DataFrame  # per day: median contacts and AHT of the agent's team(s)
    so_far: SoFar | None = None  # today's running totals compare with this, not a whole day

    @property
    def today_row(self) -> pd.Series | None:
        rows = self.days[self.days["day"] == self.today]
        return None if rows.empty else rows.iloc[0]

    @property
    def baseline(self) -> pd.Series | None:
        """Mean of the 28 days before today: the agent's own yardstick."""
        past = _baseline_days(self.days, self.today)
        if past.empty:
            return None
        return past[["contacts", "handle_hours", "aht_seconds", "hard_contacts"]].mean()


def _baseline_days(days: pd.DataFrame, today: date) -> pd.DataFrame:
    """The worked days of the 28 before ``today``."""
    return days[(days["day"] < today) & (days["day"] >= today - timedelta(days=28))]


def my_workload(
    session: Session, viewer: Viewer, *, days: int = 42, now: datetime | None = None
) -> MyWorkload:
    """The signed-in agent's own workload over ``days`` local days up to ``now`` (the clock's when
    None), with their team's median."""
    require_role(session, viewer, Role.agent, action="view own workload as")
    agent = session.get(Agent, viewer.agent_id)
    if agent is None:
        raise LookupError("your account is not linked to an agent yet; ask an administrator")
    team_ids = teams_of_agent(session, agent.id)
    check_agent(session, viewer, agent.id, team_ids_of_agent=team_ids)
    local_now = (now or utcnow()).astimezone(ZoneInfo(agent.timezone))
    today = local_now.date()
    since = today - timedelta(days=days - 1)
    ad = AgentDay.__table__.c
    rows = session.execute(
        select(*[ad[c] for c in DAY_COLUMNS]).where(ad.agent_id == agent.id, ad.day >= since).order_by(ad.day)
    ).all()
    frame = _with_derived(pd.DataFrame(rows, columns=DAY_COLUMNS))
    worked = list(_baseline_days(frame, today)["day"])
    return MyWorkload(
        agent.name,
        agent.timezone,
        today,
        frame,
        _team_median(session, team_ids, since),
        _so_far(session, agent.id, worked, local_now),
    )


def _so_far(session: Session, agent_id: int, worked: list[date], local_now: datetime) -> SoFar | None:
    """Mean contacts and handle hours the agent had started by ``local_now``'s clock time on each
    of their ``worked`` days: early in the day, today's running totals set against whole days
    would always read as far below the average.

    A contact counts at its work start (first response, else creation), with all its handle time,
    as it counts in today's totals. The clock time is the agent's local time on each day, so a
    day across a daylight-saving change compares at the same wall-clock time.
    """
    if not worked:
        return None
    zone = local_now.tzinfo
    c = Contact.__table__.c
    cutoff = case(
        {day: epoch_second(datetime.combine(day, local_now.time(), zone)) for day in worked}, value=c.work_day
    )
    contacts, handle = session.execute(
        select(func.count(), func.coalesce(func.sum(c.handle_seconds), 0)).where(
            c.agent_id == agent_id, c.work_day.in_(worked), c.work_start < cutoff, c.deleted.is_(False)
        )
    ).one()
    return SoFar(local_now, int(contacts) / len(worked), int(handle) / 3600 / len(worked))


def _team_median(session: Session, team_ids: set[int], since: date) -> pd.DataFrame:
    """Median contacts and AHT per day across the agent's team(s): a comparison, not a ranking."""
    columns = ["day", "contacts", "handle_seconds"]
    if not team_ids:
        return pd.DataFrame(columns=["day", "median_contacts", "median_aht_seconds"])
    ad = AgentDay.__table__.c
    tm = TeamMembership.__table__.c
    members = select(tm.agent_id).where(tm.team_id.in_(team_ids), tm.deleted.is_(False))
    rows = session.execute(
        select(ad.day, ad.contacts, ad.handle_seconds).where(ad.agent_id.in_(members), ad.day >= since)
    ).all()
    frame = pd.DataFrame(rows, columns=columns)
    frame["aht"] = frame["handle_seconds"] / frame["contacts"].where(frame["contacts"] > 0)
    grouped = frame.groupby("day").agg(
        median_contacts=("contacts", "median"), median_aht_seconds=("aht", "median")
    )
    return grouped.reset_index()


# --- lead: team workload ---------------------------------------------------------------------


def visible_teams(session: Session, viewer: Viewer) -> list[Team]:
    """Teams the viewer may look at: the ones a lead leads; every team for HR and admins."""
    require_role(session, viewer, Role.lead, Role.hr, Role.admin, action="list teams as")
    query = select(Team).where(Team.deleted.is_(False)).order_by(Team.name)
    if viewer.role == Role.lead:
        query = query.where(Team.id.in_(viewer.team_ids or {-1}))
    return list(session.scalars(query).all())


# --- HR: organisation summary ----------------------------------------------------------------


def _month_starts(today: date, months: int) -> list[date]:
    """First days of the last ``months`` calendar months up to ``today``'s, oldest first."""
    firsts = [today.replace(day=1)]
    for _ in range(months - 1):
        firsts.insert(0, (firsts[0] - timedelta(days=1)).replace(day=1))
    return firsts


def org_monthly_summary(session: Session, viewer: Viewer, *, months: int = 3) -> pd.DataFrame:
    """Per team per month: agents active, contacts, handle hours, AHT, CSAT. No individual rows.

    Summed in SQL per team and month (a CASE over the month boundaries, the same on both back
    ends): the page needs a dozen rows, not the organisation's agent-days.
    """
    require_role(session, viewer, Role.hr, Role.admin, action="view the organisation summary as")
    ad = AgentDay.__table__.c
    tm = TeamMembership.__table__.c
    tt = Team.__table__.c
    today = local_today(viewer.timezone)
    firsts = _month_starts(today, months)
    month = case(
        *[(ad.day < following, n) for n, following in enumerate(firsts[1:])], else_=len(firsts) - 1
    ).label("month")
    rows = session.execute(
        select(
            tt.name,
            month,
            func.count(ad.agent_id.distinct()),
            func.sum(ad.contacts),
            func.sum(ad.handle_seconds),
            func.sum(ad.hard_contacts),
            func.sum(ad.csat_sum),
            func.sum(ad.csat_count),
        )
        .select_from(
            AgentDay.__table__.join(TeamMembership.__table__, tm.agent_id == ad.agent_id).join(
                Team.__table__, tt.id == tm.team_id
            )
        )
        .where(ad.day >= firsts[0], tm.deleted.is_(False), tt.deleted.is_(False))
        .group_by(tt.name, month)
        .order_by(tt.name, month)
    ).all()
    counts = ["agents", "contacts", "handle_seconds", "hard_contacts", "csat_sum", "csat_count"]
    frame = pd.DataFrame(rows, columns=["team", "month", *counts])
    if frame.empty:
        return frame
    # the running month says so: its totals are not down, just not over yet
    labels = [f"{first:%b %Y}" for first in firsts[:-1]] + [f"{firsts[-1]:%b %Y} (to {today:%d %b})"]
    frame["month"] = [labels[n] for n in frame["month"]]
    frame[counts] = frame[counts].astype("int64")  # PostgreSQL sums of integers come back as Decimal
    summary = _with_derived(frame)
    summary["hard_share"] = summary["hard_contacts"] / summary["contacts"].where(summary["contacts"] > 0)
    return summary[
        ["team", "month", "agents", "contacts", "handle_hours", "aht_seconds", "csat_avg", "hard_share"]
    ]


def latest_data_day(session: Session) -> date | None:
    return session.execute(select(func.max(AgentDay.__table__.c.day))).scalar_one_or_none()

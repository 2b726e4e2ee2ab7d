"""What a lead may see about each agent, computed once for the lead's pages and the agent's own copy.

The lead's pages (:func:`team_figures`) and the agent's "What my lead sees" page
(:func:`figures_about_me`) both go through :func:`_agent_figures`, so the agent is shown exactly
the per-agent numbers their lead is shown, and the two cannot drift apart.

Everything here is work data from ``agent_day`` plus the workload-only stored risk level (what
:func:`ax.risk_view.lead_view_of_risk` returns, read for a whole team at once); no survey answer
reaches it. Under the ``team_only`` privacy profile a lead sees no per-agent rows at all, so both
functions return none.

Window: the last ``days`` local days *of each agent* (``agent_day.day`` is the agent's own
date), so the window does not depend on who is looking or in which timezone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import func, select
from sqlmodel import Session

from ax.access import Viewer, check_agent, check_team, require_role
from ax.audit import record_view
from ax.risk import Level, stored_drivers
from ax.risk_view import RiskView
from ax.settings import get_settings
from ax.workload import DAY_COLUMNS, _with_derived, local_today, teams_of_agent
from db.models import Agent, AgentDay, AgentRisk, LeadTeam, Role, Team, TeamMembership, User

WINDOW_DAYS = 14


@dataclass(frozen=True)
class Figure:
    """One per-agent number a lead can see: its column, its label and how to show it."""

    column: str
    label: str
    unit: str  # count, hours, minutes (a stretch: "5 h 21 min"), aht (an average: "8.6 min"), percent, score
    help: str


FIGURES: tuple[Figure, ...] = (
    Figure("contacts", "Contacts", "count", "Contacts you handled (all channels)."),
    Figure("contacts_email", "E-mail", "count", "E-mail contacts you handled."),
    Figure("contacts_chat", "Chat", "count", "Chat contacts you handled."),
    Figure("contacts_phone", "Phone", "count", "Calls you handled."),
    Figure("contacts_other", "Other channels", "count", "Social, messaging and other contacts."),
    Figure("handle_hours", "Handle time", "hours", "Talk + hold + wrap time."),
    Figure("aht_minutes", "Average handle time", "aht", "Handle time ÷ contacts."),
    Figure(
        "hard_contacts",
        "Hard contacts",
        "count",
        "Low CSAT (1-2 of 5), negative customer sentiment, or escalated.",
    ),
    Figure("csat_avg", "CSAT (customers' ratings)", "score", "Mean rating customers gave, 1-5."),
    Figure("occupancy", "Occupancy", "percent", "Time handling contacts ÷ time available for them."),
    Figure(
        "longest_stretch_minutes", "Longest stretch without a break", "minutes", "On queue without a pause."
    ),
    Figure("back_to_back", "Back-to-back contacts", "count", "Started right after the previous one ended."),
    Figure("logged_in_hours", "Logged-in time", "hours", "Time signed in to the helpdesk."),
    Figure("overtime_hours", "Overtime", "hours", "Logged-in time beyond the contracted day."),
)
FIGURE_COLUMNS = [f.column for f in FIGURES]


@dataclass(frozen=True)
class AgentFigures:
    """One agent as their lead sees them: per worked day in the window, and the workload-only level."""

    agent_id: int
    name: str
    days: pd.DataFrame  # columns: day + FIGURE_COLUMNS; one row per worked local day, oldest first
    risk: RiskView
    today: date  # the agent's own local date when read: that day's row is partial, still filling in

    @property
    def latest(self) -> pd.Series | None:
        """The latest worked day that is over, else today so far.

        A day off should not blank the picture, and a morning's first few contacts, before any
        status interval has ended, should not stand for the agent's day."""
        if self.days.empty:
            return None
        over = self.days[self.days["day"] < self.today]
        return (self.days if over.empty else over).iloc[-1]

    def in_progress(self, day: date) -> bool:
        """Whether ``day`` is the agent's today (or later): its figures are not final yet."""
        return day >= self.today


@dataclass(frozen=True)
class TeamFigures:
    team_id: int
    team_name: str
    per_agent: bool  # False under the team_only privacy profile: then ``agents`` is empty
    agents: list[AgentFigures]  # by name
    # the same rows as the agents' ``days``, all in one frame (agent_id, day, FIGURE_COLUMNS), in
    # the order of ``agents``: what a chart of the whole team needs, without gluing 250 frames
    days: pd.DataFrame = field(default_factory=lambda: _no_days())

    def of(self, agent_id: int) -> AgentFigures | None:
        return next((a for a in self.agents if a.agent_id == agent_id), None)


@dataclass(frozen=True)
class AboutMe:
    """What the signed-in agent's leads can see about them, and who those leads are."""

    per_agent: bool
    figures: AgentFigures | None  # None under the team_only profile: leads see no per-agent rows
    teams: list[str]
    leads: list[str]  # display names of the leads of the agent's teams


def _no_days() -> pd.DataFrame:
    """No rows, with the columns of :attr:`TeamFigures.days`."""
    return pd.DataFrame(columns=["agent_id", "day", *FIGURE_COLUMNS])


def _per_agent() -> bool:
    return get_settings().privacy_profile == "per_agent"


def _latest_risks(session: Session, agent_ids: list[int]) -> dict[int, RiskView]:
    """Each agent's latest stored, workload-only level, as :func:`ax.risk_view.lead_view_of_risk`
    reads it, but one query for a whole team (the callers have checked the viewer)."""
    latest = (
        select(AgentRisk.agent_id, func.max(AgentRisk.day).label("day"))
        .where(AgentRisk.agent_id.in_(agent_ids))
        .group_by(AgentRisk.agent_id)
        .subquery()
    )
    risks = session.scalars(
        select(AgentRisk).join(
            latest, (AgentRisk.agent_id == latest.c.agent_id) & (AgentRisk.day == latest.c.day)
        )
    ).all()
    found = {r.agent_id: RiskView(r.agent_id, r.day, Level(r.level), stored_drivers(r)) for r in risks}
    return {a: found.get(a, RiskView(a, None, None)) for a in agent_ids}


def _agent_figures(
    session: Session, agents: list[Agent], days: int
) -> tuple[pd.DataFrame, list[AgentFigures]]:
    """The shared computation; the callers have checked the viewer may see every one of ``agents``.

    One read of ``agent_day`` and one of ``agent_risk`` for all of them, split per agent by a
    groupby. Returns every agent's rows in one frame too (agent_id, day, FIGURE_COLUMNS).
    """
    if not agents:
        return _no_days(), []
    today = {a.id: local_today(a.timezone or "UTC") for a in agents}
    since = {agent_id: day - timedelta(days=days - 1) for agent_id, day in today.items()}
    ad = AgentDay.__table__.c
    rows = session.execute(
        select(ad.agent_id, *[ad[c] for c in DAY_COLUMNS])
        .where(ad.agent_id.in_(list(since)), ad.day >= min(since.values()))
        .order_by(ad.agent_id, ad.day)
    ).all()
    frame = _with_derived(pd.DataFrame(rows, columns=["agent_id", *DAY_COLUMNS]))
    frame["aht_minutes"] = frame["aht_seconds"] / 60
    frame["longest_stretch_minutes"] = frame["longest_stretch_seconds"] / 60
    frame["logged_in_hours"] = frame["logged_in_seconds"] / 3600
    frame["overtime_hours"] = frame["overtime_seconds"] / 3600
    frame = frame[frame["day"] >= frame["agent_id"].map(since)]  # each agent's own window
    order = {agent.id: n for n, agent in enumerate(agents)}
    frame = frame.sort_values("agent_id", key=lambda ids: ids.map(order), kind="stable", ignore_index=True)
    per_agent = dict(iter(frame.groupby("agent_id", sort=False)[["day", *FIGURE_COLUMNS]]))
    empty = frame.iloc[0:0][["day", *FIGURE_COLUMNS]]
    risks = _latest_risks(session, list(since))
    return frame[["agent_id", "day", *FIGURE_COLUMNS]], [
        AgentFigures(
            agent_id=agent.id,
            name=agent.name,
            days=per_agent.get(agent.id, empty).reset_index(drop=True),
            risk=risks[agent.id],
            today=today[agent.id],
        )
        for agent in agents
    ]


def team_figures(session: Session, viewer: Viewer, team_id: int, *, days: int = WINDOW_DAYS) -> TeamFigures:
    """Per-agent numbers of a team the viewer leads (none under the team_only privacy profile)."""
    require_role(session, viewer, Role.lead, action="view per-agent team numbers as")
    check_team(session, viewer, team_id)
    team = session.get(Team, team_id)
    if team is None or team.deleted:
        raise LookupError(f"team {team_id} does not exist")
    if not _per_agent():
        return TeamFigures(team_id, team.name, False, [])
    tm = TeamMembership.__table__.c
    members = select(tm.agent_id).where(tm.team_id == team_id, tm.deleted.is_(False))
    agents = session.scalars(
        select(Agent).where(Agent.id.in_(members), Agent.deleted.is_(False)).order_by(Agent.name, Agent.id)
    ).all()
    frame, figures = _agent_figures(session, list(agents), days)
    what, target = "per-agent work figures", f"team {team_id}"
    record_view(session, viewer, what=what, target=target, filters={"days": days})
    return TeamFigures(team_id, team.name, True, figures, frame)


def figures_about_me(session: Session, viewer: Viewer, *, days: int = WINDOW_DAYS) -> AboutMe:
    """The signed-in agent's own copy of what their leads see about them."""
    require_role(session, viewer, Role.agent, action="view what a lead sees about oneself as")
    agent = session.get(Agent, viewer.agent_id) if viewer.agent_id is not None else None
    if agent is None:
        raise LookupError("your account is not linked to an agent yet; ask an administrator")
    team_ids = teams_of_agent(session, agent.id)
    check_agent(session, viewer, agent.id, team_ids_of_agent=team_ids)
    teams = session.scalars(
        select(Team.name).where(Team.id.in_(team_ids or {-1}), Team.deleted.is_(False)).order_by(Team.name)
    ).all()
    lt = LeadTeam.__table__.c
    leads = session.scalars(
        select(User.display_name)
        .where(
            User.id.in_(select(lt.user_id).where(lt.team_id.in_(team_ids or {-1}))),
            User.role == Role.lead.value,
            User.disabled.is_(False),
        )
        .order_by(User.display_name)
        .distinct()
    ).all()
    figures = _agent_figures(session, [agent], days)[1][0] if _per_agent() else None
    return AboutMe(_per_agent(), figures, list(teams), list(leads))

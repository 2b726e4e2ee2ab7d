"""Load the demo helpdesk through the real connector path and create one account per role."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ax.accounts import create_user, demo_users_exist, viewer_for
from ax.breaks import request_break, schedule_break
from ax.compute import run_compute
from connectors.contract import run_sync
from connectors.demo import SOURCE, DemoHelpdesk
from db.ingest import PageResult
from db.models import Agent, Role, Team, User


def load_demo(
    engine: Engine,
    *,
    agents: int,
    days: int,
    seed: int,
    password: str,
    end: date | None = None,
    now: datetime | None = None,
    batch_size: int = 5000,
    progress: Callable[[str, PageResult], None] | None = None,
) -> dict[str, PageResult]:
    """Sync the demo source (resuming from its cursors), compute indicators, add demo accounts."""
    helpdesk = DemoHelpdesk(agents=agents, days=days, seed=seed, end=end, now=now)
    results = run_sync(engine, helpdesk, batch_size=batch_size, progress=progress)
    run_compute(engine, full=True)
    with Session(engine) as session:
        if not demo_users_exist(session):
            _create_demo_users(session, helpdesk, password)
            session.commit()
            _create_demo_breaks(session, helpdesk, now or datetime.now(UTC))
    return results


def _create_demo_users(session: Session, helpdesk: DemoHelpdesk, password: str) -> None:
    """agent: a Technical Support agent who is drifting into overload; lead: Billing + Tech Support."""
    featured = next(a for a in helpdesk.agents if a.drifting)
    agent = session.exec(
        select(Agent).where(Agent.source == SOURCE, Agent.external_id == featured.external_id)
    ).one()
    teams = {t.external_id: t.id for t in session.exec(select(Team).where(Team.source == SOURCE)).all()}
    create_user(
        session,
        username="agent",
        password=password,
        role=Role.agent,
        display_name=agent.name,
        agent_id=agent.id,
        is_demo=True,
    )
    create_user(
        session,
        username="lead",
        password=password,
        role=Role.lead,
        display_name="Lea Lead",
        lead_team_ids=[teams["team-tech"], teams["team-billing"]],
        is_demo=True,
    )
    create_user(session, username="hr", password=password, role=Role.hr, display_name="Hana HR", is_demo=True)
    create_user(
        session, username="admin", password=password, role=Role.admin, display_name="Adam Admin", is_demo=True
    )


DEMO_BREAK_LEAD = timedelta(minutes=20)  # the lead's planned break starts this far ahead (or later)


def _demo_break_start(helpdesk: DemoHelpdesk, now: datetime) -> datetime:
    """A start in the featured agent's working hours, at least 20 min from ``now``, on a 5-minute mark."""
    featured = next(a for a in helpdesk.agents if a.drifting)
    zone = ZoneInfo(featured.team.timezone)
    soon = now + DEMO_BREAK_LEAD
    soon += timedelta(minutes=-soon.minute % 5, seconds=-soon.second, microseconds=-soon.microsecond)
    local = soon.astimezone(zone)
    if featured.start_hour + 1 <= local.hour < featured.start_hour + 7:
        return soon
    day = local.date() if local.hour < featured.start_hour + 1 else local.date() + timedelta(days=1)
    return datetime.combine(day, time(featured.start_hour + 2), zone).astimezone(UTC)


def _create_demo_breaks(session: Session, helpdesk: DemoHelpdesk, now: datetime) -> None:
    """So "My breaks" and the lead's "Breaks" page have something to show: one break the lead
    planned for the demo agent, waiting for their answer, and one the agent asked for, waiting for
    the lead. Both go through the audited break workflow."""
    users = {u.username: u for u in session.exec(select(User).where(User.is_demo.is_(True))).all()}
    lead, agent = viewer_for(session, users["lead"]), viewer_for(session, users["agent"])
    assert agent.agent_id is not None
    start = _demo_break_start(helpdesk, now)
    schedule_break(session, lead, agent.agent_id, start, 10, "Quiet spell expected - take ten.", now=now)
    request_break(
        session,
        agent,
        15,
        "A short reset after a run of hard calls.",
        starts_at=start + timedelta(hours=2),
        now=now,
    )

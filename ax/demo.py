"""Load the demo helpdesk through the real connector path and create one account per role."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ax.accounts import create_user, demo_users_exist
from ax.compute import run_compute
from connectors.contract import run_sync
from connectors.demo import SOURCE, DemoHelpdesk
from db.ingest import PageResult
from db.models import Agent, Role, Team


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

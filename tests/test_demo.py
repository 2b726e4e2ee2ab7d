"""The demo helpdesk: deterministic, loaded through the real ingest path, and telling its story."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select
from sqlmodel import Session

from ax.demo import load_demo
from connectors.demo import TEAMS, DemoHelpdesk
from db.models import Agent, AgentDay, Contact, PulseAnswer, Team, TeamMembership, User
from db.records import ContactRecord, StatusIntervalRecord
from tests.conftest import DEMO_END, DEMO_NOW


def _all_records(helpdesk: DemoHelpdesk) -> list:
    return [r for s in helpdesk.streams() for page, _ in helpdesk.pages(s, None) for r in page]


def test_same_seed_same_data_other_seed_other_data():
    first = _all_records(DemoHelpdesk(agents=12, days=14, seed=3, end=DEMO_END, now=DEMO_NOW))
    again = _all_records(DemoHelpdesk(agents=12, days=14, seed=3, end=DEMO_END, now=DEMO_NOW))
    other = _all_records(DemoHelpdesk(agents=12, days=14, seed=4, end=DEMO_END, now=DEMO_NOW))
    assert first == again
    assert first != other


def test_generated_data_is_realistic():
    records = _all_records(DemoHelpdesk(agents=24, days=28, seed=7, end=DEMO_END, now=DEMO_NOW))
    contacts = [r for r in records if isinstance(r, ContactRecord)]
    channels = Counter(c.channel for c in contacts)
    assert {"email", "chat", "phone"} <= set(channels)
    assert all(c.handle_seconds > 0 and c.created_at.tzinfo is not None for c in contacts)
    phone = [c for c in contacts if c.channel == "phone"]
    assert all(c.talk_seconds + c.hold_seconds + c.wrap_seconds == c.handle_seconds for c in phone)
    assert 0.05 < sum(c.csat is not None for c in contacts) / len(contacts) < 0.6
    hours = Counter(c.created_at.hour for c in contacts)
    assert hours[3] < hours[11] / 20  # intraday pattern: nights are quiet
    breaks = [r for r in records if isinstance(r, StatusIntervalRecord) and r.status == "break"]
    assert breaks


def test_default_size_is_about_sixty_agents_in_four_teams():
    helpdesk = DemoHelpdesk(end=DEMO_END, now=DEMO_NOW)
    assert len(helpdesk.agents) == 60
    assert {a.team.key for a in helpdesk.agents} == {t.key for t in TEAMS}
    assert sum(a.drifting for a in helpdesk.agents) >= 2


def test_loading_twice_changes_nothing_and_creates_demo_accounts(engine):
    kwargs = dict(agents=12, days=21, seed=5, password="demo", end=DEMO_END, now=DEMO_NOW)
    load_demo(engine, **kwargs)
    with engine.connect() as conn:
        before = {
            m.__tablename__: conn.execute(select(func.count()).select_from(m)).scalar_one()
            for m in (Agent, Team, TeamMembership, Contact, PulseAnswer, AgentDay, User)
        }
    load_demo(engine, **kwargs)
    with engine.connect() as conn:
        after = {
            m.__tablename__: conn.execute(select(func.count()).select_from(m)).scalar_one()
            for m in (Agent, Team, TeamMembership, Contact, PulseAnswer, AgentDay, User)
        }
    assert before == after
    assert before["agent"] == 12 and before["team"] == 4 and before["ax_user"] == 4
    assert before["contact"] > 12 * 10 * 20


def _team_means(engine, since=None) -> dict[str, float]:
    """Mean handle hours per worked agent-day, by team."""
    ad, tm, tt = AgentDay.__table__.c, TeamMembership.__table__.c, Team.__table__.c
    query = (
        select(tt.name, func.avg(ad.handle_seconds) / 3600.0)
        .select_from(
            AgentDay.__table__.join(TeamMembership.__table__, tm.agent_id == ad.agent_id).join(
                Team.__table__, tt.id == tm.team_id
            )
        )
        .group_by(tt.name)
    )
    with engine.connect() as conn:
        return {name: float(value) for name, value in conn.execute(query)}


def test_story_billing_is_stretched_onboarding_is_fine_drifting_agents_slide(engine):
    load_demo(engine, agents=30, days=70, seed=7, password="demo", end=DEMO_END, now=DEMO_NOW)
    means = _team_means(engine)
    assert means["Billing"] > means["Onboarding"] + 0.5
    helpdesk = DemoHelpdesk(agents=30, days=70, seed=7, end=DEMO_END, now=DEMO_NOW)
    drifting = [a.external_id for a in helpdesk.agents if a.drifting]
    with Session(engine) as session:
        agent_id = session.exec(select(Agent.id).where(Agent.external_id == drifting[0])).scalar_one()
        days = (
            session.exec(select(AgentDay).where(AgentDay.agent_id == agent_id).order_by(AgentDay.day))
            .scalars()
            .all()
        )
        early = [d.handle_seconds for d in days[:15]]
        late = [d.handle_seconds for d in days[-15:]]
        worked_weekend = any(d.day.weekday() >= 5 for d in days[-20:])
        answers = (
            session.exec(
                select(PulseAnswer.value)
                .where(PulseAnswer.agent_id == agent_id, PulseAnswer.item_key == "who5_1")
                .order_by(PulseAnswer.answered_at)
            )
            .scalars()
            .all()
        )
    assert sum(late) / len(late) > sum(early) / len(early) * 1.1
    assert worked_weekend
    assert sum(answers[-2:]) / 2 < sum(answers[:3]) / 3

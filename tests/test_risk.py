"""Burnout risk: levels and drivers on hand-built days, the two views, and the demo's story."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session

from ax.access import AccessDenied, Viewer
from ax.compute import run_compute
from ax.demo import load_demo
from ax.indicators import Scope
from ax.risk import Level, rebuild_risk
from ax.risk_view import lead_view_of_risk, own_risk
from ax.settings import get_settings
from connectors.demo import DemoHelpdesk
from db.ingest import Ingestor
from db.models import Agent, AgentDay, AgentRisk, Role, TeamMembership, User
from db.records import (
    AgentRecord,
    ContactRecord,
    MembershipRecord,
    PulseAnswerRecord,
    StatusIntervalRecord,
    SurveyRecord,
    TeamRecord,
)
from tests.conftest import DEMO_END, DEMO_NOW

FIRST = date(2026, 3, 2)  # a Monday
NOW = datetime(2026, 3, 31, tzinfo=UTC)


def _agent_ids(engine, *names: str) -> dict[str, int]:
    Ingestor(engine, "t").write_page("all", [AgentRecord(n, n.title()) for n in names])
    with Session(engine) as session:
        return dict(session.exec(select(Agent.external_id, Agent.id)).all())


def _days(engine, agent_id: int, specs: list[dict], first: int = 0) -> None:
    """Agent-days on consecutive dates from FIRST, each an ordinary day overridden by ``spec``."""
    with Session(engine) as session:
        for i, spec in enumerate(specs, start=first):
            values = {
                "contacts": 40,
                "handle_seconds": 40 * 400,
                "occupancy": 0.75,
                "on_queue_seconds": 25000,
                "logged_in_seconds": 28800,
                "scheduled_seconds": 28800,
                "overtime_seconds": 0,
                "longest_stretch_seconds": 5400,
                "hard_since_break_max": 1,
                "consecutive_days": i + 1,
                **spec,
            }
            session.add(AgentDay(agent_id=agent_id, day=FIRST + timedelta(days=i), computed_at=NOW, **values))
        session.commit()


def _risk(engine) -> dict[int, AgentRisk]:
    with engine.begin() as conn:
        rebuild_risk(conn, Scope(), get_settings(), NOW)
    with Session(engine) as session:
        rows = session.exec(select(AgentRisk)).scalars().all()
    latest: dict[int, AgentRisk] = {}
    for row in rows:
        if row.agent_id not in latest or row.day > latest[row.agent_id].day:
            latest[row.agent_id] = row
    return latest


def _keys(risk: AgentRisk) -> list[str]:
    return [d["key"] for d in json.loads(risk.drivers)]


def test_levels_and_drivers_worked_by_hand(engine):
    ids = _agent_ids(engine, "steady", "busy", "over")
    # steady: one bad day of everything among the last 5 working days: nothing is sustained → low
    _days(engine, ids["steady"], [{}] * 4 + [{"occupancy": 0.97, "longest_stretch_seconds": 4 * 3600}])
    # busy: occupancy 0.95, 0.92, 0.80, 0.91, 0.93 → above 90% on 4 of 5; stretches of 3 h on 3 days
    busy = [0.95, 0.92, 0.80, 0.91, 0.93]
    long = [3 * 3600, 3 * 3600, 5400, 3 * 3600, 5400]
    _days(
        engine,
        ids["busy"],
        [{"occupancy": o, "longest_stretch_seconds": s} for o, s in zip(busy, long, strict=True)],
    )
    # over: the same plus 10 h logged in on 3 days, 5 hard contacts between breaks on 3 days,
    # and a 7th day in a row worked → 5 drivers
    over = [
        {"occupancy": o, "longest_stretch_seconds": s, "consecutive_days": 3 + i}
        for i, (o, s) in enumerate(zip(busy, long, strict=True))
    ]
    for i in (0, 2, 4):
        over[i] |= {"logged_in_seconds": 36000, "overtime_seconds": 7200, "hard_since_break_max": 5}
    _days(engine, ids["over"], over)
    latest = _risk(engine)
    steady, busy_risk, over_risk = latest[ids["steady"]], latest[ids["busy"]], latest[ids["over"]]
    assert (steady.level, steady.points, _keys(steady)) == ("low", 0, [])
    assert (busy_risk.level, busy_risk.points) == ("elevated", 2)
    texts = [d["text"] for d in json.loads(busy_risk.drivers)]
    assert texts == [
        "occupancy above 90% on 4 of the last 5 working days",
        "more than 2 h without a break on 3 of the last 5 working days",
    ]
    assert over_risk.level == "high"
    assert _keys(over_risk) == ["occupancy", "overtime", "no_breaks", "hard_contacts", "consecutive_days"]
    assert "7 days in a row worked" in over_risk.drivers


def test_one_bad_day_is_not_sustained_but_three_are(engine):
    ids = _agent_ids(engine, "x")
    _days(engine, ids["x"], [{}] * 6 + [{"occupancy": 0.95}] * 2)
    assert "occupancy" not in _keys(_risk(engine)[ids["x"]])
    _days(engine, ids["x"], [{"occupancy": 0.95}], first=8)  # now 3 of the last 5
    assert "occupancy" in _keys(_risk(engine)[ids["x"]])


def test_overtime_over_the_rolling_week(engine):
    ids = _agent_ids(engine, "w")
    # 7 days of 8 h scheduled = 56 h; 1 h over on each of 7 days = 7 h = 12.5% > 10%
    _days(engine, ids["w"], [{"logged_in_seconds": 32400, "overtime_seconds": 3600}] * 7)
    risk = _risk(engine)[ids["w"]]
    assert "7 h over schedule in the last 7 days (12%)" in risk.drivers
    assert (risk.level, risk.points) == ("elevated", 2)  # overtime and 7 days in a row


def _pulse(agent: str, key: str, at: datetime, who5: int, single: int) -> list:
    items = {f"who5_{i}": who5 for i in range(1, 6)} | {"single_burnout": single}
    return [SurveyRecord(key, key, "pulse", at - timedelta(days=6), at)] + [
        PulseAnswerRecord(f"{agent}-{key}-{item}", key, agent, item, at - timedelta(days=1), value)
        for item, value in items.items()
    ]


def _overloaded_history(agent: str) -> list:
    """Ten days of 10 h on queue with no break at all and 95% occupancy."""
    records: list = []
    for i in range(10):
        start = datetime.combine(FIRST + timedelta(days=i), datetime.min.time(), UTC) + timedelta(hours=8)
        records.append(
            StatusIntervalRecord(f"{agent}-s{i}", agent, "available", start, start + timedelta(hours=10))
        )
        records.append(
            ContactRecord(
                f"{agent}-c{i}",
                "phone",
                start,
                agent_external_id=agent,
                first_response_at=start,
                handle_seconds=34200,
            )
        )
    return records


def _viewer(
    session: Session, role: Role, agent_id: int | None = None, teams: frozenset[int] = frozenset()
) -> Viewer:
    """A signed-in user of ``role`` (a real account: a lead's views of an agent are audited under it)."""
    name = f"{role.value}-{agent_id}"
    user = User(username=name, display_name=role.value, role=role.value, agent_id=agent_id)
    session.add(user)
    session.flush()
    assert user.id is not None
    return Viewer(user.id, user.username, role.value, role, agent_id=agent_id, team_ids=teams)


@pytest.mark.parametrize("answers", [(5, 1), (0, 5)], ids=["thriving", "struggling"])
def test_lead_level_is_the_same_whatever_the_agent_answered(engine, answers):
    who5, single = answers
    ingest = Ingestor(engine, "t")
    ingest.write_page(
        "all",
        [
            TeamRecord("team", "Team"),
            AgentRecord("a", "Ana"),
            MembershipRecord("team", "a"),
            *_overloaded_history("a"),
            *_pulse("a", "w1", datetime(2026, 3, 6, tzinfo=UTC), 4, 1),
            *_pulse("a", "w2", datetime(2026, 3, 11, tzinfo=UTC), who5, single),
        ],
    )
    run_compute(engine, full=True)
    with Session(engine) as session:
        agent_id = session.exec(select(Agent.id)).scalar_one()
        team_id = session.exec(select(TeamMembership.team_id)).scalar_one()
        lead = lead_view_of_risk(session, _viewer(session, Role.lead, teams=frozenset({team_id})), agent_id)
        mine = own_risk(session, (agent := _viewer(session, Role.agent, agent_id)))
        seen_by_agent = lead_view_of_risk(session, agent, agent_id)
    # The lead's view: occupancy > 90%, 10 h days, no breaks for 10 h, 10 days in a row → high,
    # built from workload alone; the struggling and thriving runs must give the very same drivers.
    assert lead.level == Level.high
    assert [d.key for d in lead.drivers] == ["occupancy", "overtime", "no_breaks", "consecutive_days"]
    assert all(d.source == "workload" for d in lead.drivers)
    assert seen_by_agent == lead  # "what my lead sees about me" is exactly this
    survey_keys = [d.key for d in mine.drivers if d.source == "survey"]
    if who5 == 0:  # WHO-5 fell from 80 to 0 and single item 5: the agent's own view says so
        assert survey_keys == ["wellbeing", "burnout_item"]
        assert "fell from 80 to 0" in mine.drivers[-2].text
    else:
        assert survey_keys == []
    assert mine.level == Level.high


def test_own_risk_is_only_for_the_agent_themself(engine):
    ids = _agent_ids(engine, "a")
    with Session(engine) as session:
        from ax.accounts import create_user, viewer_for

        lead_user = create_user(
            session, username="lee", display_name="Lee", role=Role.lead, password="pw-123456789"
        )
        session.commit()
        with pytest.raises(AccessDenied):
            own_risk(session, viewer_for(session, lead_user))
        with pytest.raises(AccessDenied):  # a lead of no team of the agent
            lead_view_of_risk(session, viewer_for(session, lead_user), ids["a"])


def test_demo_story_overloaded_agents_are_flagged_healthy_team_is_low(engine):
    load_demo(engine, agents=30, days=60, seed=7, password="demo", end=DEMO_END, now=DEMO_NOW)
    helpdesk = DemoHelpdesk(agents=30, days=60, seed=7, end=DEMO_END, now=DEMO_NOW)
    with Session(engine) as session:
        ids = dict(session.exec(select(Agent.external_id, Agent.id)).all())
        last = session.exec(select(AgentRisk.day).order_by(AgentRisk.day.desc()).limit(1)).scalar_one()
        risks = {
            r.agent_id: r for r in session.exec(select(AgentRisk).where(AgentRisk.day == last)).scalars()
        }
    by_team: dict[str, list[AgentRisk]] = {}
    for agent in helpdesk.agents:
        risk = risks.get(ids[agent.external_id])
        if risk is not None:
            by_team.setdefault(agent.team.key, []).append(risk)
        if agent.drifting:
            assert risk is not None and risk.level in ("elevated", "high"), agent.name
            assert {"no_breaks", "overtime"} & set(_keys(risk)), _keys(risk)
    assert by_team["onboarding"] and all(r.level == "low" for r in by_team["onboarding"])
    billing = by_team["billing"]
    assert sum(r.level != "low" for r in billing) >= len(billing) / 2  # understaffed: most flagged

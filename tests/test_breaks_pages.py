"""Break pages and "What my lead sees" through Streamlit's AppTest, for every role, on SQLite and PostgreSQL.

The demo store ends yesterday, so the only live load is the hour :func:`add_live_hour` writes (through
the real ingest path) for Technical Support just before each test: 4 agents on the queue, 12 calls of
300 s in the last hour, so A = 1 Erlang; SL(20 s) is 98.3% with 4 agents, 92.0% with 3, 68.8% with 2
(target 80%): one agent at a time can go on a break.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import delete
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from ax.accounts import viewer_for
from ax.breaks import plan_breaks, request_break, schedule_break
from ax.compute import run_compute
from ax.demo import load_demo
from ax.lead_visible import figures_about_me, team_figures
from ax.risk_view import lead_view_of_risk, own_risk
from ax.settings import reset_settings
from ax.team_view import NO_STATUS
from db.ingest import Ingestor
from db.models import Agent, AuditEvent, Break, Team, TeamMembership, User
from db.records import ContactRecord, QueueSnapshotRecord, StatusIntervalRecord
from pages.common import LATER_CHOICE, SIGNED_IN_AT_KEY, VIEWER_KEY
from tests.conftest import BACKENDS, Store
from tests.test_pages import sign_in

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = str(ROOT / "dashboard.py")
MY_BREAKS, LEAD_VIEW, PLANNER = "pages/my_breaks.py", "pages/lead_view.py", "pages/breaks_planner.py"
TECH = "team-tech"
LIVE_CALLS, LIVE_HANDLE = 12, 300


def add_live_hour(engine, now: datetime, team: str = TECH, calls: int = LIVE_CALLS) -> list[str]:
    """The last hour of ``team`` as a connector would send it at ``now``; returns the members, by name.

    Every member is available since a different time (the first the longest), synced a minute ago;
    ``calls`` phone calls of 300 s spread over the hour, the first member's all escalated. Fixed
    external ids, so writing it again just moves the hour (upserts, no duplicates).
    """
    with Session(engine) as session:
        members = session.exec(
            select(Agent.external_id, Agent.name)
            .join(TeamMembership, TeamMembership.agent_id == Agent.id)
            .join(Team, Team.id == TeamMembership.team_id)
            .where(Team.external_id == team, TeamMembership.deleted.is_(False))
            .order_by(Agent.name)
        ).all()
    synced = now - timedelta(minutes=1)
    records: list = [
        StatusIntervalRecord(f"live-{ext}", ext, "available", now - timedelta(minutes=200 - 30 * i), synced)
        for i, (ext, _) in enumerate(members)
    ]
    step = timedelta(minutes=50) / calls
    for i in range(calls):
        ext = members[i % len(members)][0]
        created = now - timedelta(minutes=55) + i * step
        records.append(
            ContactRecord(
                f"live-{team}-{i}",
                "phone",
                created,
                agent_external_id=ext,
                team_external_id=team,
                first_response_at=created + timedelta(seconds=15),
                handle_seconds=LIVE_HANDLE,
                talk_seconds=LIVE_HANDLE,
                escalated=ext == members[0][0],
            )
        )
    records.append(QueueSnapshotRecord(f"live-{team}", "Phone", synced, 1, 25, len(members), 1, team))
    Ingestor(engine, "demo").write_page("live", records)
    return [name for _, name in members]


@pytest.fixture(scope="module", params=BACKENDS)
def demo_store(request, tmp_path_factory):
    """A 12-agent demo org that ended yesterday (its own breaks are over), with today's live hour computed."""
    s = Store(request.param, str(tmp_path_factory.mktemp("breaks-pages")))
    from db.migrate import upgrade

    upgrade(s.engine)
    yesterday = datetime.now(UTC) - timedelta(days=1)
    load_demo(s.engine, agents=12, days=21, seed=11, password="demo", end=yesterday.date(), now=yesterday)
    add_live_hour(s.engine, datetime.now(UTC))
    run_compute(s.engine)
    yield s
    s.close()


@pytest.fixture
def store(demo_store, monkeypatch):
    """The shared demo store with no breaks and a fresh live hour, pointed at by the pages."""
    monkeypatch.setenv("AX_DATABASE_URL", demo_store.url)
    monkeypatch.setenv("AX_PRIVACY_PROFILE", "per_agent")
    reset_settings()
    with Session(demo_store.engine) as session:
        session.exec(delete(Break))
        session.commit()
    add_live_hour(demo_store.engine, datetime.now(UTC))
    yield demo_store
    reset_settings()


def viewer(store, username: str):
    with Session(store.engine) as session:
        return viewer_for(session, session.exec(select(User).where(User.username == username)).one())


def open_page(username: str, page: str | None = None) -> AppTest:
    """Sign in through the dashboard, then open ``page`` (a role's landing page is other tests' subject)."""
    app = AppTest.from_file(DASHBOARD, default_timeout=60).run()
    sign_in(app, username)
    assert app.session_state[VIEWER_KEY].username == username
    return app.switch_page(page).run() if page else app


def ok(app: AppTest) -> None:
    assert not app.exception, [e.value for e in app.exception]


def breaks(store) -> list[Break]:
    with Session(store.engine) as session:
        return list(session.exec(select(Break).order_by(Break.id)).all())


def audited(store, action: str) -> list[AuditEvent]:
    with Session(store.engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def texts(app: AppTest, kind: str) -> list[str]:
    return [element.value for element in getattr(app, kind)]


def chart_data(app: AppTest, index: int = 0) -> pd.DataFrame:
    """The main data set of the ``index``-th chart, as the browser receives it."""
    proto = app.get("vega_lite_chart")[index].proto
    name = json.loads(proto.spec)["data"]["name"]
    data = next(d for d in proto.datasets if d.name == name)
    return pa.ipc.open_stream(data.data.data).read_pandas()


def pick_team(app: AppTest, name: str, key: str = "breaks_team") -> AppTest:
    """Pick the team whose label starts with ``name`` (labels may add the requests waiting)."""
    box = app.selectbox(key=key)
    return box.select_index(next(i for i, t in enumerate(box.options) if t.startswith(name))).run()


# --- agent: My breaks ------------------------------------------------------------------------------


def test_agent_takes_a_break_the_lead_planned_and_the_lead_sees_the_answer(store):
    lead, agent = viewer(store, "lead"), viewer(store, "agent")
    with Session(store.engine) as session:
        planned = schedule_break(
            session, lead, agent.agent_id, datetime.now(UTC) + timedelta(minutes=30), 10, "Take ten"
        )

    app = open_page("agent", MY_BREAKS)
    ok(app)
    assert app.title[0].value == "My breaks"
    card = next(m for m in texts(app, "markdown") if m.startswith("**10 min,"))
    assert "planned by Lea Lead" in card and "waiting for your answer" in card
    assert "Note: Take ten" in texts(app, "caption")
    app.button(key=f"accept_{planned.id}").click().run()
    ok(app)
    assert "taken" in app.success[0].value
    assert [b.status for b in breaks(store)] == ["accepted"]
    assert any(":material/check_circle: agreed" in m for m in texts(app, "markdown"))
    assert [e.username for e in audited(store, "break_accepted")][-1] == "agent"

    lead_app = pick_team(open_page("lead", PLANNER), "Technical Support")
    ok(lead_app)
    plan = lead_app.dataframe[-1].value
    assert plan.loc[0, "Status"] == "accepted" and plan.loc[0, "Minutes"] == 10


def test_agent_declines_a_planned_break(store):
    lead, agent = viewer(store, "lead"), viewer(store, "agent")
    with Session(store.engine) as session:
        planned = schedule_break(session, lead, agent.agent_id, datetime.now(UTC) + timedelta(minutes=45), 5)
    app = open_page("agent", MY_BREAKS)
    app.button(key=f"decline_{planned.id}").click().run()
    ok(app)
    assert "declined" in app.success[0].value
    assert [b.status for b in breaks(store)] == ["declined"]
    assert "Nothing waiting for your answer" in " ".join(texts(app, "markdown"))
    assert app.dataframe[0].value["Status"].tolist() == ["declined"]  # under "Earlier and closed"


def test_agent_without_breaks_is_told_what_to_do(store):
    app = open_page("agent", MY_BREAKS)
    ok(app)
    shown = " ".join(texts(app, "markdown"))
    assert "When your lead plans a break for you, it shows up here." in shown
    assert "ask for one below" in shown


def test_agent_asks_for_a_break_now_and_the_lead_approves_it(store):
    app = open_page("agent", MY_BREAKS)
    app.select_slider(key="request_minutes").set_value(15)
    app.text_input(key="request_note").input("Rough call")
    app.button(key="FormSubmitter:request_break-Ask for this break").click().run()
    ok(app)
    assert "Asked for 15 min" in app.success[0].value
    (asked,) = breaks(store)
    assert (asked.status, asked.note) == ("requested", "Rough call")
    assert round((asked.ends_at - asked.starts_at).total_seconds()) == 15 * 60
    assert any("waiting for your lead" in m for m in texts(app, "markdown"))

    lead_app = pick_team(open_page("lead", PLANNER), "Technical Support")
    ok(lead_app)
    assert "Requests waiting for you (1)" in texts(lead_app, "subheader")
    asks = next(m for m in texts(lead_app, "markdown") if "asks for" in m)
    assert "**15 min," in asks and viewer(store, "agent").display_name in asks
    # the request starts now, so the page says what it does to the forecast: 3 left of 4 → 92.0%
    assert any("If taken now: Safe" in c and "92.0%" in c for c in texts(lead_app, "caption"))
    lead_app.button(key=f"approve_{asked.id}").click().run()
    ok(lead_app)
    assert "approved" in lead_app.success[0].value
    assert [b.status for b in breaks(store)] == ["accepted"]
    assert [e.username for e in audited(store, "break_request_approved")][-1] == "lead"

    app.run()
    assert any(":material/check_circle: agreed" in m for m in texts(app, "markdown"))


def test_a_request_in_the_past_is_refused_with_a_reason(store):
    app = open_page("agent", MY_BREAKS)
    earlier = (datetime.now(UTC) - timedelta(hours=2)).astimezone(ZoneInfo(viewer(store, "agent").timezone))
    app.radio(key="request_when").set_value(LATER_CHOICE)
    app.date_input(key="request_day").set_value(earlier.date())
    app.time_input(key="request_time").set_value(earlier.time().replace(second=0, microsecond=0))
    app.button(key="FormSubmitter:request_break-Ask for this break").click().run()
    ok(app)
    assert "would start in the past" in app.error[0].value
    assert breaks(store) == []


# --- lead: Breaks ----------------------------------------------------------------------------------


def test_lead_sees_live_load_ranked_candidates_and_the_forecast_chart(store):
    app = pick_team(open_page("lead", PLANNER), "Technical Support")
    ok(app)
    assert app.title[0].value == "Breaks"
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Arrivals"] == "12 / h"
    assert metrics["Handle time (AHT)"] == "5.0 min"
    assert metrics["On the queue"] == "4"
    assert metrics["Service level now"] == "98.3%"
    assert "Up to **1 agent** can be on a break" in app.info[0].value
    table = app.dataframe[0].value
    assert table["Rank"].tolist() == [1, 2, 3, 4]
    assert table["SL with 10 min"].tolist() == ["92.0%"] * 4
    assert table["SL without"].tolist() == ["98.3%"] * 4
    assert table["Longest safe break now"].tolist() == ["30 min"] * 4
    # ranked by recovery need: the first member has been on the queue longest and took every escalation
    with Session(store.engine) as session:
        lead = viewer(store, "lead")
        tech = next(t for t in session.exec(select(Team)).all() if t.external_id == TECH)
        plan = plan_breaks(session, lead, tech.id, datetime.now(UTC))
    assert table["Agent"].tolist() == [c.name for c in plan.candidates]
    assert plan.candidates[0].hard_since_break == 3
    chart = chart_data(app)
    assert len(chart) == 8  # each candidate with and without a 10-min break
    assert sorted(chart.loc[chart["scenario"] == "with this break", "service_level"].round(3)) == [0.92] * 4
    assert set(chart.loc[chart["scenario"] == "without this break", "service_level"].round(3)) == {0.983}

    app.segmented_control(key="plan_minutes").set_value(5).run()
    ok(app)
    assert "SL with 5 min" in app.dataframe[0].value.columns


def test_lead_schedules_a_break_now_for_the_top_candidate_and_the_agent_sees_it(store):
    app = pick_team(open_page("lead", PLANNER), "Technical Support")
    top = app.dataframe[0].value.loc[0, "Agent"]
    assert app.selectbox(key="schedule_agent").value is not None
    app.select_slider(key="schedule_minutes").set_value(15)
    app.text_input(key="schedule_note").input("Go now")
    app.button(key="FormSubmitter:schedule_break-Schedule break").click().run()
    ok(app)
    message = app.success[0].value
    assert f"Planned 15 min for {top}" in message and "Forecast: Safe" in message and "92.0%" in message
    (planned,) = breaks(store)
    assert planned.status == "planned" and planned.note == "Go now"
    assert abs((planned.starts_at - datetime.now(UTC)).total_seconds()) < 120
    # the plan now counts that break: nobody else can go at the same time
    assert "Nobody can go on a break right now" in app.info[0].value
    assert app.dataframe[-1].value["Agent"].tolist() == [top]
    assert [e.username for e in audited(store, "break_scheduled")][-1] == "lead"


def test_lead_schedules_a_break_for_later_and_calls_it_off(store):
    app = pick_team(open_page("lead", PLANNER), "Technical Support")
    later = (datetime.now(UTC) + timedelta(hours=3)).astimezone(ZoneInfo(viewer(store, "lead").timezone))
    app.radio(key="schedule_when").set_value(LATER_CHOICE)
    app.date_input(key="schedule_day").set_value(later.date())
    app.time_input(key="schedule_time").set_value(later.time().replace(second=0, microsecond=0))
    app.button(key="FormSubmitter:schedule_break-Schedule break").click().run()
    ok(app)
    assert "Planned 10 min" in app.success[0].value and "Forecast" not in app.success[0].value
    (planned,) = breaks(store)
    assert planned.starts_at == later.replace(second=0, microsecond=0)
    assert app.dataframe[-1].value["Status"].tolist() == ["planned"]
    app.button(key="cancel_break").click().run()
    ok(app)
    assert "called off" in app.success[0].value
    assert [b.status for b in breaks(store)] == ["cancelled"]


def test_lead_of_two_teams_picks_the_team_and_sees_requests_per_team(store):
    agent = viewer(store, "agent")
    with Session(store.engine) as session:
        request_break(session, agent, 10, starts_at=datetime.now(UTC) + timedelta(hours=1))
    app = open_page("lead", PLANNER)
    ok(app)
    box = app.selectbox(key="breaks_team")
    assert sorted(box.options) == ["Billing", "Technical Support (1 request waiting)"]
    pick_team(app, "Billing")
    ok(app)
    assert "Requests waiting for you (0)" in texts(app, "subheader")
    assert app.warning[0].value.startswith("**No forecast right now.**")  # Billing has no live hour
    assert {m.label: m.value for m in app.metric}["Service level now"] == "unknown"
    pick_team(app, "Technical Support")
    ok(app)
    assert "Requests waiting for you (1)" in texts(app, "subheader")
    assert any("The forecast covers now only" in c for c in texts(app, "caption"))
    (asked,) = breaks(store)
    app.button(key=f"decline_{asked.id}").click().run()
    ok(app)
    assert [b.status for b in breaks(store)] == ["declined"]


# --- refusals --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["agent", "hr", "admin"])
def test_only_leads_have_the_breaks_page(store, role):
    app = open_page(role)
    with pytest.raises(ValueError, match="registered"):
        app.switch_page(PLANNER)  # not in their navigation
    refused_on_direct_run(store, role, PLANNER, "may not plan breaks as")


@pytest.mark.parametrize("page", [MY_BREAKS, LEAD_VIEW])
@pytest.mark.parametrize("role", ["lead", "hr", "admin"])
def test_only_agents_have_my_breaks_and_what_my_lead_sees(store, role, page):
    app = open_page(role)
    with pytest.raises(ValueError, match="registered"):
        app.switch_page(page)
    asked = "may not view the breaks of" if page == MY_BREAKS else "may not view what a lead sees"
    refused_on_direct_run(store, role, page, asked)


def refused_on_direct_run(store, role: str, page: str, message: str) -> None:
    """Run the page file directly as ``role``: ax refuses, the page says so, and the refusal is audited."""
    before = len([e for e in audited(store, "access_denied") if e.username == role])
    direct = AppTest.from_file(str(ROOT / page), default_timeout=60)
    direct.session_state[VIEWER_KEY] = viewer(store, role)
    direct.session_state[SIGNED_IN_AT_KEY] = time.time()
    direct.run()
    ok(direct)
    assert message in direct.error[0].value and direct.error[0].value.startswith("Not allowed:")
    assert not direct.dataframe and not direct.metric and not direct.button
    assert len([e for e in audited(store, "access_denied") if e.username == role]) == before + 1


# --- agent: What my lead sees ----------------------------------------------------------------------


def test_what_my_lead_sees_equals_the_lead_team_overview_row(store):
    agent = viewer(store, "agent")
    app = open_page("agent", LEAD_VIEW)
    ok(app)
    assert app.title[0].value == "What my lead sees"
    assert "Lea Lead" in app.caption[0].value and "Technical Support" in app.caption[0].value
    mine = app.dataframe[0].value
    # newest first; the agent's today, if worked, is marked as partial and the headline skips it
    so_far = mine["Day"].str.endswith(" (so far)")
    assert not so_far.iloc[1:].any()
    latest = mine[~so_far].iloc[0]
    assert app.subheader[1].value == f"Latest worked day ({latest['Day']})"
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Contacts"] == f"{latest['Contacts']:.0f}"
    # the table's AHT, to the same tenth of a minute
    assert metrics["Average handle time"] == f"{latest['Average handle time (min)']:.1f} min"
    level = next(m for m in texts(app, "markdown") if m.startswith("**Level:"))

    # the same ax rows the lead's pages draw from
    with Session(store.engine) as session:
        lead = viewer(store, "lead")
        tech = next(t for t in session.exec(select(Team)).all() if t.external_id == TECH)
        theirs = team_figures(session, lead, tech.id).of(agent.agent_id)
        about = figures_about_me(session, agent)
        risk = lead_view_of_risk(session, lead, agent.agent_id)
    assert theirs is not None and about.figures is not None
    assert theirs.days.equals(about.figures.days)
    assert len(mine) == len(theirs.days)
    assert mine["Contacts"].tolist() == theirs.days["contacts"].iloc[::-1].astype(float).tolist()
    assert level.startswith(f"**Level: {risk.level.value}**")
    assert all(d.source == "workload" for d in risk.drivers)  # nothing from surveys
    for driver in risk.drivers:
        assert any(driver.text in m for m in texts(app, "markdown"))

    # and what the lead's Team overview page shows for that agent, column by column
    overview = pick_team(open_page("lead"), "Technical Support", key="team")
    ok(overview)
    row = None
    for frame in (d.value for d in overview.dataframe):
        if {"Agent", "Day"} <= set(frame.columns) and (frame["Agent"] == agent.display_name).any():
            row = frame[frame["Agent"] == agent.display_name].iloc[0]
    assert row is not None, "the Team overview shows no per-agent row for the agent"
    assert row["Day"] == latest["Day"]
    pairs = {
        "Contacts": "Contacts",
        "Hard contacts": "Hard contacts",
        "Back-to-back": "Back-to-back contacts",
        "AHT (min)": "Average handle time (min)",
    }
    compared = [lead_col for lead_col in pairs if lead_col in row.index]
    assert len(compared) >= 3
    for lead_col in compared:
        assert float(row[lead_col]) == pytest.approx(float(latest[pairs[lead_col]])), lead_col
    if "Occupancy" in row.index:  # unknown (no status data yet, e.g. just after midnight) on both
        occupancy = latest["Occupancy (%)"]
        assert row["Occupancy"] == (NO_STATUS if pd.isna(occupancy) else f"{occupancy / 100:.0%}")
    if "Risk (workload)" in row.index:
        assert row["Risk (workload)"] == risk.level.value


def test_what_my_lead_sees_under_team_level_only_says_the_lead_sees_nothing_per_agent(store, monkeypatch):
    monkeypatch.setenv("AX_PRIVACY_PROFILE", "team_only")
    reset_settings()
    app = open_page("agent", LEAD_VIEW)
    ok(app)
    assert "team level only" in app.info[0].value
    assert not app.dataframe and not app.metric
    assert not any(m.startswith("**Level:") for m in texts(app, "markdown"))
    with Session(store.engine) as session:
        tech = next(t for t in session.exec(select(Team)).all() if t.external_id == TECH)
        assert team_figures(session, viewer(store, "lead"), tech.id).agents == []


def test_no_survey_signal_reaches_what_my_lead_sees(store):
    """The demo agent's check-ins raise their own level; none of that shows on this page."""
    agent = viewer(store, "agent")
    with Session(store.engine) as session:
        own = own_risk(session, agent)
    from_surveys = [d.text for d in own.drivers if d.source == "survey"]
    assert from_surveys  # there is something that could leak
    app = open_page("agent", LEAD_VIEW)
    ok(app)
    shown = " ".join(texts(app, "markdown") + texts(app, "caption") + [m.label for m in app.metric])
    shown += " ".join(app.dataframe[0].value.columns)
    for text in [*from_surveys, "WHO-5", "CBI", "eNPS"]:
        assert text not in shown

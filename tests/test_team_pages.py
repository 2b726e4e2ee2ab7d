"""The lead's Team overview, Morale and Actions pages and the agent's "You said, we did" through
AppTest, for every role: a lead of two teams, the team_only privacy profile, and people who open a
page that is not theirs (refused by ax/, audited)."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func
from sqlmodel import Session, select
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from ax.accounts import create_user, viewer_for
from ax.settings import reset_settings
from ax.team_view import INDICATORS, NO_STATUS, SO_FAR, TeamPicture, heatmap_cells
from db.models import Agent, Alert, AuditEvent, Role, Team, TeamMembership, User
from db.types import utcnow
from pages.common import SIGNED_IN_AT_KEY, VIEWER_KEY
from tests.test_pages import DASHBOARD, demo_store, sign_in  # noqa: F401
from tests.test_survey_stats import Org as SurveyOrg
from tests.test_survey_stats import checkin

ROOT = Path(__file__).resolve().parent.parent
OVERVIEW, MORALE, ACTIONS, WE_DID = (
    "pages/team_overview.py",
    "pages/morale.py",
    "pages/actions.py",
    "pages/team_actions.py",
)
LEAD_PAGES = (OVERVIEW, MORALE, ACTIONS)
PASSWORD = "a long enough password"


@pytest.fixture
def store_env(demo_store, monkeypatch):  # noqa: F811
    monkeypatch.setenv("AX_DATABASE_URL", demo_store.url)
    reset_settings()
    return demo_store


def _ok(app: AppTest) -> None:
    assert not app.exception, [e.value for e in app.exception]


def _open(username: str, page: str | None = None) -> AppTest:
    app = AppTest.from_file(DASHBOARD, default_timeout=60).run()
    sign_in(app, username)
    _ok(app)
    return app.switch_page(page).run() if page else app


def _charts(app: AppTest) -> str:
    """Every chart's spec and inline rows, as text (what the browser receives)."""
    parts = []
    for chart in app.get("vega_lite_chart"):
        parts.append(chart.proto.spec)
        parts += [convert_arrow_bytes_to_pandas_df(d.data.data).to_csv() for d in chart.proto.datasets]
    return "\n".join(parts)


def _chart_rows(app: AppTest) -> pd.DataFrame:
    """The rows sent with the heatmap (the one layered chart on the page)."""
    [chart] = [c for c in app.get("vega_lite_chart") if '"layer"' in c.proto.spec]
    frames = [convert_arrow_bytes_to_pandas_df(d.data.data) for d in chart.proto.datasets]
    return pd.concat(frames) if frames else pd.DataFrame()


def _texts(app: AppTest) -> str:
    parts = [
        e.value
        for kind in ("title", "subheader", "markdown", "caption", "info", "warning", "success")
        for e in getattr(app, kind)
    ]
    parts += [df.value.to_csv() for df in app.dataframe]
    return "\n".join(str(p) for p in parts)


def _names(store) -> set[str]:
    with Session(store.engine) as s:
        return set(s.exec(select(Agent.name)).all())


def _team_members(store, team: str) -> set[str]:
    with Session(store.engine) as s:
        return set(
            s.exec(
                select(Agent.name)
                .join(TeamMembership, TeamMembership.agent_id == Agent.id)
                .join(Team, Team.id == TeamMembership.team_id)
                .where(Team.name == team)
            ).all()
        )


def _alert(store, team: str, text: str, *, on_agent: bool = False) -> int:
    with Session(store.engine) as s:
        team_id = s.exec(select(Team.id).where(Team.name == team)).one()
        agent_id = s.exec(select(TeamMembership.agent_id).where(TeamMembership.team_id == team_id)).first()
        alert = Alert(
            team_id=team_id,
            agent_id=agent_id if on_agent else None,
            kind="overload",
            day=utcnow().date(),
            text=text,
            dedupe_key=f"test:{text}",
        )
        s.add(alert)
        s.commit()
        return alert.id


# --- Team overview -----------------------------------------------------------------------------------


def test_lead_of_two_teams_sees_alerts_queue_heatmap_and_thresholds(store_env):
    _alert(store_env, "Billing", "Billing: 2 agents over 90% occupancy (test)")
    app = _open("lead")  # the lead's landing page
    _ok(app)
    assert app.title[0].value == "Team overview"
    assert [s.value for s in app.subheader] == [
        "Alerts to act on",
        "Queue now and today",
        "Agents × days",
        "Latest worked day per agent",
        "Over a threshold now",
    ]
    team_box = app.selectbox(key="team")
    assert sorted(team_box.options) == ["Billing", "Technical Support"]
    assert any("2 agents over 90% occupancy (test)" in m.value for m in app.markdown)
    assert {m.label.split(" (")[0] for m in app.metric} == {
        "Waiting now",
        "Longest wait now",
        "Service level today",
        "Agents on the queue",
    }
    billing = _chart_rows(app)
    assert set(billing.columns) <= {"row", "day", "value", "label", "state"}  # only what is drawn
    assert set(billing["row"]) <= _team_members(store_env, "Billing") and len(billing) <= 14 * len(
        set(billing["row"])
    )
    assert billing["label"].str.endswith("%").any()  # occupancy is the default indicator
    latest = app.dataframe[0].value
    assert set(latest["Agent"]) == set(billing["row"]) and latest["Contacts"].sum() > 0
    assert set(latest["Risk (workload)"]) <= {"low", "elevated", "high", "not computed"}
    assert not latest["Day"].str.endswith("(so far)").any()  # every demo agent has a day that has ended

    team_box.select_index(1).run()
    _ok(app)
    tech = _chart_rows(app)
    assert set(tech["row"]) <= _team_members(store_env, "Technical Support")
    assert set(tech["row"]).isdisjoint(set(billing["row"]))
    assert not any("(test)" in m.value for m in app.markdown)  # Billing's alert stays with Billing


@pytest.mark.parametrize("indicator", list(INDICATORS))
def test_every_indicator_draws_with_its_own_labels(store_env, indicator):
    app = _open("lead")
    app.segmented_control(key="indicator").set_value(indicator).run()
    _ok(app)
    rows = _chart_rows(app)
    assert not rows.empty and rows["label"].notna().all()
    assert set(rows["state"]) <= {"above", "normal", NO_STATUS, SO_FAR, "no data"}
    # its colour legend speaks the indicator's format (occupancy in %, not 0.92)
    [chart] = [c for c in app.get("vega_lite_chart") if '"layer"' in c.proto.spec]
    heat = json.loads(chart.proto.spec)["layer"][0]
    assert heat["encoding"]["color"]["legend"]["format"] == INDICATORS[indicator].fmt
    # and every day is named above its column (Vega would otherwise drop every other one)
    assert heat["encoding"]["x"]["axis"]["labelOverlap"] is False


def test_unknown_status_is_drawn_as_unknown_not_zero_and_today_as_not_in_yet():
    thursday, friday = pd.Timestamp("2026-03-19").date(), pd.Timestamp("2026-03-20").date()
    picture = TeamPicture(
        1,
        "T",
        True,
        [thursday, friday],
        3,
        pd.DataFrame(
            {
                "agent": ["Ana", "Ana", "Bruno", "Carla", "Carla"],
                "day": [thursday, friday, friday, thursday, friday],
                "occupancy": [np.nan, 0.95, 0.5, 0.8, np.nan],
                "contacts": [10, 12, 0, 30, 2],
                "so_far": [False, True, True, False, True],  # Friday is everyone's today
            }
        ),
        pd.DataFrame(columns=["agent", "level", "drivers"]),
        pd.DataFrame(),
    )
    cells = heatmap_cells(picture, "occupancy")
    assert cells[["row", "label", "state"]].values.tolist() == [
        ["Ana", "n/a", NO_STATUS],  # a day that is over, with no status data: unknown, not zero
        ["Ana", "95% ▲", "above"],
        ["Bruno", "50%", "normal"],
        ["Carla", "80%", "normal"],
        ["Carla", "…", SO_FAR],  # today, before any status interval has ended: not in yet
    ]
    # counts need no status data: today's are shown as they are
    assert heatmap_cells(picture, "contacts")["label"].tolist() == ["10", "12", "0", "30", "2"]


def test_team_only_profile_shows_team_figures_and_no_agent_anywhere(store_env, monkeypatch):
    monkeypatch.setenv("AX_PRIVACY_PROFILE", "team_only")
    reset_settings()
    _alert(store_env, "Billing", "Billing: Somebody Named (per-agent, test)", on_agent=True)
    app = _open("lead")
    _ok(app)
    assert "Latest worked day per agent" not in [s.value for s in app.subheader]
    assert any("team figures only" in i.value for i in app.info)
    rows = _chart_rows(app)
    assert set(rows["row"]) == {"Team"}
    everything = _texts(app) + _charts(app)
    leaked = [name for name in _names(store_env) if name in everything]
    assert leaked == []
    assert "Somebody Named" not in everything  # a per-agent alert raised earlier is not shown
    if app.dataframe:
        assert "Agents" in app.dataframe[0].value.columns


# --- Morale ------------------------------------------------------------------------------------------


def test_lead_sees_morale_aggregates_with_reasons_rates_and_workload(store_env):
    app = _open("lead", MORALE)
    _ok(app)
    assert app.title[0].value == "Morale"
    assert sorted(app.selectbox(key="morale_team").options) == ["Billing", "Technical Support"]
    table = app.dataframe[0].value
    assert len(table) == 12 and list(table.columns)[:2] == ["Period", "Wellbeing (WHO-5, 0-100)"]
    hidden = table[table["Wellbeing (WHO-5, 0-100)"].str.startswith("hidden: ")]
    assert not hidden.empty  # a demo team of 3 or 4 people: every cell says why it is hidden
    assert (
        hidden["Wellbeing (WHO-5, 0-100)"]
        .str.contains("No one answered|people answered|Shown once|cannot be worked out")
        .all()
    )
    assert hidden["Answered"].isna().all()
    assert table["Response rate"].str.len().gt(0).all() and table["Contacts"].notna().any()
    assert any(
        x.value.startswith("Not enough weeks") or "usual range" in x.value
        for x in [*app.info, *app.warning, *app.success]
    )
    app.radio(key="morale_rhythm").set_value("Monthly check-in (by month)").run()
    _ok(app)
    assert len(app.dataframe[0].value) == 6
    app.selectbox(key="morale_team").select_index(1).run()
    _ok(app)


def test_the_morale_chart_spans_each_measures_whole_scale(store, monkeypatch):
    """A team of 6 answered last month's check-in: the chart is drawn on the measure's own scale
    (WHO-5 0 to 100, eNPS -100 to 100, shares 0% to 100%), so a small wobble does not look like a fall."""
    org = SurveyOrg(store.engine)
    org.teams((1, "Support", None, None, [1, 2, 3, 4, 5, 6]))
    this_month = utcnow().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    org.window((this_month - timedelta(days=1)).replace(day=2), {a: checkin(2 + a % 3) for a in range(1, 7)})
    with Session(store.engine) as session:
        create_user(session, username="lea", password=PASSWORD, role=Role.lead, lead_team_ids=[1])
        session.commit()
    app = AppTest.from_file(DASHBOARD, default_timeout=60).run()
    sign_in(app, "lea", PASSWORD)
    app = app.switch_page(MORALE).run()
    app.radio(key="morale_rhythm").set_value("Monthly check-in (by month)").run()
    _ok(app)

    def y_axis() -> tuple[list[float], str, str]:
        [chart] = app.get("vega_lite_chart")
        y = json.loads(chart.proto.spec)["encoding"]["y"]
        return y["scale"]["domain"], y["axis"]["format"], app.subheader[0].value

    assert y_axis() == ([0, 100], ".0f", "Wellbeing (WHO-5, 0-100)")
    app.segmented_control(key="morale_measure").set_value("enps").run()
    assert y_axis() == ([-100, 100], "+.0f", "eNPS (-100…100)")
    app.segmented_control(key="morale_measure").set_value("who5_low_share").run()
    assert y_axis() == ([0, 1], ".0%", "Share with low wellbeing (WHO-5 < 52)")


# --- Actions and "You said, we did" ----------------------------------------------------------------


def test_lead_records_an_action_from_an_alert_and_the_agent_sees_it(store_env):
    alert_id = _alert(store_env, "Technical Support", "Technical Support: queue overload (test journey)")
    app = _open("lead")
    app.selectbox(key="team").select_index(1).run()
    app.button(key=f"act_{alert_id}").click().run()
    _ok(app)
    assert app.title[0].value == "Actions"
    assert app.selectbox(key="action_alert_pick").value == alert_id

    app.text_area(key="action_text").input("   ").run()
    app.button(key="FormSubmitter:record_action-Record action").click().run()
    assert app.error[0].value == "Describe what you did (the text is empty)."

    app.selectbox(key="action_alert_pick").set_value(alert_id)
    app.text_area(key="action_text").input("Opened a second chat queue and added a 10-minute break at 3 pm.")
    app.button(key="FormSubmitter:record_action-Record action").click().run()
    _ok(app)
    assert app.success[0].value == "Recorded for Technical Support."
    assert any("Opened a second chat queue" in m.value for m in app.markdown)
    with Session(store_env.engine) as s:
        assert (
            s.exec(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "team_action_recorded")
            ).one()
            >= 1
        )

    agent = _open("agent", WE_DID)  # the demo agent works in Technical Support
    _ok(agent)
    assert agent.title[0].value == "You said, we did"
    assert any("Opened a second chat queue" in m.value for m in agent.markdown)
    assert not any("queue overload (test journey)" in c.value for c in agent.caption)  # not the alert


# --- refusals ----------------------------------------------------------------------------------------


def _run_directly(store, username: str, page: str) -> AppTest:
    with Session(store.engine) as s:
        viewer = viewer_for(s, s.exec(select(User).where(User.username == username)).one())
    app = AppTest.from_file(str(ROOT / page), default_timeout=60)
    app.session_state[VIEWER_KEY] = viewer
    app.session_state[SIGNED_IN_AT_KEY] = time.time()
    return app.run()


def _refusals(store, username: str) -> int:
    with Session(store.engine) as s:
        return s.exec(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.username == username, AuditEvent.action == "access_denied")
        ).one()


@pytest.mark.parametrize(("username", "page"), [(u, p) for u in ("agent", "hr", "admin") for p in LEAD_PAGES])
def test_others_cannot_open_lead_pages(store_env, username, page):
    app = _open(username)
    with pytest.raises(ValueError, match="registered"):
        app.switch_page(page)  # not in their navigation
    before = _refusals(store_env, username)
    direct = _run_directly(store_env, username, page)  # and run anyway: ax/ refuses and audits
    _ok(direct)
    assert direct.error and direct.error[0].value.startswith(f"Not allowed: {username} ({username}) may not")
    assert not direct.get("vega_lite_chart") and not direct.dataframe
    assert _refusals(store_env, username) == before + 1


@pytest.mark.parametrize("username", ["lead", "hr", "admin"])
def test_only_agents_read_you_said_we_did(store_env, username):
    app = _open(username)
    with pytest.raises(ValueError, match="registered"):
        app.switch_page(WE_DID)
    direct = _run_directly(store_env, username, WE_DID)
    _ok(direct)
    assert direct.error[0].value.startswith(f"Not allowed: {username} ({username}) may not read")


def test_alerts_older_than_a_week_are_not_listed(store_env):
    with Session(store_env.engine) as s:
        team_id = s.exec(select(Team.id).where(Team.name == "Billing")).one()
        s.add(
            Alert(
                team_id=team_id,
                kind="overload",
                day=utcnow().date() - timedelta(days=9),
                text="Billing: stale (test)",
                dedupe_key="test:stale",
            )
        )
        s.commit()
    app = _open("lead")
    _ok(app)
    assert not any("stale (test)" in m.value for m in app.markdown)

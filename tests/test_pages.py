"""Pages through Streamlit's AppTest: sign-in, each role's landing page with real numbers."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from ax.demo import load_demo
from ax.settings import reset_settings
from tests.conftest import BACKENDS, Store

DASHBOARD = str(Path(__file__).resolve().parent.parent / "dashboard.py")


@pytest.fixture(scope="module", params=BACKENDS)
def demo_store(request, tmp_path_factory):
    """A small demo org ending today, shared by the tests of this module."""
    s = Store(request.param, str(tmp_path_factory.mktemp("pages")))
    from db.migrate import upgrade

    upgrade(s.engine)
    load_demo(s.engine, agents=12, days=21, seed=11, password="demo")
    yield s
    s.close()


@pytest.fixture
def app(demo_store, monkeypatch) -> AppTest:
    monkeypatch.setenv("AX_DATABASE_URL", demo_store.url)
    reset_settings()
    return AppTest.from_file(DASHBOARD, default_timeout=60).run()


def sign_in(app: AppTest, username: str, password: str = "demo") -> AppTest:
    app.text_input(key="username").input(username)
    app.text_input(key="password").input(password)
    return app.button(key="FormSubmitter:sign_in-Sign in").click().run()


def _no_exception(app: AppTest) -> None:
    assert not app.exception, [e.value for e in app.exception]


def test_sign_in_page_lists_the_demo_accounts(app):
    _no_exception(app)
    assert app.title[0].value == "AX · agent experience"
    table = app.table[0].value
    assert sorted(table["user name"]) == ["admin", "agent", "hr", "lead"]


def test_wrong_password_is_refused_with_a_message(app):
    sign_in(app, "agent", "wrong")
    _no_exception(app)
    assert [t.value for t in app.title] == ["AX · agent experience"]
    assert "wrong password" in app.error[0].value


def test_agent_lands_on_my_workload_with_numbers(app):
    sign_in(app, "agent")
    _no_exception(app)
    assert app.title[0].value == "My workload"
    metrics = {m.label: m.value for m in app.metric}
    assert set(metrics) >= {
        "Contacts today",
        "Handle time today",
        "Average handle time",
        "Hard contacts today",
    }
    assert metrics["Handle time today"].endswith(" h")
    # today's running totals against the agent's usual by this time of day, not whole days
    deltas = {m.label: m.delta for m in app.metric}
    assert re.fullmatch(r"[+-]\d+\.\d vs usual by \d\d:\d\d", deltas["Contacts today"])
    assert re.fullmatch(r"[+-]\d+\.\d h vs usual by \d\d:\d\d", deltas["Handle time today"])
    occupancy = next(value for label, value in metrics.items() if label.startswith("Occupancy "))
    stretch = next(value for label, value in metrics.items() if label.startswith("Longest stretch"))
    assert re.fullmatch(r"\d+ min|\d+ h \d\d min", stretch)  # as the lead's view of it reads
    assert occupancy.endswith("%")  # the demo sends status intervals
    assert any(m.value.startswith("**Level:") for m in app.markdown)
    assert any(ch.isdigit() for ch in metrics["Contacts today"])
    assert "28-day average" in app.caption[1].value or any("28-day average" in c.value for c in app.caption)


def test_lead_lands_on_team_overview_of_one_of_two_teams(app):
    sign_in(app, "lead")
    _no_exception(app)
    assert app.title[0].value == "Team overview"
    team_box = app.selectbox(key="team")
    assert sorted(team_box.options) == ["Billing", "Technical Support"]
    first = app.dataframe[0].value
    assert len(first) > 1 and first["Contacts"].sum() > 0
    team_box.select_index(1).run()
    _no_exception(app)
    second = app.dataframe[0].value
    assert set(first["Agent"]).isdisjoint(set(second["Agent"]))


def test_hr_lands_on_organisation_summary_without_individuals(app):
    sign_in(app, "hr")
    _no_exception(app)
    assert app.title[0].value == "Organisation summary"
    summary = app.dataframe[0].value
    assert set(summary["Team"]) == {"Billing", "Technical Support", "Onboarding", "Returns"}
    assert "Agent" not in summary.columns
    assert summary["Contacts"].sum() > 0
    # the demo ends today: the running month is labelled as such, the months before it plainly
    today = datetime.now(UTC)
    assert set(summary["Month"]) >= {f"{today:%b %Y} (to {today:%d %b})"}
    assert all(re.fullmatch(r"[A-Z][a-z]{2} \d{4}( \(to \d\d [A-Z][a-z]{2}\))?", m) for m in summary["Month"])
    # and the chart's month labels are not cut short ("Nov 2026 (to 24 N…")
    [chart] = app.get("vega_lite_chart")
    assert json.loads(chart.proto.spec)["encoding"]["x"]["axis"]["labelLimit"] == 0


def test_admin_lands_on_sync_health(app):
    sign_in(app, "admin")
    _no_exception(app)
    assert app.title[0].value == "Sync health"
    assert app.subheader[0].value == "demo"
    rows = {m.label: m.value for m in app.metric}
    assert rows["Last error"] == "none"
    assert int(rows["Rows synced"].replace(",", "")) > 1000
    assert re.fullmatch(r"\d\d:\d\d", rows["Last success"])  # synced today: the time, which fits
    assert [d.value.columns[0] for d in app.dataframe] == ["stream"]  # counting rows waits until asked


def test_admin_counts_rows_by_record_type_on_request(app):
    sign_in(app, "admin")
    app.toggle(key="count_rows").set_value(True).run()
    _no_exception(app)
    counts = {row["record type"]: row["rows"] for row in app.dataframe[0].value.to_dict("records")}
    assert counts["agent"] > 0 and counts["contact"] > 1000
    streams = app.dataframe[1].value
    assert sum(streams["rows synced"]) >= sum(counts.values())


def test_sign_out_returns_to_sign_in(app):
    sign_in(app, "agent")
    app.sidebar.button(key="sign_out").click().run()
    _no_exception(app)
    assert app.title[0].value == "AX · agent experience"


def test_expired_session_asks_to_sign_in_again(app, monkeypatch):
    sign_in(app, "agent")
    app.session_state["ax_signed_in_at"] = 0.0
    app.run()
    assert app.title[0].value == "AX · agent experience"
    assert "expired" in app.info[0].value


def test_admin_sees_lag_and_can_queue_a_sync_of_a_configured_source(app, monkeypatch):
    monkeypatch.setenv("AX_INTERCOM_ACCESS_TOKEN", "tok")
    reset_settings()
    sign_in(app, "admin")
    _no_exception(app)
    assert [s.value for s in app.subheader][:2] == ["demo", "intercom"]  # configured, never synced
    lags = [m.value for m in app.metric if m.label == "Lag"]
    assert lags[0].endswith("ago") and lags[1] == "never synced"
    app.button(key="sync_intercom").click().run()
    _no_exception(app)
    assert "Sync queued" in app.success[0].value
    assert any(r == "sync:intercom" for r in app.dataframe[-1].value["job"])


def test_agent_without_status_data_sees_occupancy_unknown_not_zero(tmp_path, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from sqlmodel import Session

    from ax.accounts import create_user
    from ax.compute import run_compute
    from db.ingest import Ingestor
    from db.migrate import upgrade
    from db.models import Agent, Role
    from db.records import AgentRecord, ContactRecord

    s = Store("sqlite", str(tmp_path))
    upgrade(s.engine)
    now = datetime.now(UTC)
    earlier = max(now - timedelta(minutes=5), now.replace(hour=0, minute=0, second=0, microsecond=0))
    Ingestor(s.engine, "t").write_page(
        "all",
        [
            AgentRecord("a", "Ana"),
            ContactRecord("c1", "email", earlier, agent_external_id="a", handle_seconds=300),
        ],
    )
    run_compute(s.engine, full=True)
    with Session(s.engine) as session:
        agent_id = session.exec(select(Agent.id)).one()
        create_user(session, username="ana", password="a-long-password", role=Role.agent, agent_id=agent_id)
        session.commit()
    monkeypatch.setenv("AX_DATABASE_URL", s.url)
    reset_settings()
    app = sign_in(AppTest.from_file(DASHBOARD, default_timeout=60).run(), "ana", "a-long-password")
    _no_exception(app)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Contacts today"] == "1"
    assert metrics["Occupancy today"] == "unknown"
    assert metrics["Longest stretch without a break today"] == "unknown"
    [stretch] = [m for m in app.metric if m.label == "Longest stretch without a break today"]
    assert stretch.help.endswith("Over 2 h: time for a break.")  # said as risk drivers say it
    assert any("no status data" in c.value for c in app.caption)
    # only today so far: no whole day to chart yet, and no chart that would end in a partial day
    assert any("Your days show here from tomorrow" in c.value for c in app.caption)
    charts = [e for e in app.main.children.values() if getattr(e, "type", None) == "vega_lite_chart"]
    assert len(charts) == 1  # the channel mix only
    s.close()

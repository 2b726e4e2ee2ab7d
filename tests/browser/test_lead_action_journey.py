"""Real-browser journey: a lead sees the team overview (with the alerts the worker raised), records
what they did on the Actions page, and an agent of that team reads it under "You said, we did".

Screenshots of each page go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from ax.alerts import run_alerts
from db.engine import get_engine
from tests.browser.conftest import load_demo_store, serving_dashboard
from tests.browser.test_agent_journey import (
    TIMEOUT,
    assert_no_exception,
    sign_in,
    take_screenshot,
    wait_until_idle,
)

pytestmark = pytest.mark.browser

ACTION = "Moved a second person onto chat for the afternoon and added a 10-minute break at 3 pm."


@pytest.fixture(scope="module")
def alerted_dashboard(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A demo store after one run of the worker's alert job, served by a live dashboard."""
    work = tmp_path_factory.mktemp("ax-lead-actions")
    url, env = load_demo_store(work)
    engine = get_engine(url)
    run_alerts(engine)
    engine.dispose()
    get_engine.cache_clear()
    with serving_dashboard(work, env) as base_url:
        yield base_url


def open_page(page: Page, name: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name)).to_be_visible(timeout=TIMEOUT)
    wait_until_idle(page)
    assert_no_exception(page)


def test_lead_records_an_action_and_the_team_sees_it(
    page: Page, alerted_dashboard: str, screenshots_dir: Path
):
    sign_in(page, alerted_dashboard, "lead")
    expect(page.get_by_role("heading", name="Team overview")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_role("heading", name="Agents × days")).to_be_visible(timeout=TIMEOUT)
    # The heatmap, found by its content: the queue-trend chart above it is there only once today
    # has queue snapshots, so its position depends on the time of day.
    heatmap = page.get_by_test_id("stVegaLiteChart").filter(has_text="Occupancy").first
    expect(heatmap.locator("canvas, svg.marks").first).to_be_visible(timeout=TIMEOUT)
    wait_until_idle(page)
    assert_no_exception(page)
    take_screenshot(page, screenshots_dir / "lead_team_overview.png")

    open_page(page, "Morale")
    expect(page.get_by_text("Results, response rate and workload by period")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible(timeout=TIMEOUT)
    wait_until_idle(page)
    take_screenshot(page, screenshots_dir / "lead_morale.png")

    open_page(page, "Actions")
    page.get_by_test_id("stSelectbox").filter(has_text="Team").click()
    page.get_by_role("option", name="Technical Support").click()  # the demo agent's team
    wait_until_idle(page)
    page.get_by_label("What did you do?").fill(ACTION)
    page.get_by_role("button", name="Record action").click()
    expect(page.get_by_text("Recorded for Technical Support.")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text(ACTION)).to_be_visible(timeout=TIMEOUT)
    wait_until_idle(page)
    assert_no_exception(page)
    take_screenshot(page, screenshots_dir / "lead_actions.png")

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, alerted_dashboard, "agent")
    expect(page.get_by_role("heading", name="My workload")).to_be_visible(timeout=TIMEOUT)
    open_page(page, "You said, we did")
    expect(page.get_by_text(ACTION)).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("Technical Support · Lea Lead")).to_be_visible(timeout=TIMEOUT)
    take_screenshot(page, screenshots_dir / "agent_you_said_we_did.png")

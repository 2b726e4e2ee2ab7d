"""Real-browser break journeys: an agent checks their workload and takes a break their lead planned;
a lead picks a team, reads the forecast and schedules a break.

The dashboard serves a 16-agent demo (its lead has planned a break for the demo agent and the agent
has asked for one) plus a live hour for Technical Support written just before the server starts:
5 agents on the queue, 24 calls of 300 s in the last hour. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from ax.compute import run_compute
from ax.demo import load_demo
from db.engine import get_engine
from db.migrate import upgrade
from db.models import Break, User
from tests.browser.conftest import _server_env, serving_dashboard
from tests.browser.test_agent_journey import (
    TIMEOUT,
    assert_no_exception,
    sign_in,
    take_screenshot,
    wait_until_idle,
)
from tests.test_breaks_pages import add_live_hour

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def breaks_dashboard(
    chromium_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """A live dashboard over the demo plus a live hour; yields its base URL and its database URL."""
    work = tmp_path_factory.mktemp("ax-breaks")
    database_url = f"sqlite:///{work / 'ax.db'}"
    engine = get_engine(database_url)
    upgrade(engine)
    load_demo(engine, agents=16, days=14, seed=7, password="demo")
    add_live_hour(engine, datetime.now(UTC), calls=24)
    run_compute(engine)
    engine.dispose()
    with serving_dashboard(work, _server_env(database_url)) as base_url:
        yield base_url, database_url


def open_page(page: Page, title: str) -> None:
    """Follow the sidebar link to ``title`` and wait for its heading."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=TIMEOUT)
    wait_until_idle(page)
    assert_no_exception(page)


def breaks_of(database_url: str) -> list[tuple[int, str, str]]:
    """(agent id, status, who created it) of every break, oldest first."""
    with Session(get_engine(database_url)) as session:
        rows = session.exec(
            select(Break.agent_id, Break.status, User.username)
            .join(User, User.id == Break.created_by)
            .order_by(Break.id)
        ).all()
    return [tuple(row) for row in rows]


def test_agent_checks_their_workload_and_takes_a_planned_break(
    page: Page, breaks_dashboard: tuple[str, str], screenshots_dir: Path
) -> None:
    base_url, database_url = breaks_dashboard
    sign_in(page, base_url, "agent")
    expect(page.get_by_role("heading", name="My workload")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_test_id("stMetric").first).to_be_visible(timeout=TIMEOUT)
    wait_until_idle(page)

    open_page(page, "My breaks")
    take = page.get_by_role("button", name="Take it")
    expect(take).to_have_count(1, timeout=TIMEOUT)
    # the innermost block holding both the button and the text: that break's card
    card = page.get_by_test_id("stVerticalBlock").filter(has_text="planned by Lea Lead").filter(has=take).last
    expect(card).to_contain_text("10 min")
    expect(card).to_contain_text("waiting for your answer")
    expect(page.get_by_text("you asked; waiting for your lead")).to_be_visible(timeout=TIMEOUT)
    take.click()

    expect(page.get_by_text(re.compile(r"taken; your lead sees it now"))).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text(re.compile(r"agreed$"))).to_be_visible(timeout=TIMEOUT)
    wait_until_idle(page)
    assert_no_exception(page)
    assert [status for _, status, who in breaks_of(database_url) if who == "lead"] == ["accepted"]
    take_screenshot(page, screenshots_dir / "agent_my_breaks.png")

    open_page(page, "What my lead sees")
    expect(page.get_by_text("Lea Lead", exact=False).first).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text(re.compile(r"^Level: (low|elevated|high)"))).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_test_id("stDataFrame")).to_have_count(1, timeout=TIMEOUT)
    wait_until_idle(page)
    take_screenshot(page, screenshots_dir / "agent_what_my_lead_sees.png")
    assert_no_exception(page)


def test_lead_plans_a_break(page: Page, breaks_dashboard: tuple[str, str], screenshots_dir: Path) -> None:
    base_url, database_url = breaks_dashboard
    sign_in(page, base_url, "lead")
    expect(page.get_by_role("heading", name="Team overview")).to_be_visible(timeout=TIMEOUT)
    wait_until_idle(page)

    open_page(page, "Breaks")
    page.get_by_test_id("stSelectbox").filter(has_text="Team").first.click()
    page.get_by_role("option", name=re.compile(r"^Technical Support")).click()
    expect(page.get_by_text(re.compile(r"^Technical Support · as of"))).to_be_visible(timeout=TIMEOUT)
    wait_until_idle(page)
    expect(page.get_by_role("heading", name="Who can take a break now")).to_be_visible(timeout=TIMEOUT)
    chart = page.get_by_test_id("stVegaLiteChart").first
    expect(chart.locator("canvas, svg.marks").first).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("Requests waiting for you (1)")).to_be_visible(timeout=TIMEOUT)
    page.mouse.move(0, 0)  # no tooltip over the page
    take_screenshot(page, screenshots_dir / "lead_breaks_planner.png")

    before = len(breaks_of(database_url))
    page.get_by_role("button", name="Schedule break").click()
    expect(
        page.get_by_text(re.compile(r"^Planned 10 min for .+; they see it on My breaks now"))
    ).to_be_visible(timeout=TIMEOUT)
    wait_until_idle(page)
    assert_no_exception(page)
    made = breaks_of(database_url)[before:]
    assert [(status, who) for _, status, who in made] == [("planned", "lead")]
    take_screenshot(page, screenshots_dir / "lead_breaks_scheduled.png")

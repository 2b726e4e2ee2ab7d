"""Real-browser journeys through the dashboard: sign in as a demo account and see the role's page.

Screenshots go to ``artifacts/screenshots/`` at the repository root, for a human to look at.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

TIMEOUT = 20_000  # ms
NUMBER = re.compile(r"^\s*\d+(?:[.,]\d+)?\s*$")


def sign_in(page: Page, base_url: str, username: str, screenshot: Path | None = None) -> None:
    page.goto(base_url)
    expect(page.get_by_label("User name", exact=True)).to_be_visible(timeout=TIMEOUT)
    if screenshot is not None:
        wait_until_idle(page)
        take_screenshot(page, screenshot)
    page.get_by_label("User name", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill("demo")
    page.get_by_role("button", name="Sign in").click()


def wait_until_idle(page: Page) -> None:
    """Wait until Streamlit has finished the current script run (its status widget says nothing)."""
    expect(page.get_by_test_id("stStatusWidget").get_by_text("Running")).to_have_count(0, timeout=TIMEOUT)


def take_screenshot(page: Page, path: Path) -> None:
    """A full-page screenshot; Streamlit scrolls inside its main area, so grow the viewport to fit it."""
    height = page.evaluate(
        """() => Math.max(document.body.scrollHeight,
            ...[...document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"]')]
                .map((e) => e.scrollHeight))"""
    )
    width = page.viewport_size["width"] if page.viewport_size else 1400
    page.set_viewport_size({"width": width, "height": max(900, min(int(height), 8000))})
    page.wait_for_timeout(500)  # let charts re-lay out at the new size
    page.screenshot(path=str(path), full_page=True)


def assert_no_exception(page: Page) -> None:
    expect(page.locator('[data-testid="stException"]')).to_have_count(0, timeout=TIMEOUT)


def test_agent_sees_own_workload(page: Page, dashboard_url: str, screenshots_dir: Path) -> None:
    sign_in(page, dashboard_url, "agent", screenshot=screenshots_dir / "sign_in.png")

    expect(page.get_by_role("heading", name="My workload")).to_be_visible(timeout=TIMEOUT)
    label = page.get_by_test_id("stMetricLabel").get_by_text("Contacts today", exact=True)
    metric = page.get_by_test_id("stMetric").filter(has=label)  # not "Hard contacts today"
    expect(metric).to_have_count(1, timeout=TIMEOUT)
    value = metric.get_by_test_id("stMetricValue")
    expect(value).to_have_text(NUMBER, timeout=TIMEOUT)
    assert NUMBER.match(value.inner_text()), f"'Contacts today' is not a number: {value.inner_text()!r}"
    expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible(timeout=TIMEOUT)
    wait_until_idle(page)
    assert_no_exception(page)

    take_screenshot(page, screenshots_dir / "agent_my_workload.png")
    assert_no_exception(page)


def test_lead_sees_team_overview_chart(page: Page, dashboard_url: str, screenshots_dir: Path) -> None:
    sign_in(page, dashboard_url, "lead")

    expect(page.get_by_role("heading", name="Team overview")).to_be_visible(timeout=TIMEOUT)
    chart = page.get_by_test_id("stVegaLiteChart").first
    expect(chart).to_be_visible(timeout=TIMEOUT)
    expect(chart.locator("canvas, svg.marks").first).to_be_visible(timeout=TIMEOUT)
    wait_until_idle(page)
    assert_no_exception(page)

    take_screenshot(page, screenshots_dir / "lead_team_overview.png")
    assert_no_exception(page)


def test_a_link_to_a_page_opens_it_after_sign_in(page: Page, dashboard_url: str) -> None:
    """A reminder links to the check-in page: signed out, it asks for sign-in, then opens there."""
    page.goto(f"{dashboard_url}/checkin")
    expect(page.get_by_label("User name", exact=True)).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("Page not found")).to_have_count(0)
    page.get_by_label("User name", exact=True).fill("agent")
    page.get_by_label("Password", exact=True).fill("demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Check-in")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("Page not found")).to_have_count(0)
    assert page.url.endswith("/checkin")
    wait_until_idle(page)
    assert_no_exception(page)

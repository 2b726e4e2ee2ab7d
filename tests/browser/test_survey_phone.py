"""A real phone-sized browser (390×844): the demo agent opens the Check-in from the menu and answers it.

The shared ``dashboard_url`` store has no check-in open on most days (the demo generator only writes
windows that have closed), so this module starts its own demo dashboard the same way and opens one
window in it. Screenshots go to ``artifacts/screenshots/checkin_phone_*.png``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, func, select
from sqlmodel import Session

from ax.instruments import weekly_pulse_items
from db.models import PulseAnswer, PulseSurvey, User
from tests.browser.conftest import load_demo_store, serving_dashboard
from tests.browser.test_agent_journey import TIMEOUT, assert_no_exception, take_screenshot, wait_until_idle

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
TITLE = "Weekly pulse, this week"


def _open_window(database_url: str) -> tuple[int, list[str]]:
    """One window open for the next half hour: this week's pulse plus eNPS and a comment box."""
    now = datetime.now(UTC)
    items = [i.key for i in weekly_pulse_items(now.date().toordinal() // 7)] + ["enps", "custom_text"]
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            window = PulseSurvey(
                key="phone-test",
                title=TITLE,
                instrument="pulse",
                opens_at=now - timedelta(hours=1),
                closes_at=now + timedelta(minutes=30),
                items=json.dumps(items),
            )
            session.add(window)
            session.commit()
            return window.id, items
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def checkin_app(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A live dashboard over a small demo store with one check-in open; yields its URL and store."""
    work = tmp_path_factory.mktemp("ax-checkin")
    database_url, env = load_demo_store(work)
    survey_id, items = _open_window(database_url)
    with serving_dashboard(work, env) as base_url:
        yield {"url": base_url, "database_url": database_url, "survey_id": survey_id, "items": items}


@pytest.fixture
def phone(browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    try:
        yield page
    finally:
        context.close()


def _overflow(page: Page) -> int:
    """How many CSS pixels the widest element sticks out past the viewport (0 = fits)."""
    return page.evaluate(
        """() => Math.max(0, document.documentElement.scrollWidth - window.innerWidth,
            ...[...document.querySelectorAll('[data-testid="stMain"] *')]
                .map((e) => Math.ceil(e.getBoundingClientRect().right) - window.innerWidth))"""
    )


def test_agent_answers_the_check_in_on_a_phone(phone: Page, checkin_app: dict, screenshots_dir: Path) -> None:
    page = phone
    page.goto(checkin_app["url"])
    page.get_by_label("User name", exact=True).fill("agent")
    page.get_by_label("Password", exact=True).fill("demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My workload")).to_be_visible(timeout=TIMEOUT)

    # On a phone the menu is folded away: open it, pick Check-in.
    page.get_by_test_id("stExpandSidebarButton").click()
    page.get_by_test_id("stSidebarNav").get_by_text("Check-in", exact=True).click()
    expect(page.get_by_role("heading", name="Check-in")).to_be_visible(timeout=TIMEOUT)
    if page.get_by_test_id("stSidebar").get_attribute("data-collapsed") != "true":
        page.get_by_test_id("stSidebarCollapseButton").locator("button").click()  # fold the menu again
    expect(page.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "true", timeout=TIMEOUT)
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("Your lead and HR never see your answers")).to_be_visible(timeout=TIMEOUT)
    wait_until_idle(page)
    assert_no_exception(page)

    survey_id, items = checkin_app["survey_id"], checkin_app["items"]

    def question(key: str):
        return page.locator(f".st-key-checkin-{survey_id}-{key}")

    # Tap an answer for every question but one rotating item, which is skipped.
    answered = {}
    for key in items[:-2]:
        if key == items[1]:
            continue  # skipped on purpose
        choice = "Most of the time" if key.startswith("who5") else None
        if key.startswith("cbi_work"):
            choice = "Sometimes"
        if key == "single_burnout":
            choice = "I enjoy my work. I have no symptoms of burnout."
        question(key).get_by_text(choice, exact=True).click()
        answered[key] = choice
    question("enps").get_by_role("radio", name="8", exact=True).click()
    question("custom_text").locator("textarea").fill("Fewer back-to-back calls after lunch, please.")
    wait_until_idle(page)
    assert _overflow(page) <= 0, f"the form is wider than the phone by {_overflow(page)} px"
    take_screenshot(page, screenshots_dir / "checkin_phone_form.png")

    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_text("Thank you! Your answers to")).to_be_visible(timeout=TIMEOUT)
    # The run after sending is still drawing: until it ends, the heading it moved may also be
    # shown where the form's run left it (on a loaded machine, long enough to find both).
    wait_until_idle(page)
    expect(page.get_by_role("heading", name="Your history")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible(timeout=TIMEOUT)
    wait_until_idle(page)
    assert_no_exception(page)
    assert _overflow(page) <= 0, f"the history is wider than the phone by {_overflow(page)} px"
    page.set_viewport_size(PHONE)
    take_screenshot(page, screenshots_dir / "checkin_phone_done.png")

    engine = create_engine(checkin_app["database_url"])
    try:
        with engine.connect() as conn:
            agent_id = conn.execute(select(User.agent_id).where(User.username == "agent")).scalar_one()
            stored = conn.execute(
                select(PulseAnswer.item_key, func.count())
                .where(PulseAnswer.survey_id == survey_id, PulseAnswer.agent_id == agent_id)
                .group_by(PulseAnswer.item_key)
            ).all()
    finally:
        engine.dispose()
    assert dict(stored) == dict.fromkeys([*answered, "enps", "custom_text"], 1)

"""The admin in a real browser: Sync health opens on the streams' totals, row counts on request."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_agent_journey import (
    TIMEOUT,
    assert_no_exception,
    sign_in,
    take_screenshot,
    wait_until_idle,
)

pytestmark = pytest.mark.browser


def test_admin_sees_sync_health_and_counts_rows_on_request(
    page: Page, dashboard_url: str, screenshots_dir: Path
) -> None:
    sign_in(page, dashboard_url, "admin")
    expect(page.get_by_role("heading", name="Sync health")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("Rows synced")).to_be_visible(timeout=TIMEOUT)
    tables = page.locator('[data-testid="stDataFrame"]')
    expect(tables).to_have_count(1, timeout=TIMEOUT)  # the streams; rows are not counted until asked
    page.get_by_text("Count rows by record type").click()
    expect(tables).to_have_count(2, timeout=TIMEOUT)  # rows by record type above the streams
    wait_until_idle(page)
    assert_no_exception(page)
    take_screenshot(page, screenshots_dir / "admin_sync_health.png")

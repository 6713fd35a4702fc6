"""Treasury staff work through a night in a real browser: sign in with their key, the runs,
a run's summary with its chart, the exceptions filtered, an item resolved with a note, then
English, then sign out. No JavaScript is needed anywhere (the chart is server-made SVG)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from payments.domain.access import Role
from payments.entrypoints.console.texts import TEXTS
from tests.support.api import uow_for
from tests.support.console_nights import Night, seed_night

VI, EN = TEXTS["vi"], TEXTS["en"]


@pytest.fixture(scope="module")
async def night(live_server_url: str, live_database_url: str) -> Night:
    uow = uow_for(live_database_url)
    try:
        return await seed_night(uow)
    finally:
        await uow.engine.dispose()


async def test_a_treasury_officer_resolves_an_exception(
    page: Page, live_server_url: str, night: Night
) -> None:
    await page.goto(f"{live_server_url}/console/runs")
    await page.wait_for_url(re.compile(r"/console/sign-in$"))
    await page.get_by_label(VI["api_key"]).fill(night.keys[Role.TREASURY])
    await page.get_by_role("button", name=VI["sign_in"]).click()

    await page.wait_for_url(re.compile(r"/console/runs$"))
    await expect(page.get_by_role("heading", name=VI["runs"])).to_be_visible()
    await page.get_by_role("link", name="12/03/2025").click()

    await page.wait_for_url(re.compile(rf"/console/runs/{night.run_id}$"))
    chart = page.get_by_role("img", name=VI["chart_title"].format(days=14))
    await expect(chart).to_be_visible()
    await expect(page.locator("svg.chart rect.bar")).to_have_count(1)
    await expect(page.locator("#matched-treasury")).to_have_text("950.000 ₫")

    await page.locator("#open-exceptions").click()
    await page.get_by_label(VI["outcome"]).select_option("missing_at_treasury")
    await page.get_by_label(VI["provider"]).select_option("vnpay")
    await page.get_by_role("button", name=VI["filter"]).click()
    await page.wait_for_url(re.compile(r"outcome=missing_at_treasury"))
    rows = page.locator("#items tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text(night.missing)

    await rows.first.get_by_role("link").click()
    await page.wait_for_url(re.compile(r"/console/items/\d+$"))
    await expect(page.locator("#gateway-side")).to_contain_text("90.000 ₫")
    await expect(page.locator("#history")).to_contain_text(VI["action_opened"])
    await page.get_by_label(VI["resolution_note"]).fill("Kho bạc xác nhận ghi có ngày 13/03")
    await page.get_by_role("button", name=VI["mark_resolved"]).click()

    await page.wait_for_url(re.compile(r"\?resolved=1$"))
    await expect(page.locator("#item-message")).to_have_text(VI["just_resolved"])
    await expect(page.locator("#item-state")).to_contain_text(VI["state_resolved"])
    await expect(page.locator("#resolution-note")).to_have_text(
        "Kho bạc xác nhận ghi có ngày 13/03"
    )
    await expect(page.locator("#resolve-form")).to_have_count(0)

    await page.get_by_role("button", name=VI["switch"]).click()
    await expect(page.locator("#item-state")).to_contain_text(EN["state_resolved"])
    await expect(page.locator("html")).to_have_attribute("lang", "en")

    await page.get_by_role("button", name=EN["sign_out"]).click()
    await page.wait_for_url(re.compile(r"/console/sign-in\?reason=signed_out$"))
    await expect(page.get_by_role("status")).to_have_text(EN["signed_out"])
    await page.goto(f"{live_server_url}/console/runs")
    await page.wait_for_url(re.compile(r"/console/sign-in$"))

"""A citizen pays in a real browser: checkout page, provider choice, the simulator's page, the
result page, and back to the portal; then the portal reads the status from the API and the
ledger holds exactly one capture entry (or none, when the payment did not go through)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from vietqr_emvco import VietQRParser

from payments.entrypoints.web.i18n import TEXTS
from tests.browser.gateway import Gateway

VI = TEXTS["vi"]
AMOUNT = 150_000


async def choose(page: Page, payment: dict[str, str], provider: str) -> None:
    await page.goto(payment["checkout_url"])
    await page.get_by_label(VI[provider]).check()
    await page.get_by_role("button", name=VI["pay"]).click()


async def pay_at_simulator(page: Page, provider: str, outcome: str) -> None:
    await page.wait_for_url(re.compile(f"/sandbox/{provider}/"))
    await page.get_by_label(outcome).check()  # "Success", "Failure" or "Cancel"
    await page.get_by_role("button", name="Continue").click()


async def back_to_portal(page: Page, gateway: Gateway, payment_id: str) -> None:
    await page.get_by_role("link", name=VI["back_to_portal"]).click()
    await page.wait_for_url(f"{gateway.return_url}?payment_id={payment_id}")
    await expect(page.locator("#payment-id")).to_have_text(payment_id)


async def assert_captured_once(gateway: Gateway, payment_id: str) -> None:
    answer = await gateway.payment(payment_id)
    assert answer["status"] == "succeeded"
    assert answer["flags"] == {
        "late": False,
        "needs_review": False,
        "received_amount": AMOUNT,
        "overpaid_amount": 0,
    }
    assert await gateway.trial_balance_is_balanced()
    assert await gateway.ledger_entries_of(payment_id) == {f"payment:{payment_id}:captured": AMOUNT}


@pytest.mark.parametrize("provider", ["vnpay", "momo"])
async def test_pay_at_a_provider(page: Page, gateway: Gateway, provider: str) -> None:
    payment = await gateway.create_payment()
    await choose(page, payment, provider)
    await pay_at_simulator(page, provider, "Success")
    await page.wait_for_url(re.compile(f"/checkout/return/{provider}\\?"))
    await expect(page.get_by_role("status")).to_have_text(VI["result_paid"])
    await back_to_portal(page, gateway, payment["id"])
    await assert_captured_once(gateway, payment["id"])


@pytest.mark.parametrize("provider", ["vnpay", "momo"])
@pytest.mark.parametrize("outcome", ["Failure", "Cancel"])
async def test_payment_that_does_not_go_through(
    page: Page, gateway: Gateway, provider: str, outcome: str
) -> None:
    payment = await gateway.create_payment()
    await choose(page, payment, provider)
    await pay_at_simulator(page, provider, outcome)
    await expect(page.get_by_role("status")).to_have_text(VI["result_failed"])
    await back_to_portal(page, gateway, payment["id"])
    answer = await gateway.payment(payment["id"])
    assert answer["status"] in ("failed", "cancelled"), answer
    assert await gateway.ledger_entries_of(payment["id"]) == {}
    assert await gateway.trial_balance_is_balanced()
    # the citizen may come back and pay another way
    await page.goto(payment["checkout_url"])
    await expect(page.get_by_role("button", name=VI["pay"])).to_be_visible()


async def test_pay_by_vietqr_transfer(page: Page, gateway: Gateway) -> None:
    payment = await gateway.create_payment()
    await choose(page, payment, "vietqr")
    await page.wait_for_url(re.compile("/vietqr/att_"))
    payload = await page.get_by_label(VI["payload"]).input_value()
    assert VietQRParser.verify_checksum(payload)
    assert VietQRParser.parse(payload)["raw_tags"]["54"] == str(AMOUNT)
    await page.get_by_role("link", name="simulate the bank transfer").click()
    await page.get_by_label("Pay exactly").check()
    await page.get_by_role("button", name="Transfer").click()
    await page.wait_for_url(re.compile("/vietqr/att_"))
    await expect(page.get_by_role("status")).to_have_text(VI["status_succeeded"])
    await back_to_portal(page, gateway, payment["id"])
    await assert_captured_once(gateway, payment["id"])


async def test_checkout_page_on_a_phone(
    page: Page, gateway: Gateway, tmp_path_factory: pytest.TempPathFactory
) -> None:
    payment = await gateway.create_payment()
    await page.goto(payment["checkout_url"])
    await expect(page.get_by_text("150.000\N{NO-BREAK SPACE}₫").first).to_be_visible()
    # Fits the phone's width: nothing to scroll sideways.
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    for provider in ("vnpay", "momo", "vietqr"):
        await expect(page.get_by_label(VI[provider])).to_be_visible()
    shot: Path = tmp_path_factory.mktemp("screenshots") / "checkout-390x844.png"
    await page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0

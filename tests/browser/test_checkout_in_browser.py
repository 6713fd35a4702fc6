"""A citizen pays in a real browser at phone width: checkout page, provider choice, the
simulator's page, back to the payment's own page (the proof once paid), and back to the portal;
then the portal reads the status from the API and the ledger holds exactly one capture entry
(or none, when the payment did not go through). Reopening the link after paying shows the
proof, never a way to pay; a try in progress asks before a second payment; half a transfer asks
for the rest in a QR for the rest; English survives the trip through the provider."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from vietqr_emvco import VietQRParser

from payments.entrypoints.web.i18n import TEXTS
from payments.providers.momo import protocol as momo
from payments.providers.vnpay import protocol as vnpay
from tests.browser.gateway import Gateway

VI, EN = TEXTS["vi"], TEXTS["en"]
AMOUNT = 150_000
REASONS = {
    ("vnpay", "Failure"): vnpay.PAYER_REASONS["51"],
    ("vnpay", "Cancel"): vnpay.PAYER_REASONS["24"],
    ("momo", "Failure"): momo.PAYER_REASONS[1001],
    ("momo", "Cancel"): momo.PAYER_REASONS[1006],
}


async def choose(page: Page, payment: dict[str, str], provider: str) -> None:
    await page.goto(payment["checkout_url"])
    await pick(page, provider)


async def pick(page: Page, provider: str, texts: Mapping[str, str] = VI) -> None:
    await page.get_by_label(texts[provider]).check()
    await page.get_by_role("button", name=texts["pay"]).click()


async def pay_at_simulator(
    page: Page, provider: str, outcome: str, *, drop_ipn: bool = False
) -> None:
    await page.wait_for_url(re.compile(f"/sandbox/{provider}/"))
    await page.get_by_label(outcome).check()  # "Success", "Failure" or "Cancel"
    if drop_ipn:
        await page.get_by_label("Do not send the IPN").check()
    await page.get_by_role("button", name="Continue").click()


async def transfer(page: Page, choice: str) -> None:
    """On the VietQR page: the sandbox bank's transfer ("Pay exactly", "Pay less (half)")."""
    await page.get_by_role("link", name="simulate the bank transfer").click()
    await page.get_by_label(choice).check()
    await page.get_by_role("button", name="Transfer").click()


async def back_on_the_payment(page: Page, payment: dict[str, str], lang: str = "vi") -> None:
    """Back from the provider: the payment's own page, in the payer's language."""
    await page.wait_for_url(f"{payment['checkout_url']}?lang={lang}")
    await expect(page.locator("html")).to_have_attribute("lang", lang)


async def shows_the_proof(page: Page, payment: dict[str, str], provider: str) -> None:
    await expect(page.get_by_role("status")).to_contain_text(VI["paid_note"])
    proof = page.locator("#proof")
    await expect(proof).to_contain_text(payment["id"])
    await expect(proof).to_contain_text(VI[provider])
    await expect(proof).to_contain_text("150.000\N{NO-BREAK SPACE}₫")
    await expect(page.locator("#provider-txn")).not_to_be_empty()
    await expect(page.locator("#paid-at")).to_have_text(re.compile(r"^\d\d:\d\d \d\d/\d\d/\d{4}$"))
    # Nothing left to pay: no form, no button, no deadline.
    await expect(page.locator("form")).to_have_count(0)
    await expect(page.get_by_role("button")).to_have_count(0)
    await expect(page.get_by_text(VI["expires"])).to_have_count(0)


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


async def fits_the_phone(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width


@pytest.mark.parametrize("provider", ["vnpay", "momo"])
async def test_pay_at_a_provider_then_reopen_the_link(
    page: Page, gateway: Gateway, provider: str
) -> None:
    payment = await gateway.create_payment()
    await choose(page, payment, provider)
    await pay_at_simulator(page, provider, "Success")
    await back_on_the_payment(page, payment)
    await shows_the_proof(page, payment, provider)
    await fits_the_phone(page)
    await back_to_portal(page, gateway, payment["id"])
    await assert_captured_once(gateway, payment["id"])
    # The citizen opens the link again later: the proof, never a way to pay again.
    await page.goto(payment["checkout_url"])
    await shows_the_proof(page, payment, provider)


async def test_the_proof_prints_without_the_page_furniture(page: Page, gateway: Gateway) -> None:
    payment = await gateway.create_payment()
    await choose(page, payment, "vnpay")
    await pay_at_simulator(page, "vnpay", "Success")
    await back_on_the_payment(page, payment)
    await page.emulate_media(media="print")
    await expect(page.locator("#proof")).to_be_visible()
    await expect(page.get_by_role("link", name=VI["back_to_portal"])).to_be_hidden()
    await expect(page.get_by_role("link", name=VI["switch"])).to_be_hidden()
    await expect(page.get_by_text(VI["print_hint"])).to_be_hidden()
    await expect(page.locator("footer")).to_be_visible()  # the help contact stays on paper


@pytest.mark.parametrize("provider", ["vnpay", "momo"])
@pytest.mark.parametrize("outcome", ["Failure", "Cancel"])
async def test_payment_that_does_not_go_through(
    page: Page, gateway: Gateway, provider: str, outcome: str
) -> None:
    payment = await gateway.create_payment()
    await choose(page, payment, provider)
    await pay_at_simulator(page, provider, outcome)
    await back_on_the_payment(page, payment)
    status = page.get_by_role("status")
    await expect(status).to_contain_text(REASONS[provider, outcome].vi)
    await expect(status).to_contain_text(VI["still_payable"])
    answer = await gateway.payment(payment["id"])
    assert answer["status"] == "failed", answer
    assert await gateway.ledger_entries_of(payment["id"]) == {}
    assert await gateway.trial_balance_is_balanced()
    # Still payable, every way, right here.
    for other in ("vnpay", "momo", "vietqr"):
        await expect(page.get_by_label(VI[other])).to_be_visible()
    await expect(page.get_by_role("button", name=VI["pay"])).to_be_visible()
    await back_to_portal(page, gateway, payment["id"])


async def test_failure_then_success_with_another_provider(page: Page, gateway: Gateway) -> None:
    payment = await gateway.create_payment()
    await choose(page, payment, "vnpay")
    await pay_at_simulator(page, "vnpay", "Failure")
    await back_on_the_payment(page, payment)
    await pick(page, "momo")  # no confirm step: the failed try cannot take the money
    await pay_at_simulator(page, "momo", "Success")
    await back_on_the_payment(page, payment)
    await shows_the_proof(page, payment, "momo")
    await assert_captured_once(gateway, payment["id"])
    attempts = (await gateway.payment(payment["id"]))["attempts"]
    assert [(a["provider"], a["status"]) for a in attempts] == [
        ("vnpay", "failed"),
        ("momo", "succeeded"),
    ]


async def test_an_attempt_in_progress_is_not_paid_twice_without_the_explained_step(
    page: Page, gateway: Gateway
) -> None:
    payment = await gateway.create_payment()
    await choose(page, payment, "vnpay")
    # VNPay answers 00 to the browser; its IPN does not come in.
    await pay_at_simulator(page, "vnpay", "Success", drop_ipn=True)
    await back_on_the_payment(page, payment)
    status = page.get_by_role("status")
    await expect(status).to_contain_text(VI["state_in_progress"])
    await expect(status).to_contain_text(VI["in_progress_note"])
    await expect(page.get_by_role("link", name=VI["check_again"])).to_be_visible()
    await expect(page.get_by_role("radio")).to_have_count(0)  # no second payment offered here
    await fits_the_phone(page)
    # Reopening the link says the same.
    await page.goto(payment["checkout_url"])
    await expect(page.get_by_role("status")).to_contain_text(VI["state_in_progress"])

    await page.get_by_role("link", name=VI["pay_another_way"]).click()
    await page.wait_for_url(re.compile(r"/again\?lang=vi$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text(VI["again_title"])
    warning = page.get_by_role("status")
    await expect(warning).to_contain_text(VI["again_warning"])
    await expect(warning).to_contain_text(VI["again_explain"])
    await page.get_by_label(VI["momo"]).check()
    await page.get_by_role("button", name=VI["again_confirm"]).click()
    await pay_at_simulator(page, "momo", "Success")
    await back_on_the_payment(page, payment)
    await shows_the_proof(page, payment, "momo")
    attempts = (await gateway.payment(payment["id"]))["attempts"]
    assert [(a["provider"], a["status"]) for a in attempts] == [
        ("vnpay", "pending"),  # the first try, still waiting for VNPay's word
        ("momo", "succeeded"),
    ]


async def test_half_a_vietqr_transfer_asks_for_the_rest(page: Page, gateway: Gateway) -> None:
    payment = await gateway.create_payment()
    await choose(page, payment, "vietqr")
    await page.wait_for_url(re.compile("/vietqr/att_"))
    full = await page.get_by_label(VI["payload"]).input_value()
    assert VietQRParser.parse(full)["raw_tags"]["54"] == str(AMOUNT)
    await transfer(page, "Pay less (half)")
    await page.wait_for_url(re.compile("/vietqr/att_"))
    # The QR now asks for the rest only, with the same reference.
    rest = await page.get_by_label(VI["payload"]).input_value()
    assert VietQRParser.verify_checksum(rest)
    decoded = VietQRParser.parse(rest)
    assert decoded["raw_tags"]["54"] == str(AMOUNT // 2)
    assert decoded["memo"] == VietQRParser.parse(full)["memo"]
    await expect(page.locator("#transfer-amount")).to_have_text("75.000\N{NO-BREAK SPACE}₫")
    await fits_the_phone(page)
    # The checkout page says what arrived and offers only the transfer of the rest.
    await page.goto(payment["checkout_url"])
    status = page.get_by_role("status")
    await expect(status).to_contain_text(VI["state_partly_received"])
    await expect(page.get_by_role("radio")).to_have_count(0)
    rest_link = VI["transfer_rest"].format(amount="75.000\N{NO-BREAK SPACE}₫")
    await page.get_by_role("link", name=rest_link).click()
    await page.wait_for_url(re.compile("/vietqr/att_"))
    await transfer(page, "Pay exactly")
    await back_on_the_payment(page, payment)
    await shows_the_proof(page, payment, "vietqr")
    await back_to_portal(page, gateway, payment["id"])
    await assert_captured_once(gateway, payment["id"])


async def test_english_is_kept_through_the_provider(page: Page, gateway: Gateway) -> None:
    payment = await gateway.create_payment()
    await page.goto(f"{payment['checkout_url']}?lang=en")
    await pick(page, "vnpay", EN)
    await pay_at_simulator(page, "vnpay", "Success")
    await back_on_the_payment(page, payment, "en")
    await expect(page.get_by_role("status")).to_contain_text(EN["paid_note"])
    await expect(page.get_by_role("heading", level=1)).to_have_text(EN["proof_title"])
    # The switch keeps the verified result: the same page, in Vietnamese.
    await page.get_by_role("link", name=EN["switch"]).click()
    await back_on_the_payment(page, payment, "vi")
    await expect(page.get_by_role("status")).to_contain_text(VI["paid_note"])
    await expect(page.get_by_text(VI["result_unverified"])).to_have_count(0)


async def test_checkout_page_on_a_phone(
    page: Page, gateway: Gateway, tmp_path_factory: pytest.TempPathFactory
) -> None:
    payment = await gateway.create_payment()
    await page.goto(payment["checkout_url"])
    await expect(page.get_by_text("150.000\N{NO-BREAK SPACE}₫").first).to_be_visible()
    await fits_the_phone(page)  # nothing to scroll sideways
    for provider in ("vnpay", "momo", "vietqr"):
        await expect(page.get_by_label(VI[provider])).to_be_visible()
    shot: Path = tmp_path_factory.mktemp("screenshots") / "checkout-390x844.png"
    await page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0

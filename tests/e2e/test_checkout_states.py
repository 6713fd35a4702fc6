"""The checkout link shows the payment as its payer needs to see it, in every state, over HTTP:
paid (the proof, never a pay button), a try in progress (wait, check again, a second payment
only after an explained confirm step), part of a transfer received (the rest, by transfer
only, in a QR for the rest), a failed or cancelled try (why, and the way to pay again),
expired and cancelled (what to do next), and the language kept through the provider.

The gateway runs in sandbox mode against its own simulators, on an injected clock.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from payments.domain.ids import new_ulid
from payments.entrypoints.web.i18n import TEXTS
from payments.entrypoints.web.rendering import vietnam_time
from payments.ledger import chart
from payments.providers.momo import protocol as momo
from payments.providers.payer_reasons import PayerReason
from payments.providers.vietqr import qr as vietqr
from payments.providers.vnpay import protocol as vnpay
from payments.settings import SANDBOX_HELP_CONTACT, Settings
from tests.support.api import BASE_URL, Portal, api_client
from tests.support.checkout_flows import (
    come_back,
    create,
    ledger_nets,
    path_of,
    pay_momo,
    pay_vnpay,
    qr_page,
    simulate,
)
from tests.support.sandbox_gateway import Gateway, gateway

VI, EN = TEXTS["vi"], TEXTS["en"]
AMOUNT_TEXT = "150.000\N{NO-BREAK SPACE}₫"
HALF_TEXT = "75.000\N{NO-BREAK SPACE}₫"
SANDBOX = Settings(sandbox=True, base_url=BASE_URL).vnpay
VNPAY = vnpay.VnpayConfig(SANDBOX.tmn_code, SANDBOX.hash_secret, SANDBOX.pay_url, SANDBOX.api_url)
PROVIDER_RADIO = re.compile(r'<input type="radio" name="provider" value="(\w+)"')


@pytest.fixture
async def gw(database_url: str, portal: Portal) -> AsyncIterator[Gateway]:
    async with gateway(database_url, portal) as found:
        yield found


async def checkout(gw: Gateway, payment: dict[str, Any], lang: str = "vi") -> httpx.Response:
    answer = await gw.http.get(path_of(payment["checkout_url"]), params={"lang": lang})
    assert answer.status_code == 200, answer.text
    assert f'<html lang="{lang}">' in answer.text
    return answer


def offered(page: httpx.Response) -> list[str]:
    """The providers the page lets the payer choose."""
    return PROVIDER_RADIO.findall(page.text)


def banner(page: httpx.Response) -> str:
    """The class of the page's one status banner ("ok", "bad", "wait" or "note")."""
    found: list[str] = re.findall(r'<div class="banner (\w+)" role="status">', page.text)
    assert len(found) == 1, page.text
    return found[0]


async def pay_at(gw: Gateway, payment: dict[str, Any], provider: str, outcome: str) -> str:
    """Choose ``provider`` and finish at its simulator; the return URL it sends the payer to."""
    chosen = await gw.choose(payment, provider)
    assert chosen.status_code == 303, chosen.text
    if provider == "vnpay":
        return await pay_vnpay(gw.http, chosen.headers["location"], outcome)
    return await pay_momo(gw.http, chosen.headers["location"], outcome)


def vnpay_ipn(txn_ref: str, transaction_no: str, paid_at: datetime) -> dict[str, str]:
    return vnpay.callback_params(
        VNPAY,
        txn_ref=txn_ref,
        amount=150_000,
        response_code="00",
        transaction_status="00",
        transaction_no=transaction_no,
        bank_code="NCB",
        order_info="Thanh toan",
        pay_date=paid_at,
    )


# --- paid --------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["vnpay", "momo"])
async def test_the_paid_page_is_a_proof_of_payment(gw: Gateway, provider: str) -> None:
    payment = await gw.create()
    page = await come_back(gw.http, payment, await pay_at(gw, payment, provider, "success"))
    (attempt,) = (await gw.read(payment["id"]))["attempts"]
    assert attempt["status"] == "succeeded"
    assert attempt["provider_txn_id"]
    for reopened in (page, await checkout(gw, payment)):
        assert banner(reopened) == "ok"
        assert VI["paid_note"] in reopened.text
        assert f"<code>{payment['id']}</code>" in reopened.text
        assert f'<code id="provider-txn">{attempt["provider_txn_id"]}</code>' in reopened.text
        # The simulator pays at the gateway's clock: the provider's time, in Vietnam time.
        assert f">{vietnam_time(gw.clock.now)}</time> ({VI['vietnam_time']}, UTC+7)" in (
            reopened.text
        )
        assert AMOUNT_TEXT in reopened.text
        assert payment["reference"] in reopened.text
        assert VI[provider] in reopened.text
        assert f"<dd>Agency {gw.portal.code}</dd>" in reopened.text  # the payee
        # Never the deadline, never a pay button: nothing left to pay.
        assert VI["expires"] not in reopened.text
        assert "<form" not in reopened.text
        assert f"?payment_id={payment['id']}" in reopened.text
        assert "@media print" in reopened.text
        assert "<script" not in reopened.text
    english = await checkout(gw, payment, "en")
    assert EN["proof_title"] in english.text
    assert EN["paid_at"] in english.text


async def test_a_paid_transfer_page_leads_to_the_proof(gw: Gateway) -> None:
    payment = await gw.create()
    path, reference = await qr_page(gw.http, payment)
    await simulate(gw.http, path, reference, "exact")
    again = await gw.http.get(path)
    assert again.status_code == 303
    assert again.headers["location"] == f"{path_of(payment['checkout_url'])}?lang=vi"
    page = await checkout(gw, payment)
    assert VI["paid_note"] in page.text
    assert VI["vietqr"] in page.text
    assert '<code id="provider-txn">FT' in page.text  # the bank's transfer id


# --- in progress -------------------------------------------------------------------------------


async def test_an_attempt_in_progress_asks_before_a_second_payment(gw: Gateway) -> None:
    payment = await gw.create()
    chosen = await gw.choose(payment, "vnpay")
    pay_url = chosen.headers["location"]
    # VNPay says 00 to the browser; its IPN has not come in.
    return_url = await pay_vnpay(gw.http, pay_url, "success", drop_ipn="1")
    page = await come_back(gw.http, payment, return_url)
    assert banner(page) == "wait"
    assert VI["state_in_progress"] in page.text
    assert VI["in_progress_note"] in page.text
    check_again = f'<a class="button" href="{path_of(payment["checkout_url"])}?lang=vi">'
    assert check_again + VI["check_again"] in page.text
    # The expected wait: when the gateway asks VNPay next (a minute after the start).
    asks = VI["next_check"].format(
        provider="VNPay", time=vietnam_time(gw.clock.now + timedelta(minutes=1))
    )
    assert asks in page.text
    assert offered(page) == []  # no way to pay a second time on this page
    assert VI["continue_at"].format(provider="VNPay") in page.text  # the same VNPay page
    assert VI["pay_another_way"] in page.text

    # Back to VNPay's own page is the same try, not a second one.
    same = await gw.choose(payment, "vnpay")
    assert same.headers["location"] == pay_url
    # Another provider without the explained step: sent to that step, nothing started.
    unexplained = await gw.choose(payment, "momo")
    assert unexplained.status_code == 303
    step = unexplained.headers["location"]
    assert step == f"{path_of(payment['checkout_url'])}/again?lang=vi&provider=momo"
    assert len((await gw.read(payment["id"]))["attempts"]) == 1
    assert gw.momo.faults.calls["create"] == 0
    confirm = await gw.http.get(step)
    assert confirm.status_code == 200
    for key in ("again_warning", "again_explain", "again_only_if", "again_confirm"):
        assert VI[key] in confirm.text
    assert '<input type="hidden" name="confirm" value="another">' in confirm.text
    assert 'value="momo" required checked' in confirm.text
    confirmed = await gw.choose(payment, "momo", confirm=True)
    assert confirmed.status_code == 303
    assert confirmed.headers["location"].startswith(f"{BASE_URL}/sandbox/momo/pay?")
    assert len((await gw.read(payment["id"]))["attempts"]) == 2

    # What the step warned of: both go through. The second is kept and owed back.
    await pay_momo(gw.http, confirmed.headers["location"], "success")
    txn_ref = dict(parse_qsl(urlsplit(pay_url).query))["vnp_TxnRef"]
    late = await gw.http.get("/callbacks/vnpay/ipn", params=vnpay_ipn(txn_ref, "1", gw.clock.now))
    assert late.json()["RspCode"] == "00"
    statuses = sorted(a["status"] for a in (await gw.read(payment["id"]))["attempts"])
    assert statuses == ["duplicate_capture", "succeeded"]
    paid = await checkout(gw, payment)
    over = VI["overpaid_note"].format(received="300.000\N{NO-BREAK SPACE}₫", over=AMOUNT_TEXT)
    assert over in paid.text


async def test_the_confirm_step_has_nothing_to_confirm_without_a_try_in_flight(
    gw: Gateway,
) -> None:
    payment = await gw.create()
    step = await gw.http.get(f"{path_of(payment['checkout_url'])}/again", params={"lang": "en"})
    assert step.status_code == 303
    assert step.headers["location"] == f"{path_of(payment['checkout_url'])}?lang=en"
    assert (await gw.http.get("/checkout/no-such-token/again")).status_code == 404


async def test_a_provider_page_that_lapsed_is_in_progress_until_the_provider_answers(
    gw: Gateway,
) -> None:
    payment = await gw.create()
    await gw.choose(payment, "vnpay")  # the payer goes to VNPay and closes the tab
    gw.clock.now += timedelta(minutes=11)
    page = await checkout(gw, payment)
    assert VI["state_in_progress"] in page.text
    # VNPay's page has lapsed: no way back to it, only the explained step.
    assert VI["continue_at"].format(provider="VNPay") not in page.text
    assert (
        (await gw.choose(payment, "vnpay"))
        .headers["location"]
        .endswith("/again?lang=vi&provider=vnpay")
    )


async def test_a_transfer_in_progress_links_to_its_page(gw: Gateway) -> None:
    payment = await gw.create()
    path, _ = await qr_page(gw.http, payment)
    assert path.endswith("?lang=vi")  # the language the payer chose it in
    page = await checkout(gw, payment, "en")
    assert EN["transfer_wait"] in page.text
    assert f'<a href="{urlsplit(path).path}?lang=en">{EN["open_transfer"]}</a>' in page.text
    assert (
        (await gw.choose(payment, "vnpay", lang="en"))
        .headers["location"]
        .endswith("/again?lang=en&provider=vnpay")
    )


# --- part of a transfer ------------------------------------------------------------------------


async def test_half_a_transfer_asks_for_the_rest_by_transfer_only(
    gw: Gateway, database_url: str
) -> None:
    payment = await gw.create()
    path, reference = await qr_page(gw.http, payment)
    await simulate(gw.http, path, reference, "less")  # 75.000 of 150.000
    page = await checkout(gw, payment)
    assert banner(page) == "wait"
    assert VI["received_of"].format(received=HALF_TEXT, amount=AMOUNT_TEXT) in page.text
    assert VI["transfer_rest"].format(amount=HALF_TEXT) in page.text
    assert f'href="{path}"' in page.text
    assert offered(page) == []
    # A card or wallet would take the whole amount again: refused, even when confirmed.
    for provider in ("vnpay", "momo"):
        refused = await gw.choose(payment, provider, confirm=True)
        assert refused.status_code == 409
        assert VI["transfer_only"] in refused.text
    assert len((await gw.read(payment["id"]))["attempts"]) == 1
    # The QR asks for the rest only, with the same reference.
    qr = await gw.http.get(path)
    payload = re.search(r'<textarea id="payload"[^>]*>([^<]+)</textarea>', qr.text)
    assert payload is not None
    parsed = vietqr.parse_payload(payload.group(1))
    assert (parsed.amount, parsed.purpose) == (75_000, reference)
    assert f'<dd class="amount" id="transfer-amount">{HALF_TEXT}</dd>' in qr.text
    # Choosing VietQR again is the same transfer.
    again = await gw.choose(payment, "vietqr")
    assert again.headers["location"] == f"{BASE_URL}{path}"
    await simulate(gw.http, path, reference, "exact")  # the rest, as the QR asks
    body = await gw.read(payment["id"])
    assert body["status"] == "succeeded"
    assert body["flags"]["received_amount"] == 150_000
    assert body["flags"]["overpaid_amount"] == 0
    nets = await ledger_nets(database_url)
    assert nets[chart.provider_clearing("vietqr").code] == 150_000
    assert VI["paid_note"] in (await checkout(gw, payment)).text


# --- failed, cancelled at the provider ---------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "outcome", "reason", "look"),
    [
        ("vnpay", "failure", vnpay.PAYER_REASONS["51"], "bad"),
        ("vnpay", "cancel", vnpay.PAYER_REASONS["24"], "note"),
        ("momo", "failure", momo.PAYER_REASONS[1001], "bad"),
        ("momo", "cancel", momo.PAYER_REASONS[1006], "note"),
    ],
)
async def test_a_try_that_did_not_go_through_says_why_and_offers_to_pay_again(
    gw: Gateway, provider: str, outcome: str, reason: PayerReason, look: str
) -> None:
    payment = await gw.create()
    back = await come_back(gw.http, payment, await pay_at(gw, payment, provider, outcome))
    for lang, texts in (("vi", VI), ("en", EN)):
        page = back if lang == "vi" else await checkout(gw, payment, lang)
        assert banner(page) == look
        assert reason.text(lang) in page.text
        said = texts["last_stopped" if reason.stopped_by_payer else "last_failed"]
        name = texts[f"name_{provider}"]
        assert said.format(provider=name) in page.text
        assert texts["still_payable"] in page.text
        # Still payable: every way to pay, the portal only as a secondary link.
        assert offered(page) == ["vnpay", "momo", "vietqr"]
        assert f'<a href="https://portal.example.vn/return?payment_id={payment["id"]}">' in (
            page.text
        )


async def test_failure_then_success_with_another_provider(gw: Gateway, database_url: str) -> None:
    payment = await gw.create()
    await come_back(gw.http, payment, await pay_at(gw, payment, "vnpay", "failure"))
    gw.clock.now += timedelta(seconds=30)  # tries are told apart by when they started
    # The failed try cannot take money: no confirm step before MoMo.
    page = await come_back(gw.http, payment, await pay_at(gw, payment, "momo", "success"))
    assert VI["paid_note"] in page.text
    assert VI["momo"] in page.text
    statuses = [a["status"] for a in (await gw.read(payment["id"]))["attempts"]]
    assert statuses == ["failed", "succeeded"]
    assert (await ledger_nets(database_url))[chart.provider_clearing("momo").code] == 150_000


# --- the language through the provider ---------------------------------------------------------


@pytest.mark.parametrize("provider", ["vnpay", "momo"])
async def test_english_is_kept_through_the_provider(gw: Gateway, provider: str) -> None:
    payment = await gw.create()
    chosen = await gw.choose(payment, provider, lang="en")
    location = chosen.headers["location"]
    if provider == "vnpay":
        query = dict(parse_qsl(urlsplit(location).query))
        assert query["vnp_Locale"] == "en"
        return_url = await pay_vnpay(gw.http, location, "success")
    else:
        return_url = await pay_momo(gw.http, location, "success")
    assert f"/checkout/return/{provider}/en?" in return_url
    page = await come_back(gw.http, payment, return_url, "en")
    assert EN["paid_note"] in page.text
    # The language switch is a link to the same page, which shows the same verified state.
    switch = re.search(r'<nav><a href="([^"]+)"', page.text)
    assert switch is not None
    assert switch.group(1) == f"{path_of(payment['checkout_url'])}?lang=vi"
    vietnamese = await gw.http.get(switch.group(1))
    assert VI["paid_note"] in vietnamese.text
    assert VI["result_unverified"] not in vietnamese.text


async def test_english_is_kept_to_the_transfer_page(gw: Gateway) -> None:
    payment = await gw.create()
    chosen = await gw.choose(payment, "vietqr", lang="en")
    assert chosen.headers["location"].endswith("?lang=en")
    page = await gw.http.get(path_of(chosen.headers["location"]))
    assert '<html lang="en">' in page.text
    assert EN["qr_title"] in page.text


async def test_a_return_without_a_language_follows_the_browser(gw: Gateway) -> None:
    """Returns of tries started before the language rode in the return path."""
    payment = await gw.create()
    return_url = await pay_at(gw, payment, "vnpay", "success")
    legacy = path_of(return_url).replace("/checkout/return/vnpay/vi?", "/checkout/return/vnpay?")
    answer = await gw.http.get(legacy, headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert answer.status_code == 303
    assert answer.headers["location"].endswith("?lang=en")


# --- expired, cancelled, not found, unverified ------------------------------------------------


async def test_an_expired_payment_says_what_to_do_next(gw: Gateway) -> None:
    expires = gw.clock.now + timedelta(hours=1)
    payment = await gw.create(expires_at=expires.isoformat())
    path, reference = await qr_page(gw.http, payment)
    await simulate(gw.http, path, reference, "less")
    gw.clock.now = expires  # overdue; the sweep has not run yet
    for lang, texts in (("vi", VI), ("en", EN)):
        page = await checkout(gw, payment, lang)
        assert banner(page) == "note"
        assert texts["expired_note"].format(time=vietnam_time(expires)) in page.text
        assert texts["received_to_refund"].format(received=HALF_TEXT) in page.text
        assert 'class="button" href="https://portal.example.vn/return?payment_id=' in page.text
        assert SANDBOX_HELP_CONTACT in page.text
        assert offered(page) == []
        assert texts["expires"] not in page.text
    # No transfer page for it either: the QR would invite money that cannot be taken.
    qr = await gw.http.get(path)
    assert qr.status_code == 303
    assert qr.headers["location"] == f"{path_of(payment['checkout_url'])}?lang=vi"


async def test_a_cancelled_payment_says_what_to_do_next(gw: Gateway) -> None:
    payment = await gw.create()
    cancelled = await gw.http.post(
        f"/v1/payments/{payment['id']}/cancel",
        json={"reason": "dossier withdrawn"},
        headers=gw.portal.auth(),
    )
    assert cancelled.status_code == 200, cancelled.text
    page = await checkout(gw, payment)
    assert VI["state_cancelled"] in page.text
    assert VI["cancelled_note"] in page.text
    assert f"?payment_id={payment['id']}" in page.text
    assert SANDBOX_HELP_CONTACT in page.text
    assert offered(page) == []


async def test_an_unknown_link_and_an_unverified_return_offer_help(gw: Gateway) -> None:
    missing = await gw.http.get("/checkout/no-such-token", params={"lang": "en"})
    assert missing.status_code == 404
    assert EN["not_found_next"] in missing.text
    assert SANDBOX_HELP_CONTACT in missing.text
    forged = await gw.http.get(
        "/checkout/return/vnpay/en", params={"vnp_TxnRef": "att_" + new_ulid(gw.clock.now)}
    )
    assert forged.status_code == 400
    assert '<html lang="en">' in forged.text
    assert EN["result_unverified"] in html.unescape(forged.text)
    assert EN["unverified_next"] in forged.text
    assert SANDBOX_HELP_CONTACT in forged.text


async def test_the_help_contact_is_a_setting(database_url: str, portal: Portal) -> None:
    contact = "Tổng đài 1900 9999, hotro@dichvucong.example"
    async with gateway(database_url, portal, help_contact=contact) as gw:
        payment = await gw.create()
        page = await checkout(gw, payment)
        assert f"{VI['help_contact']} {contact}" in page.text
        assert SANDBOX_HELP_CONTACT not in page.text
    # Outside the sandbox, with none set, the payer is sent to the agency: no made-up desk.
    async with api_client(database_url) as http:
        payment = await create(http, portal)
        page = await http.get(path_of(payment["checkout_url"]))
        assert VI["help_agency"] in page.text
        assert SANDBOX_HELP_CONTACT not in page.text


async def test_a_payment_paid_after_it_was_cancelled_shows_the_proof(gw: Gateway) -> None:
    payment = await gw.create()
    chosen = await gw.choose(payment, "vnpay")
    txn_ref = dict(parse_qsl(urlsplit(chosen.headers["location"]).query))["vnp_TxnRef"]
    cancelled = await gw.http.post(
        f"/v1/payments/{payment['id']}/cancel", json={}, headers=gw.portal.auth()
    )
    assert cancelled.status_code == 200, cancelled.text
    paid_at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    ipn = await gw.http.get("/callbacks/vnpay/ipn", params=vnpay_ipn(txn_ref, "77", paid_at))
    assert ipn.json()["RspCode"] == "00"
    assert (await gw.read(payment["id"]))["flags"]["late"]
    page = await checkout(gw, payment)
    assert VI["paid_note"] in page.text
    assert '<code id="provider-txn">77</code>' in page.text
    assert f">{vietnam_time(paid_at)}</time>" in page.text  # VNPay's vnp_PayDate

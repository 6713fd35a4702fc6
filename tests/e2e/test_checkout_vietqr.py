"""VietQR end to end over HTTP: QR page, credit notifications, under- and over-payment."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from payments.ledger import chart
from payments.providers.vietqr.credit import (
    SIGNATURE_HEADER,
    CreditNotification,
    encode_notification,
)
from payments.settings import Settings
from tests.support.api import BASE_URL, Portal, api_client, uow_for
from tests.support.checkout_flows import create, ledger_nets, qr_page, simulate, status

SECRET = Settings(sandbox=True, base_url=BASE_URL).vietqr.webhook_secret


@pytest.fixture
async def sandbox(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(database_url, sandbox=True) as http:
        yield http


async def flags(http: httpx.AsyncClient, portal: Portal, payment_id: str) -> dict[str, Any]:
    """The flags a portal reads from the API."""
    answer = await http.get(f"/v1/payments/{payment_id}", headers=portal.auth())
    assert answer.status_code == 200
    value: dict[str, Any] = answer.json()["flags"]
    return value


async def payment_json(database_url: str, payment_id: str) -> Any:
    uow = uow_for(database_url)
    try:
        async with uow() as tx:
            return await tx.payments.by_id(payment_id)
    finally:
        await uow.engine.dispose()


async def test_exact_transfer_pays(
    sandbox: httpx.AsyncClient, portal: Portal, database_url: str
) -> None:
    payment = await create(sandbox, portal)
    path, reference = await qr_page(sandbox, payment)
    await simulate(sandbox, path, reference, "exact")
    assert await status(sandbox, portal, payment["id"]) == "succeeded"
    nets = await ledger_nets(database_url)
    assert nets[chart.provider_clearing("vietqr").code] == 150_000
    assert sum(nets.values()) == 0


async def test_underpayment_stays_pending_then_completes(
    sandbox: httpx.AsyncClient, portal: Portal, database_url: str
) -> None:
    payment = await create(sandbox, portal)
    path, reference = await qr_page(sandbox, payment)
    await simulate(sandbox, path, reference, "less")
    assert await status(sandbox, portal, payment["id"]) == "pending"
    page = await sandbox.get(path)
    assert "Đã nhận" in page.text
    assert "75.000" in page.text
    assert await flags(sandbox, portal, payment["id"]) == {
        "late": False,
        "needs_review": False,
        "received_amount": 75_000,
        "overpaid_amount": 0,
    }
    # The QR now asks for the rest (75.000); the payer sends 50.000 more than that.
    await simulate(sandbox, path, reference, "more")
    stored = await payment_json(database_url, payment["id"])
    assert stored.status.value == "succeeded"
    assert stored.flags.overpaid_amount == 50_000
    assert stored.flags.needs_review
    nets = await ledger_nets(database_url)
    assert nets[chart.provider_clearing("vietqr").code] == 200_000
    assert nets[chart.refunds_payable().code] == -50_000


async def test_overpayment_succeeds_and_is_flagged(
    sandbox: httpx.AsyncClient, portal: Portal, database_url: str
) -> None:
    payment = await create(sandbox, portal)
    path, reference = await qr_page(sandbox, payment)
    await simulate(sandbox, path, reference, "more")
    stored = await payment_json(database_url, payment["id"])
    assert stored.status.value == "succeeded"
    assert stored.flags.overpaid_amount == 50_000
    assert await flags(sandbox, portal, payment["id"]) == {
        "late": False,
        "needs_review": True,
        "received_amount": 200_000,
        "overpaid_amount": 50_000,
    }


async def test_wrong_reference_is_kept_unmatched(
    sandbox: httpx.AsyncClient, portal: Portal, database_url: str
) -> None:
    payment = await create(sandbox, portal)
    path, reference = await qr_page(sandbox, payment)
    await simulate(sandbox, path, reference, "wrong_reference")
    assert await status(sandbox, portal, payment["id"]) == "pending"
    uow = uow_for(database_url)
    try:
        async with uow() as tx:
            unmatched = await tx.credits.unmatched(10)
    finally:
        await uow.engine.dispose()
    assert [c.amount for c in unmatched] == [150_000]


async def test_credit_notifications_verified_and_counted_once(
    sandbox: httpx.AsyncClient, portal: Portal, database_url: str
) -> None:
    payment = await create(sandbox, portal)
    _, reference = await qr_page(sandbox, payment)
    credit = CreditNotification(
        "FT0001", 150_000, "VND", f"chuyen tien {reference.lower()} ho so", datetime.now(UTC)
    )
    body, signature = encode_notification(SECRET, credit)
    unsigned = await sandbox.post("/callbacks/vietqr", content=body)
    assert unsigned.status_code == 401
    tampered = body.replace(b"150000", b"999999")
    forged = await sandbox.post(
        "/callbacks/vietqr", content=tampered, headers={SIGNATURE_HEADER: signature}
    )
    assert forged.status_code == 401
    assert await status(sandbox, portal, payment["id"]) == "pending"
    answers = [
        await sandbox.post("/callbacks/vietqr", content=body, headers={SIGNATURE_HEADER: signature})
        for _ in range(2)
    ]
    assert [a.json()["status"] for a in answers] == ["applied", "duplicate"]
    assert await status(sandbox, portal, payment["id"]) == "succeeded"
    assert (await ledger_nets(database_url))[chart.provider_clearing("vietqr").code] == 150_000
    assert json.loads(body)["transfer_id"] == "FT0001"

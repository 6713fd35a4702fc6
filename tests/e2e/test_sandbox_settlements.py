"""The sandbox providers report what they captured from their own records, in their own
settlement layouts, and the reconciliation reads those reports back."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from payments.reconcile.settlements import read_settlement
from tests.api import Portal, api_client
from tests.e2e import test_checkout_momo as momo
from tests.e2e import test_checkout_vnpay as vnpay

VIETNAM = timezone(timedelta(hours=7))
NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)  # the simulators date their captures by it


@pytest.fixture
async def sandbox(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    # An injected clock: "that day" cannot turn into the next one while the test runs.
    async with api_client(database_url, sandbox=True, clock=lambda: NOW) as http:
        yield http


async def report(http: httpx.AsyncClient, provider: str, day: str) -> list[tuple[str, int]]:
    answer = await http.get(f"/sandbox/{provider}/settlement", params={"date": day})
    assert answer.status_code == 200, answer.text
    parsed = read_settlement(provider, io.BytesIO(answer.content))
    return [(line.payment_reference, line.amount) for line in parsed.require_clean()]


async def test_each_simulator_reports_only_what_it_captured_that_day(
    sandbox: httpx.AsyncClient, portal: Portal
) -> None:
    paid = await vnpay.create(sandbox, portal, reference="HS-V1", amount=150_000)
    vnpay_url = await vnpay.choose_vnpay(sandbox, paid)
    await vnpay.pay(sandbox, vnpay_url, "success")
    refused = await vnpay.create(sandbox, portal, reference="HS-V2", amount=90_000)
    await vnpay.pay(sandbox, await vnpay.choose_vnpay(sandbox, refused), "failure")
    by_momo = await vnpay.create(sandbox, portal, reference="HS-M1", amount=70_000)
    momo_url = await momo.choose_momo(sandbox, by_momo)
    await momo.pay(sandbox, momo_url, "success")

    today = NOW.astimezone(VIETNAM).date()
    txn_ref = dict(httpx.URL(vnpay_url).params)["vnp_TxnRef"]
    order_id = dict(httpx.URL(momo_url).params)["orderId"]
    assert await report(sandbox, "vnpay", today.isoformat()) == [(txn_ref, 150_000)]
    assert await report(sandbox, "momo", today.isoformat()) == [(order_id, 70_000)]
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert await report(sandbox, "vnpay", tomorrow) == []


async def test_a_report_needs_a_day(sandbox: httpx.AsyncClient) -> None:
    answer = await sandbox.get("/sandbox/vnpay/settlement", params={"date": "22/11/2026"})
    assert answer.status_code == 400

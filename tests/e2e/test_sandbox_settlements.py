"""The sandbox providers report what they captured from their own records, in their own
settlement layouts, and the reconciliation reads those reports back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from tests.support.api import Portal, api_client
from tests.support.checkout_flows import choose_momo, choose_vnpay, create, pay_momo, pay_vnpay
from tests.support.sandbox_reports import NOW, VIETNAM, report


@pytest.fixture
async def sandbox(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    # An injected clock: "that day" cannot turn into the next one while the test runs.
    async with api_client(database_url, sandbox=True, clock=lambda: NOW) as http:
        yield http


async def test_each_simulator_reports_only_what_it_captured_that_day(
    sandbox: httpx.AsyncClient, portal: Portal
) -> None:
    paid = await create(sandbox, portal, reference="HS-V1", amount=150_000)
    vnpay_url = await choose_vnpay(sandbox, paid)
    await pay_vnpay(sandbox, vnpay_url, "success")
    refused = await create(sandbox, portal, reference="HS-V2", amount=90_000)
    await pay_vnpay(sandbox, await choose_vnpay(sandbox, refused), "failure")
    by_momo = await create(sandbox, portal, reference="HS-M1", amount=70_000)
    momo_url = await choose_momo(sandbox, by_momo)
    await pay_momo(sandbox, momo_url, "success")

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

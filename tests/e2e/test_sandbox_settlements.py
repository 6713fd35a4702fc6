"""The sandbox providers report what they captured from their own records, in their own
settlement layouts, and the reconciliation reads those reports back."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from payments.domain.access import Role
from payments.reconcile.formats.settlements import read_settlement
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


@pytest.mark.parametrize("provider", ["vnpay", "momo"])
async def test_each_simulator_reports_the_refunds_it_paid_out_that_day(
    sandbox: httpx.AsyncClient, portal: Portal, provider: str
) -> None:
    async def refund(mode: str) -> str:
        """A refund of a payment of its own (VNPay takes one refund of a payment a second)."""
        payment = await create(sandbox, portal, reference=f"HS-R-{mode}", amount=150_000)
        if provider == "vnpay":
            await pay_vnpay(sandbox, await choose_vnpay(sandbox, payment), "success")
        else:
            await pay_momo(sandbox, await choose_momo(sandbox, payment), "success")
        switched = await sandbox.post(f"/sandbox/{provider}/refunds/mode", data={"mode": mode})
        assert switched.status_code == 200, switched.text
        answer = await sandbox.post(
            f"/v1/payments/{payment['id']}/refunds",
            json={"amount": 20_000, "reason": "Thu trùng lệ phí"},
            headers={**portal.auth(Role.FINANCE), "Idempotency-Key": f"k-{mode}"},
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    paid, refused, later = await refund("normal"), await refund("fail"), await refund("pending")
    today = NOW.astimezone(VIETNAM).date().isoformat()
    before = await refund_lines(sandbox, provider, today)
    settled = await sandbox.post(
        f"/sandbox/{provider}/refunds/settle", data={"request_id": later, "outcome": "success"}
    )
    assert settled.status_code == 200, settled.text
    after = await refund_lines(sandbox, provider, today)
    tomorrow = (NOW.astimezone(VIETNAM).date() + timedelta(days=1)).isoformat()

    assert refused not in [reference for reference, _ in after]  # refused: never paid out
    assert before == [(paid, 20_000)]
    assert after == sorted([(paid, 20_000), (later, 20_000)])
    assert await refund_lines(sandbox, provider, tomorrow) == []


async def refund_lines(http: httpx.AsyncClient, provider: str, day: str) -> list[tuple[str, int]]:
    answer = await http.get(f"/sandbox/{provider}/settlement", params={"date": day})
    assert answer.status_code == 200, answer.text
    parsed = read_settlement(provider, io.BytesIO(answer.content))
    assert parsed.lists_refunds
    return [
        (line.payment_reference, line.amount) for line in parsed.require_clean() if line.is_refund
    ]

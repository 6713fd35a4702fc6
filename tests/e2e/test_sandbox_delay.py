"""The simulators' "send the callback later" switch: the browser comes back first and sees
"processing"; the payment moves when the delayed callback lands, once."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.datastructures import FormData

from payments.entrypoints.web.i18n import TEXTS
from payments.entrypoints.web.sandbox_delivery import MAX_DELAY_SECONDS, Switches, switches
from payments.ledger import chart
from tests.api import Portal, api_client
from tests.e2e import test_checkout_momo as momo_flow
from tests.e2e import test_checkout_vnpay as vnpay_flow
from tests.e2e.test_checkout_vietqr import qr_page, simulate

POLL_SECONDS = 5


@pytest.fixture
async def sandbox(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(database_url, sandbox=True) as http:
        yield http


async def wait_for_status(
    http: httpx.AsyncClient, portal: Portal, payment_id: str, wanted: str
) -> None:
    for _ in range(POLL_SECONDS * 20):
        if await vnpay_flow.status(http, portal, payment_id) == wanted:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"{payment_id} did not become {wanted} within {POLL_SECONDS} s")


@pytest.mark.parametrize("provider", ["vnpay", "momo"])
async def test_delayed_ipn_lands_after_the_browser_returns(
    sandbox: httpx.AsyncClient, portal: Portal, database_url: str, provider: str
) -> None:
    payment = await vnpay_flow.create(sandbox, portal)
    if provider == "vnpay":
        pay_url = await vnpay_flow.choose_vnpay(sandbox, payment)
        return_url = await vnpay_flow.pay(sandbox, pay_url, "success", delay_seconds="1")
    else:
        pay_url = await momo_flow.choose_momo(sandbox, payment)
        return_url = await momo_flow.pay(
            sandbox, pay_url, "success", delay_seconds="1", duplicate_ipn="1"
        )
    result = await sandbox.get(vnpay_flow.path_of(return_url))
    assert TEXTS["vi"]["result_processing"] in result.text
    assert await vnpay_flow.status(sandbox, portal, payment["id"]) == "pending"
    await wait_for_status(sandbox, portal, payment["id"], "succeeded")
    nets = await vnpay_flow.ledger_nets(database_url)
    assert nets[chart.provider_clearing(provider).code] == 150_000


async def test_delayed_bank_credit(
    sandbox: httpx.AsyncClient, portal: Portal, database_url: str
) -> None:
    payment = await vnpay_flow.create(sandbox, portal)
    path, reference = await qr_page(sandbox, payment)
    answer = await sandbox.post(
        "/sandbox/vietqr/transfer",
        data={"reference": reference, "choice": "exact", "back": path, "delay_seconds": "1"},
    )
    assert answer.status_code == 303
    assert await vnpay_flow.status(sandbox, portal, payment["id"]) == "pending"
    await wait_for_status(sandbox, portal, payment["id"], "succeeded")
    # an immediate one still works the same way
    other = await vnpay_flow.create(sandbox, portal)
    other_path, other_reference = await qr_page(sandbox, other)
    await simulate(sandbox, other_path, other_reference, "exact")
    assert await vnpay_flow.status(sandbox, portal, other["id"]) == "succeeded"


async def test_simulator_pages_offer_the_delay(sandbox: httpx.AsyncClient, portal: Portal) -> None:
    payment = await vnpay_flow.create(sandbox, portal)
    page = await sandbox.get(vnpay_flow.path_of(await vnpay_flow.choose_vnpay(sandbox, payment)))
    assert re.search(r'<input type="number" name="delay_seconds"', page.text)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, Switches(sends=1, delay_seconds=0)),
        ({"drop": "1"}, Switches(sends=0, delay_seconds=0)),
        ({"dup": "1", "delay_seconds": "30"}, Switches(sends=2, delay_seconds=30)),
        ({"delay_seconds": "soon"}, Switches(sends=1, delay_seconds=0)),
        ({"delay_seconds": "-5"}, Switches(sends=1, delay_seconds=0)),
        ({"delay_seconds": "99999"}, Switches(sends=1, delay_seconds=MAX_DELAY_SECONDS)),
    ],
)
def test_switches_from_the_form(fields: dict[str, str], expected: Switches) -> None:
    assert switches(FormData(fields), drop="drop", duplicate="dup") == expected

"""The simulators' "send the callback later" switch: the browser comes back first and sees
"processing"; the payment moves when the delayed callback lands, once."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.datastructures import FormData

from payments.entrypoints.app import create_app
from payments.entrypoints.web.i18n import TEXTS
from payments.ledger import chart
from payments.sandbox.delivery import (
    MAX_DELAY_SECONDS,
    Deliveries,
    Switches,
    switches,
)
from payments.settings import Settings
from tests.support.api import BASE_URL, Portal
from tests.support.checkout_flows import (
    choose_momo,
    choose_vnpay,
    come_back,
    create,
    ledger_nets,
    path_of,
    pay_momo,
    pay_vnpay,
    qr_page,
    simulate,
    status,
)


class Held:
    """The simulators' delayed sends wait for the test's word, not for the wall clock: the
    browser's return is certain to come first, however slow the machine."""

    def __init__(self) -> None:
        self.asked: list[int] = []
        self.released = asyncio.Event()
        self.deliveries = Deliveries(wait=self.wait)

    async def wait(self, seconds: int) -> None:
        self.asked.append(seconds)
        await self.released.wait()

    async def release(self) -> None:
        """Let the delayed sends go, and wait until they have landed."""
        self.released.set()
        await asyncio.gather(*self.deliveries.tasks)


@pytest.fixture
def held() -> Held:
    return Held()


@pytest.fixture
async def sandbox(database_url: str, held: Held) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        database_url=database_url,
        base_url=BASE_URL,
        sandbox=True,
        expiry_interval_seconds=0,
        log_level="warning",
    )
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        app.state.sandbox_deliveries = held.deliveries
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            yield http


@pytest.mark.parametrize("provider", ["vnpay", "momo"])
async def test_delayed_ipn_lands_after_the_browser_returns(
    sandbox: httpx.AsyncClient, portal: Portal, database_url: str, held: Held, provider: str
) -> None:
    payment = await create(sandbox, portal)
    if provider == "vnpay":
        pay_url = await choose_vnpay(sandbox, payment)
        return_url = await pay_vnpay(sandbox, pay_url, "success", delay_seconds="1")
    else:
        pay_url = await choose_momo(sandbox, payment)
        return_url = await pay_momo(
            sandbox, pay_url, "success", delay_seconds="1", duplicate_ipn="1"
        )
    result = await come_back(sandbox, payment, return_url)
    assert TEXTS["vi"]["state_in_progress"] in result.text
    assert await status(sandbox, portal, payment["id"]) == "pending"
    await held.release()
    assert held.asked == [1]  # one delayed send, of the second asked for
    assert await status(sandbox, portal, payment["id"]) == "succeeded"
    nets = await ledger_nets(database_url)
    assert nets[chart.provider_clearing(provider).code] == 150_000


async def test_delayed_bank_credit(
    sandbox: httpx.AsyncClient, portal: Portal, database_url: str, held: Held
) -> None:
    payment = await create(sandbox, portal)
    path, reference = await qr_page(sandbox, payment)
    answer = await sandbox.post(
        "/sandbox/vietqr/transfer",
        data={"reference": reference, "choice": "exact", "back": path, "delay_seconds": "1"},
    )
    assert answer.status_code == 303
    assert await status(sandbox, portal, payment["id"]) == "pending"
    await held.release()
    assert held.asked == [1]  # one delayed send, of the second asked for
    assert await status(sandbox, portal, payment["id"]) == "succeeded"
    # an immediate one still works the same way
    other = await create(sandbox, portal)
    other_path, other_reference = await qr_page(sandbox, other)
    await simulate(sandbox, other_path, other_reference, "exact")
    assert await status(sandbox, portal, other["id"]) == "succeeded"


async def test_simulator_pages_offer_the_delay(sandbox: httpx.AsyncClient, portal: Portal) -> None:
    payment = await create(sandbox, portal)
    page = await sandbox.get(path_of(await choose_vnpay(sandbox, payment)))
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

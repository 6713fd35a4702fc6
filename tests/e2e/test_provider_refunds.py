"""Provider refunds over HTTP against the running simulators (the app in sandbox mode).

The providers talk to the simulators through the app's own outbound client, which routes the
app's base URL in-process, exactly as the requery does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from asgi_lifespan import LifespanManager

from payments.domain.attempts import AttemptStatus, Provider
from payments.entrypoints.app import create_app
from payments.providers.refunds import (
    RefundFailed,
    RefundNotFound,
    RefundPending,
    RefundSucceeded,
    RefundUnknown,
)
from payments.settings import Settings
from tests.support.api import BASE_URL, Portal
from tests.support.sandbox_refunds import PREFIX, Sandbox, attempt_after, refund_of

PROVIDERS = pytest.mark.parametrize("name", [Provider.VNPAY, Provider.MOMO])
OVER_REFUND = {Provider.VNPAY: "93", Provider.MOMO: "1081"}
FAIL_SWITCH = {Provider.VNPAY: "95", Provider.MOMO: "1080"}


@pytest.fixture
async def sandbox(database_url: str) -> AsyncIterator[Sandbox]:
    settings = Settings(
        database_url=database_url,
        base_url=BASE_URL,
        sandbox=True,
        expiry_interval_seconds=0,
        log_level="warning",
    )
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            yield Sandbox(http, app.state.container)


@PROVIDERS
async def test_full_refund_succeeds_and_its_status_says_so(
    sandbox: Sandbox, portal: Portal, name: Provider
) -> None:
    attempt = await attempt_after(sandbox, portal, name, "success")
    assert attempt.status is AttemptStatus.SUCCEEDED
    provider = sandbox.provider(name)
    request = refund_of(attempt, attempt.amount)
    now = datetime.now(UTC)
    done = await provider.refund(request, now=now)
    assert isinstance(done, RefundSucceeded), done
    assert done.amount == attempt.amount
    assert done.provider_refund_id
    settled = await provider.refund_status(request, now=now)
    assert settled == done


@PROVIDERS
async def test_partial_refunds_add_up_and_an_over_refund_is_refused(
    sandbox: Sandbox, portal: Portal, name: Provider
) -> None:
    attempt = await attempt_after(sandbox, portal, name, "success")  # 150.000 VND
    provider, now = sandbox.provider(name), datetime.now(UTC)
    first = await provider.refund(refund_of(attempt, 50_000), now=now)
    rest = await provider.refund(refund_of(attempt, 100_000), now=now)
    assert isinstance(first, RefundSucceeded)
    assert isinstance(rest, RefundSucceeded)
    over = await provider.refund(refund_of(attempt, 10_000), now=now)
    assert isinstance(over, RefundFailed), over
    assert over.code == OVER_REFUND[name]
    assert sorted(r["amount"] for r in await sandbox.book(name)) == [50_000, 100_000]


@PROVIDERS
async def test_a_retry_with_the_same_request_id_is_the_same_refund(
    sandbox: Sandbox, portal: Portal, name: Provider
) -> None:
    attempt = await attempt_after(sandbox, portal, name, "success")
    provider, now = sandbox.provider(name), datetime.now(UTC)
    request = refund_of(attempt, 100_000)
    first = await provider.refund(request, now=now)
    again = await provider.refund(request, now=now)
    assert isinstance(first, RefundSucceeded)
    assert again == first
    assert len(await sandbox.book(name)) == 1
    # Only 50.000 is left: a second refund of 100.000 under a new id is refused.
    assert isinstance(await provider.refund(refund_of(attempt, 100_000), now=now), RefundFailed)


async def test_refund_of_an_unpaid_vnpay_transaction_is_refused(
    sandbox: Sandbox, portal: Portal
) -> None:
    attempt = await attempt_after(sandbox, portal, Provider.VNPAY, "failure")
    outcome = await sandbox.provider(Provider.VNPAY).refund(
        refund_of(attempt, 10_000), now=datetime.now(UTC)
    )
    assert isinstance(outcome, RefundFailed)
    assert outcome.code == "95"


async def test_refund_of_an_unpaid_momo_transaction_is_refused(
    sandbox: Sandbox, portal: Portal
) -> None:
    attempt = await attempt_after(sandbox, portal, Provider.MOMO, "failure")
    outcome = await sandbox.provider(Provider.MOMO).refund(
        refund_of(attempt, 10_000), now=datetime.now(UTC)
    )
    assert isinstance(outcome, RefundFailed)
    assert outcome.code == "1081"


@PROVIDERS
async def test_failure_switch_fails_the_next_refund_only(
    sandbox: Sandbox, portal: Portal, name: Provider
) -> None:
    attempt = await attempt_after(sandbox, portal, name, "success")
    provider, now = sandbox.provider(name), datetime.now(UTC)
    await sandbox.switch(name, "fail")
    request = refund_of(attempt, 20_000)
    failed = await provider.refund(request, now=now)
    assert isinstance(failed, RefundFailed)
    assert failed.code == FAIL_SWITCH[name]
    status = await provider.refund_status(request, now=now)
    assert isinstance(status, RefundFailed), status
    assert isinstance(await provider.refund(refund_of(attempt, 20_000), now=now), RefundSucceeded)


@PROVIDERS
async def test_timeout_leaves_the_refund_unknown_until_the_status_query_settles_it(
    sandbox: Sandbox, portal: Portal, name: Provider
) -> None:
    attempt = await attempt_after(sandbox, portal, name, "success")
    provider, now = sandbox.provider(name, timeout_seconds=1), datetime.now(UTC)
    await sandbox.switch(name, "timeout", seconds="3")
    request = refund_of(attempt, 30_000)
    lost = await provider.refund(request, now=now)
    assert lost == RefundUnknown("timeout")
    settled = await provider.refund_status(request, now=now)
    assert isinstance(settled, RefundSucceeded), settled
    retried = await provider.refund(request, now=now)  # the same id: no second refund
    assert isinstance(retried, RefundSucceeded)
    assert [r["amount"] for r in await sandbox.book(name)] == [30_000]


@PROVIDERS
async def test_a_dropped_request_is_not_found_and_safe_to_send_again(
    sandbox: Sandbox, portal: Portal, name: Provider
) -> None:
    attempt = await attempt_after(sandbox, portal, name, "success")
    provider, now = sandbox.provider(name), datetime.now(UTC)
    await sandbox.switch(name, "drop")
    request = refund_of(attempt, 40_000)
    assert await provider.refund(request, now=now) == RefundUnknown("http 504")
    assert isinstance(await provider.refund_status(request, now=now), RefundNotFound)
    assert isinstance(await provider.refund(request, now=now), RefundSucceeded)
    assert isinstance(await provider.refund_status(request, now=now), RefundSucceeded)


@PROVIDERS
async def test_a_pending_refund_stays_pending_until_the_provider_settles_it(
    sandbox: Sandbox, portal: Portal, name: Provider
) -> None:
    attempt = await attempt_after(sandbox, portal, name, "success")
    provider, now = sandbox.provider(name), datetime.now(UTC)
    await sandbox.switch(name, "pending")
    request = refund_of(attempt, 25_000)
    assert isinstance(await provider.refund(request, now=now), RefundPending)
    assert isinstance(await provider.refund_status(request, now=now), RefundPending)
    settle = await sandbox.http.post(
        f"{PREFIX[name]}/refunds/settle",
        data={"request_id": request.request_id, "outcome": "success"},
    )
    assert settle.status_code == 200, settle.text
    assert isinstance(await provider.refund_status(request, now=now), RefundSucceeded)


async def test_the_switch_endpoint_refuses_unknown_modes(sandbox: Sandbox) -> None:
    answer = await sandbox.http.post("/sandbox/vnpay/refunds/mode", data={"mode": "explode"})
    assert answer.status_code == 400

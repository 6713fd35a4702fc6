"""Provider refunds against the running simulators: the app in sandbox mode, a payment paid
(or refused) at VNPay or MoMo, and refund requests to send to the provider clients, which
reach the simulators through the app's own outbound client."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from payments.bootstrap import momo_config, vnpay_config
from payments.domain.attempts import Attempt, Provider
from payments.http.container import Container
from payments.providers.interface import PaymentProvider
from payments.providers.momo.provider import MomoProvider
from payments.providers.refunds import RefundRequest
from payments.providers.vnpay.provider import VnpayProvider
from tests.support.api import Portal
from tests.support.checkout_flows import choose_momo, choose_vnpay, create, pay_momo, pay_vnpay

PREFIX = {Provider.VNPAY: "/sandbox/vnpay", Provider.MOMO: "/sandbox/momo"}
_ids = itertools.count(1)


@dataclass
class Sandbox:
    http: httpx.AsyncClient  # the test's client into the app
    container: Container

    def provider(self, name: Provider, *, timeout_seconds: int = 30) -> PaymentProvider:
        settings, http = self.container.settings, self.container.http
        if name is Provider.VNPAY:
            return VnpayProvider(vnpay_config(settings), http, timeout_seconds=timeout_seconds)
        return MomoProvider(momo_config(settings), http, timeout_seconds=timeout_seconds)

    async def switch(self, name: Provider, mode: str, **form: str) -> None:
        answer = await self.http.post(f"{PREFIX[name]}/refunds/mode", data={"mode": mode, **form})
        assert answer.status_code == 200, answer.text

    async def book(self, name: Provider) -> list[dict[str, Any]]:
        refunds: list[dict[str, Any]] = (await self.http.get(f"{PREFIX[name]}/refunds")).json()[
            "refunds"
        ]
        return refunds


async def attempt_after(sb: Sandbox, portal: Portal, name: Provider, outcome: str) -> Attempt:
    payment = await create(sb.http, portal)
    if name is Provider.VNPAY:
        await pay_vnpay(sb.http, await choose_vnpay(sb.http, payment), outcome)
    else:
        await pay_momo(sb.http, await choose_momo(sb.http, payment), outcome)
    async with sb.container.uow_factory() as tx:
        (attempt,) = await tx.attempts.for_payment(payment["id"])
    return attempt


def refund_of(attempt: Attempt, amount: int, *, request_id: str | None = None) -> RefundRequest:
    return RefundRequest(
        attempt=attempt,
        amount=amount,
        full=amount == attempt.amount,
        request_id=request_id or f"rf{next(_ids)}x{datetime.now(UTC):%H%M%S%f}",
        reason="Thu trùng lệ phí",
        actor="finance@agency",
        requested_at=datetime.now(UTC),
    )

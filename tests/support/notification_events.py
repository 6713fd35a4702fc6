"""Events to deliver, made through the real services: an agency with a webhook secret, a
payment with a notify_url, cancelled (``payment.cancelled``)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from payments.collection.usecases import payments as service
from payments.domain.access import Caller, Role
from payments.domain.notifications import Notification
from payments.notifications.usecases import rotate_webhook_secret
from payments.services.access import create_agency
from payments.unit_of_work import WorkFactory
from tests.support.factories import LIMITS, draft, respond

HOSTS = ["127.0.0.1", "portal.example.vn"]
_numbers = itertools.count(1)


@dataclass(frozen=True)
class Agency:
    caller: Caller
    secret: str


async def agency_with_secret(
    uow: WorkFactory, now: datetime, *, ports: tuple[int, ...] = ()
) -> Agency:
    """A new agency allowing HOSTS and 127.0.0.1 on each of ``ports`` (a live receiver's)."""
    code = f"NT{next(_numbers)}"
    hosts = [*HOSTS, *(f"127.0.0.1:{port}" for port in ports)]
    agency = await create_agency(
        uow, code=code, name=code, allowed_hosts=hosts, actor="test", now=now
    )
    secret = await rotate_webhook_secret(
        uow, agency_code=code, overlap=timedelta(hours=24), actor="test", now=now
    )
    caller = Caller(
        api_key_id=1,
        agency_id=agency.id,
        agency_code=code,
        role=Role.PORTAL,
        allowed_hosts=agency.allowed_hosts,
    )
    return Agency(caller, secret)


async def cancelled_payment_event(
    uow: WorkFactory, agency: Agency, now: datetime, notify_url: str | None
) -> Notification:
    """A payment created and cancelled at ``now``: its one event, ``payment.cancelled``."""
    number = next(_numbers)
    created = await service.create_payment(
        uow,
        caller=agency.caller,
        draft=draft(
            reference=f"HS-N{number}",
            return_url="http://127.0.0.1/back",
            notify_url=notify_url,
        ),
        idempotency=service.IdempotentRequest(f"k{number}", "f"),
        limits=service.CreationLimits(**{**LIMITS.__dict__, "allow_plain_http": True}),
        respond=respond,
        now=now,
    )
    assert created.payment is not None
    await service.cancel_payment(uow, agency.caller, created.payment.id, reason=None, now=now)
    async with uow() as tx:
        events = await tx.notifications.for_payment(created.payment.id)
    assert [e.type for e in events] == ["payment.cancelled"]
    return events[0]

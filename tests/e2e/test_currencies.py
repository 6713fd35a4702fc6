"""A payment's currency must be one its agency's providers can take (today VND only).

Before, ``"currency": "USD", "amount": 1500`` was accepted and VNPay was then sent
``vnp_Amount=150000, vnp_CurrCode=VND`` (1.500 dong taken, the IPN refused for its currency,
the payment stuck in ``pending``), and the VietQR payload said 704 with 1500. Now creation
refuses it, and a payment stored in another currency before the fix is offered no provider.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from payments.domain.attempts import Attempt, AttemptStatus, Provider, provider_reference
from payments.domain.events import AuditEntry, PaymentEvent
from payments.domain.ids import new_checkout_token, new_payment_id
from payments.domain.payments import Payment, PaymentStatus
from payments.entrypoints.web.i18n import TEXTS
from payments.services.ports import IdempotencyClaim, StoredResponse
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import BASE_URL, Portal, api_client, payment_body
from tests.support.factories import draft

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
REFUSED_TEXT = TEXTS["vi"]["currency_not_accepted"]


@pytest.fixture
async def http(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    # Not sandbox mode: the providers' URLs lead nowhere, so any call to one would fail (502).
    async with api_client(database_url, clock=lambda: NOW) as client:
        yield client


async def post_payment(
    http: httpx.AsyncClient, portal: Portal, key: str, **body: object
) -> httpx.Response:
    return await http.post(
        "/v1/payments", json=payment_body(**body), headers={**portal.auth(), "Idempotency-Key": key}
    )


async def test_a_currency_no_provider_takes_is_refused_naming_the_accepted_ones(
    http: httpx.AsyncClient, portal: Portal
) -> None:
    refused = await post_payment(http, portal, "dossier-1", currency="USD", amount=1500)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert "VND" in problem["detail"]
    assert "USD" in problem["detail"]
    assert problem["errors"] == [
        {"field": "currency", "message": "'USD' is not accepted (accepted currencies: VND)"}
    ]
    listing = await http.get("/v1/payments", headers=portal.auth())
    assert listing.json()["data"] == []
    # Nothing was created and the key is still free: the corrected request goes through.
    fixed = await post_payment(http, portal, "dossier-1", currency="VND", amount=150_000)
    assert fixed.status_code == 201, fixed.text
    assert fixed.headers["idempotent-replayed"] == "false"
    assert (fixed.json()["amount"], fixed.json()["currency"]) == (150_000, "VND")
    defaulted = await post_payment(http, portal, "dossier-2")
    assert defaulted.status_code == 201, defaulted.text


async def stored_before_the_fix(uow: SqlUnitOfWorkFactory, portal: Portal) -> Payment:
    """A USD payment written straight through the repository, as creation stored one before
    it checked currencies."""
    async with uow() as tx:
        agency = await tx.agencies.by_code(portal.code)
        assert agency is not None
        payment = Payment(
            id=new_payment_id(NOW),
            agency_id=agency.id,
            draft=draft(reference="HS-USD", amount=1500, currency="USD"),
            status=PaymentStatus.CREATED,
            checkout_token=new_checkout_token(),
            expires_at=NOW + timedelta(hours=1),
            created_at=NOW,
            updated_at=NOW,
        )
        creation = await tx.payments.create_with_records(
            payment,
            PaymentEvent(
                payment_id=payment.id,
                from_status=None,
                to_status=PaymentStatus.CREATED.value,
                cause="api.create",
                actor="test",
                occurred_at=NOW,
            ),
            AuditEntry(action="payment.created", actor="test", occurred_at=NOW),
            IdempotencyClaim(
                agency_id=agency.id,
                key="before-the-fix",
                fingerprint="f",
                response=StoredResponse(201, "{}"),
                now=NOW,
                expires_at=NOW + timedelta(hours=1),
            ),
        )
        assert creation.earlier is None
        await tx.commit()
    return payment


def checkout_path(payment: Payment) -> str:
    return f"/checkout/{payment.checkout_token}"


async def test_checkout_of_a_payment_in_another_currency_offers_and_starts_nothing(
    http: httpx.AsyncClient, portal: Portal, uow_factory: SqlUnitOfWorkFactory
) -> None:
    in_vnd = await post_payment(http, portal, "vnd")
    vnd_page = await http.get(urlsplit(in_vnd.json()["checkout_url"]).path)
    assert vnd_page.text.count('name="provider"') == len(Provider)
    payment = await stored_before_the_fix(uow_factory, portal)

    page = await http.get(checkout_path(payment))
    assert page.status_code == 200
    assert 'name="provider"' not in page.text  # no provider is offered
    assert REFUSED_TEXT in page.text
    for provider in Provider:
        answer = await http.post(
            checkout_path(payment), data={"provider": provider.value}, headers={"Origin": BASE_URL}
        )
        assert answer.status_code == 422, (provider, answer.text)
        assert "location" not in answer.headers  # the payer is sent to no provider
        assert REFUSED_TEXT in answer.text
    async with uow_factory() as tx:
        assert await tx.attempts.for_payment(payment.id) == []
        stored = await tx.payments.by_id(payment.id)
        events = await tx.events.for_payment(payment.id)
    assert stored is not None
    assert stored.status is PaymentStatus.CREATED
    assert [e.to_status for e in events] == ["created"]


async def test_a_vietqr_attempt_stored_in_another_currency_shows_no_qr_code(
    http: httpx.AsyncClient, portal: Portal, uow_factory: SqlUnitOfWorkFactory
) -> None:
    payment = await stored_before_the_fix(uow_factory, portal)
    attempt = Attempt(
        id="att_usd",
        payment_id=payment.id,
        provider=Provider.VIETQR,
        provider_ref=provider_reference(Provider.VIETQR, "att_usd"),
        merchant="970415:113366668888",
        amount=1500,
        currency="USD",
        status=AttemptStatus.PENDING,
        created_at=NOW,
        updated_at=NOW,
    )
    async with uow_factory() as tx:
        await tx.attempts.add(attempt)
        await tx.commit()
    page = await http.get(f"{checkout_path(payment)}/vietqr/{attempt.id}")
    assert page.status_code == 409
    assert REFUSED_TEXT in page.text
    assert "5303704" not in page.text  # no payload claiming dong

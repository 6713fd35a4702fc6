"""The payment use cases on in-memory fakes: rules, transitions, idempotency, atomicity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from payments.collection.usecases import payments as service
from payments.domain.access import Caller, Role
from payments.domain.errors import (
    Conflict,
    IdempotencyKeyReused,
    InvalidInput,
    InvalidTransition,
    NotFound,
    ReferenceInUse,
)
from payments.domain.payments import PaymentDraft, PaymentStatus
from tests.support.factories import LIMITS, draft, portal_caller, respond
from tests.unit.fakes import FakeUnitOfWorkFactory

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


async def setup() -> tuple[FakeUnitOfWorkFactory, Caller]:
    uow = FakeUnitOfWorkFactory()
    return uow, await portal_caller(uow, NOW)


async def create(
    uow: FakeUnitOfWorkFactory, caller: Caller, d: PaymentDraft, key: str = "k", fp: str = "f"
) -> service.Created:
    return await service.create_payment(
        uow,
        caller=caller,
        draft=d,
        idempotency=service.IdempotentRequest(key, fp),
        limits=LIMITS,
        respond=respond,
        now=NOW,
    )


async def test_created_payment_records_event_and_audit() -> None:
    uow, caller = await setup()
    created = await create(uow, caller, draft())
    assert created.payment is not None
    assert created.payment.status is PaymentStatus.CREATED
    assert created.payment.expires_at == NOW + timedelta(hours=1)
    assert [e.to_status for e in uow.store.events] == ["created"]
    assert [a.action for a in uow.store.audit] == ["agency.created", "payment.created"]


async def test_rejected_draft_changes_nothing() -> None:
    uow, caller = await setup()
    with pytest.raises(InvalidInput) as caught:
        await create(uow, caller, draft(amount=2_000_000, return_url="https://elsewhere.vn/"))
    assert {p.field for p in caught.value.problems} == {"amount", "return_url"}
    assert uow.store.payments == {}
    assert uow.store.idempotency == {}


async def test_a_currency_no_provider_takes_is_refused_and_leaves_the_key_unused() -> None:
    """USD used to be accepted and then charged as VND: it is refused at creation, naming the
    currencies the agency's providers take; the Idempotency-Key stays free."""
    uow, caller = await setup()
    with pytest.raises(InvalidInput) as caught:
        await create(uow, caller, draft(amount=1500, currency="USD"), key="k1", fp="usd")
    assert [(p.field, p.message) for p in caught.value.problems] == [
        ("currency", "'USD' is not accepted (accepted currencies: VND)")
    ]
    assert "VND" in caught.value.detail
    assert uow.store.payments == {}
    assert uow.store.events == []
    assert uow.store.idempotency == {}
    fixed = await create(uow, caller, draft(), key="k1", fp="vnd")  # the same key, now in VND
    assert fixed.payment is not None
    assert not fixed.replayed
    assert fixed.payment.draft.currency == "VND"
    # The accepted currencies are whatever the limits say (the providers' declarations).
    several = service.CreationLimits(**{**LIMITS.__dict__, "currencies": frozenset({"VND", "USD"})})
    in_usd = await service.create_payment(
        uow,
        caller=caller,
        draft=draft(reference="HS-2", amount=1500, currency="USD"),
        idempotency=service.IdempotentRequest("k2", "usd"),
        limits=several,
        respond=respond,
        now=NOW,
    )
    assert in_usd.payment is not None


async def test_idempotent_replay_and_reuse() -> None:
    uow, caller = await setup()
    first = await create(uow, caller, draft(), key="a", fp="one")
    again = await create(uow, caller, draft(), key="a", fp="one")
    assert again.replayed
    assert again.response == first.response
    with pytest.raises(IdempotencyKeyReused):
        await create(uow, caller, draft(reference="HS-2"), key="a", fp="two")
    assert len(uow.store.payments) == 1


async def test_reference_held_until_the_payment_ends() -> None:
    uow, caller = await setup()
    first = await create(uow, caller, draft(), key="a")
    with pytest.raises(ReferenceInUse) as caught:
        await create(uow, caller, draft(), key="b")
    assert first.payment is not None
    assert caught.value.existing_payment_id == first.payment.id
    await service.cancel_payment(uow, caller, first.payment.id, reason=None, now=NOW)
    assert (await create(uow, caller, draft(), key="c")).payment is not None


async def test_cancel_rules() -> None:
    uow, caller = await setup()
    created = await create(uow, caller, draft())
    assert created.payment is not None
    pid = created.payment.id
    await service.expire_due_payments(uow, now=NOW + timedelta(hours=2))
    with pytest.raises(InvalidTransition):
        await service.cancel_payment(uow, caller, pid, reason=None, now=NOW)
    other = Caller(api_key_id=9, agency_id=99, agency_code="X", role=Role.PORTAL)
    with pytest.raises(NotFound):
        await service.get_payment(uow, other, pid)


async def test_in_progress_key_is_a_conflict() -> None:
    uow, caller = await setup()
    async with uow() as unit:
        await unit.idempotency.claim(
            agency_id=caller.agency_id, key="busy", fingerprint="f", now=NOW, expires_at=NOW
        )
        await unit.commit()
    with pytest.raises(Conflict):
        await create(uow, caller, draft(), key="busy")

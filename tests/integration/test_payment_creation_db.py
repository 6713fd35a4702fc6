"""Creating a payment on SQLite and PostgreSQL: Idempotency-Key claim, reference, rollback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from payments.adapters.db import tables as t
from payments.collection.usecases import payments as service
from payments.domain.access import Caller
from payments.domain.errors import IdempotencyKeyReused, InvalidInput, ReferenceInUse
from payments.domain.payments import PaymentDraft
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.factories import LIMITS, draft, portal_caller, respond

NOW = datetime.now(UTC).replace(microsecond=0)


async def create(
    uow: SqlUnitOfWorkFactory,
    caller: Caller,
    d: PaymentDraft,
    key: str,
    fp: str = "f",
    now: datetime = NOW,
) -> service.Created:
    return await service.create_payment(
        uow,
        caller=caller,
        draft=d,
        idempotency=service.IdempotentRequest(key, fp),
        limits=LIMITS,
        respond=respond,
        now=now,
    )


async def count(engine: AsyncEngine, table: Table) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_a_creation_stores_payment_event_audit_and_answer(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    caller = await portal_caller(uow_factory, NOW)
    created = await create(uow_factory, caller, draft(), "k1")
    assert created.payment is not None
    async with uow_factory() as uow:
        stored = await uow.payments.get(caller.agency_id, created.payment.id)
        events = await uow.events.for_payment(created.payment.id)
    assert stored is not None
    assert (stored.draft.reference, stored.checkout_token) == (
        created.payment.draft.reference,
        created.payment.checkout_token,
    )
    assert [(e.to_status, e.cause) for e in events] == [("created", "api.create")]
    assert await count(engine, t.audit_log) == 2  # the agency's, then the payment's
    async with engine.connect() as conn:
        record = (await conn.execute(select(t.idempotency_records))).one()
    assert (record.response_status, record.response_body) == (201, created.payment.id)
    again = await create(uow_factory, caller, draft(), "k1")
    assert again.replayed
    assert again.response == created.response


async def test_a_held_reference_names_the_holder_and_leaves_the_key_free(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    caller = await portal_caller(uow_factory, NOW)
    first = await create(uow_factory, caller, draft(), "a")
    assert first.payment is not None
    with pytest.raises(ReferenceInUse) as caught:
        await create(uow_factory, caller, draft(), "b")
    assert caught.value.existing_payment_id == first.payment.id
    assert (await count(engine, t.idempotency_records), await count(engine, t.payments)) == (1, 1)
    assert await count(engine, t.payment_events) == 1
    # The refused request's key was never kept: the same key may create another payment.
    second = await create(uow_factory, caller, draft(reference="HS-2"), "b")
    assert second.payment is not None
    assert not second.replayed


async def test_an_expired_key_is_taken_over(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    caller = await portal_caller(uow_factory, NOW)
    await create(uow_factory, caller, draft(), "old", fp="one")
    later = NOW + LIMITS.idempotency_ttl
    fresh = await create(uow_factory, caller, draft(reference="HS-2"), "old", fp="two", now=later)
    assert fresh.payment is not None
    assert not fresh.replayed
    assert await count(engine, t.idempotency_records) == 1
    replay = await create(uow_factory, caller, draft(reference="HS-2"), "old", fp="two", now=later)
    assert replay.replayed
    assert replay.response == fresh.response


async def test_a_replay_is_answered_even_when_the_body_no_longer_passes(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    caller = await portal_caller(uow_factory, NOW)
    soon = draft(expires_at=NOW + timedelta(minutes=10))
    first = await create(uow_factory, caller, soon, "r", fp="one")
    later = NOW + timedelta(hours=1)  # the requested expiry is now in the past
    replay = await create(uow_factory, caller, soon, "r", fp="one", now=later)
    assert replay.replayed
    assert replay.response == first.response
    with pytest.raises(IdempotencyKeyReused):
        await create(uow_factory, caller, soon, "r", fp="two", now=later)
    with pytest.raises(InvalidInput):
        await create(uow_factory, caller, soon, "unused", now=later)
    assert await count(engine, t.idempotency_records) == 1

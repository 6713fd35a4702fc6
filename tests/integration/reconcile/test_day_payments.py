"""The day's succeeded payments as the matcher gets them: on PostgreSQL the six codes come
joined in one text; a code that contains the joining character itself must still come out
whole (the load falls back to a JSON array)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payments.domain.attempts import Provider
from payments.unit_of_work import WorkFactory
from tests.support.reconcile_days import CAPTURED, gateway


async def day_payments(uow_factory: WorkFactory) -> dict[str, tuple[object, ...]]:
    async with uow_factory() as tx:
        found = await tx.reconciliation.succeeded_payments(
            CAPTURED - timedelta(hours=1), CAPTURED + timedelta(hours=1)
        )
    return {p.payment_id: p[1:] for p in found.payments}


async def test_codes_come_out_whole_even_with_the_separator_inside(
    uow_factory: WorkFactory, engine: AsyncEngine
) -> None:
    gw = await gateway(uow_factory)
    plain, odd = await gw.paid(100_000), await gw.paid(200_000)
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE payments SET treasury_code = :code WHERE id = :id"),
            {"code": "00\x1f11", "id": odd.id},
        )
    found = await day_payments(uow_factory)
    assert set(found) == {plain.id, odd.id}
    for payment, treasury_code in ((plain, plain.draft.budget.treasury_code), (odd, "00\x1f11")):
        agency, amount, currency, code, chapter, sub_item, provider, captured, *_ = found[
            payment.id
        ]
        budget = payment.draft.budget
        assert (amount, currency, code) == (payment.draft.amount, "VND", treasury_code)
        assert (chapter, sub_item) == (budget.chapter, budget.sub_item)
        assert agency == "DVC"
        assert provider == Provider.VNPAY.value
        assert captured == CAPTURED
    # Equal codes are one object each (a million payments share a handful of strings).
    assert found[plain.id][2] is found[odd.id][2]  # the currency

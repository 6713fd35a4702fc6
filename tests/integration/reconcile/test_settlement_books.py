"""Provider settlements and refunds on the real databases: a settlement is booked net of the
refunds the provider already paid, waits while one is in flight, and once the money has left
the provider a refund through the gateway is refused (the books would read a negative clearing
or budget payable balance: the money is the State Treasury's)."""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payments.collection.usecases import checkout, transfers
from payments.collection.usecases import payments as payment_service
from payments.domain.attempts import Provider
from payments.domain.credits import BankCredit
from payments.domain.errors import Conflict
from payments.providers.refunds import RefundSucceeded
from payments.reconcile.formats.settlements import SettlementLine, read_settlement, write_settlement
from payments.reconcile.ports import SettlementRecord
from payments.reconcile.usecases.day import reconcile_day
from payments.reconcile.usecases.imports import import_settlement
from payments.refunds.rules.lifecycle import RefundStatus
from payments.refunds.usecases import requests as service
from payments.refunds.usecases.execution import execute_refund
from payments.services.ports import StoredResponse
from payments.unit_of_work import WorkFactory
from tests.support.factories import LIMITS, draft, portal_caller
from tests.support.reconcile_days import csv_line, import_csv, settle, statement
from tests.support.refund_support import Providers, ScriptedProvider, ask, officer, paid_payment

PAID = datetime(2025, 3, 12, 2, 0, tzinfo=UTC)  # Wednesday 09:00 in Hanoi
DAY = date(2025, 3, 12)
NIGHT = datetime(2025, 3, 12, 18, 0, tzinfo=UTC)


async def nets(uow: WorkFactory) -> Counter[str]:
    async with uow() as tx:
        found = Counter({t.account.code: t.net for t in await tx.ledger.totals(as_of=None)})
    assert sum(found.values()) == 0
    return found


async def a_night(uow: WorkFactory, *statement_lines: str) -> None:
    lines = statement_lines or (csv_line("PHI-NH", 11_000, booked=DAY, direction="debit"),)
    await import_csv(uow, statement(*lines), DAY, at=NIGHT)


async def test_a_settlement_waits_for_a_refund_in_flight_then_books_the_net(
    uow_factory: WorkFactory,
) -> None:
    paid = await paid_payment(uow_factory, PAID)
    asked = await ask(uow_factory, paid.officer(1), paid.payment.id, 100_000, PAID)
    assert asked.refund is not None
    assert asked.refund.status is RefundStatus.APPROVED
    await a_night(uow_factory)
    await settle(uow_factory, paid.payment, fee=1_000)

    waiting = await reconcile_day(uow_factory, DAY, now=NIGHT)
    assert waiting.run.settled_payments == 0  # the refund's outcome changes what VNPay owes
    assert (await nets(uow_factory))["clearing:vnpay"] == 150_000

    vnpay = ScriptedProvider(refunds=[RefundSucceeded(100_000, "RF1", "00")])
    providers = Providers({Provider.VNPAY: vnpay})
    done = await execute_refund(uow_factory, providers, asked.refund.id, now=NIGHT)
    assert done.status is RefundStatus.SUCCEEDED
    rerun = await reconcile_day(uow_factory, DAY, now=NIGHT + timedelta(hours=1))
    assert rerun.run.settled_payments == 1
    books = await nets(uow_factory)
    # Captured 150 000, refunded 100 000 by VNPay, settled the other 50 000 less its fee.
    assert books["clearing:vnpay"] == 0
    assert books["collection-bank"] == 50_000
    assert books["provider-fees:vnpay"] == 1_000
    assert books["fee-cover"] == -1_000
    assert books[f"budget-payable:{paid.code}:2662"] == -50_000


@pytest.mark.parametrize("passed", ["settled", "confirmed"])
async def test_no_refund_once_the_money_left_the_provider(
    uow_factory: WorkFactory, passed: str
) -> None:
    paid = await paid_payment(uow_factory, PAID)
    if passed == "settled":
        await a_night(uow_factory)
        await settle(uow_factory, paid.payment)
    else:
        await a_night(uow_factory, csv_line(paid.payment.id, 150_000))
    await reconcile_day(uow_factory, DAY, now=NIGHT)
    before = await nets(uow_factory)

    with pytest.raises(Conflict, match="budget refund procedure"):
        await ask(uow_factory, paid.officer(1), paid.payment.id, 10_000, NIGHT)
    assert await nets(uow_factory) == before  # refused: nothing changed


async def test_an_approval_after_the_treasury_confirmed_is_refused(
    uow_factory: WorkFactory,
) -> None:
    paid = await paid_payment(uow_factory, PAID, amount=90_000_000)  # above the threshold
    asked = await ask(uow_factory, paid.officer(1), paid.payment.id, 60_000_000, PAID)
    assert asked.refund is not None
    assert asked.refund.status is RefundStatus.AWAITING_APPROVAL
    await a_night(uow_factory, csv_line(paid.payment.id, 90_000_000))
    await reconcile_day(uow_factory, DAY, now=NIGHT)

    with pytest.raises(Conflict, match="reached the State Treasury"):
        await service.approve_refund(
            uow_factory, paid.officer(2), asked.refund.id, note=None, now=NIGHT
        )


async def advisory_waiters(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        found = await conn.scalar(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        )
    return int(found or 0)


@pytest.mark.postgres_only
async def test_a_refund_asked_while_a_run_books_the_settlement_waits_and_is_refused(
    uow_factory: WorkFactory, engine: AsyncEngine
) -> None:
    # The run has read the payment's refunds (none) and is booking its settlement when an
    # officer asks for a refund: the refund waits for the run, then sees the settlement.
    paid = await paid_payment(uow_factory, PAID)
    await a_night(uow_factory)
    await settle(uow_factory, paid.payment)
    async with uow_factory() as run:
        await run.reconciliation.lock_settlements(exclusive=True)
        asking = asyncio.create_task(
            ask(uow_factory, paid.officer(1), paid.payment.id, 10_000, NIGHT)
        )
        while await advisory_waiters(engine) == 0:  # no time margin: the lock table says
            assert not asking.done(), asking
            await asyncio.sleep(0.01)
        await run.reconciliation.add_settlements(
            SettlementRecord(DAY, 1, None), [(paid.payment.id, "vnpay", 0)]
        )
        await run.commit()
    with pytest.raises(Conflict, match="settled by its provider"):
        await asking


async def test_a_refund_paid_before_the_settlement_leaves_the_treasury_owed_the_rest(
    uow_factory: WorkFactory,
) -> None:
    # Found by the lifecycle machine: VNPay refunded 37,500 of 150,000 before it settled, so
    # it settles 112,500 and the treasury receives 112,500. That line matches (it used to be an
    # amount mismatch on every run), VNPay's report of the gross 150,000 agrees, and every
    # account of the chain is back at zero.
    paid = await paid_payment(uow_factory, PAID)
    asked = await ask(uow_factory, paid.officer(1), paid.payment.id, 37_500, PAID)
    assert asked.refund is not None
    vnpay = ScriptedProvider(refunds=[RefundSucceeded(37_500, "RF1", "00")])
    await execute_refund(uow_factory, Providers({Provider.VNPAY: vnpay}), asked.refund.id, now=PAID)
    await a_night(uow_factory, csv_line(paid.payment.id, 112_500))
    await settle(uow_factory, paid.payment)

    result = await reconcile_day(uow_factory, DAY, now=NIGHT)
    assert result.run.totals.keys() == {"matched"}
    assert result.run.matched_treasury_total == 112_500
    assert (result.run.settled_payments, result.run.posted_payments) == (1, 1)
    assert set((await nets(uow_factory)).values()) == {0}


async def test_a_payment_settled_on_an_earlier_report_is_not_missing_from_later_ones(
    uow_factory: WorkFactory,
) -> None:
    # Found by the lifecycle machine: VNPay settled the payment on Wednesday's report; the
    # treasury credits it on Thursday. Thursday's report rightly does not list it again, and
    # Thursday's run used to say provider_missing all the same.
    paid = await paid_payment(uow_factory, PAID)
    await a_night(uow_factory)
    await settle(uow_factory, paid.payment)
    wednesday = await reconcile_day(uow_factory, DAY, now=NIGHT)
    assert wednesday.run.totals.keys() == {"ignored", "missing_at_treasury"}

    thursday, later = DAY + timedelta(days=1), NIGHT + timedelta(days=1)
    await import_csv(
        uow_factory, statement(csv_line(paid.payment.id, 150_000, booked=thursday)), thursday,
        at=later,
    )  # fmt: skip
    await settle(uow_factory, day=thursday, at=later)  # a report that lists nothing
    result = await reconcile_day(uow_factory, thursday, now=later)
    assert result.run.totals.keys() == {"late"}
    assert result.run.posted_payments == 1
    assert set((await nets(uow_factory)).values()) == {0}


async def test_money_taken_beyond_the_amount_can_be_refunded_after_the_settlement(
    uow_factory: WorkFactory,
) -> None:
    # Found by the lifecycle machine: 125,000 transferred for a 100,000 fee. The budget's
    # 100,000 is settled and remitted; the 25,000 never was the budget's, so its refund is
    # still the gateway's to make (it used to be refused once the payment was settled).
    code = "OVERPAID"
    portal = await portal_caller(uow_factory, PAID, code=code)
    created = await payment_service.create_payment(
        uow_factory,
        caller=portal,
        draft=draft(reference="HS-OVER", amount=100_000),
        idempotency=payment_service.IdempotentRequest("k-over", "f"),
        limits=LIMITS,
        respond=lambda p: StoredResponse(201, p.id),
        now=PAID,
    )
    assert created.payment is not None
    started = await checkout.start_attempt(
        uow_factory,
        token=created.payment.checkout_token,
        provider=Provider.VIETQR,
        merchant="970415:1",
        currencies=frozenset({"VND"}),
        now=PAID,
    )
    reference = started.attempt.provider_ref
    credit = BankCredit("FT-OVER", 125_000, "VND", f"NOP {reference}", PAID, reference)
    applied = await transfers.apply_bank_credit(uow_factory, credit, callback=None, now=PAID)
    assert applied.payment is not None
    payment = applied.payment
    await a_night(uow_factory, csv_line(payment.id, 100_000))
    lines = [SettlementLine("vietqr", 2, "FT-OVER", reference, 100_000, 0, "VND", DAY)]
    out = io.StringIO()
    write_settlement("vietqr", lines, out)
    report = read_settlement("vietqr", io.BytesIO(out.getvalue().encode()))
    await import_settlement(uow_factory, report, business_date=DAY, actor="ops", now=NIGHT)
    result = await reconcile_day(uow_factory, DAY, now=NIGHT)
    assert (result.run.settled_payments, result.run.posted_payments) == (1, 1)
    assert (await nets(uow_factory))["clearing:vietqr"] == 25_000  # owed back to the payer

    finance = officer(portal.agency_id, 1, code)
    with pytest.raises(Conflict, match="budget refund procedure"):
        await ask(uow_factory, finance, payment.id, 30_000, NIGHT)  # 5,000 from the budget
    excess = await ask(uow_factory, finance, payment.id, 25_000, NIGHT)
    assert excess.refund is not None
    assert (excess.refund.status, excess.refund.from_budget) == (RefundStatus.APPROVED, 0)

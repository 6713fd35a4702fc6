"""Worked examples of the nightly reconciliation, one per outcome, on SQLite and PostgreSQL.

Each story: the gateway captured some payments on Wednesday 12 March 2025 (Hanoi time), the
treasury's statement for that day arrives as CSV, the day is reconciled, and the report says
what treasury staff will read the next morning.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from payments.domain.attempts import Attempt, ProviderOutcome
from payments.domain.errors import Conflict
from payments.domain.payments import PaymentStatus
from payments.ledger import chart
from payments.reconcile.formats.statements import StatementError
from payments.reconcile.ports import Dimension, ItemFilter, ItemState, StoredItem
from payments.reconcile.rules.matching import Outcome
from payments.reconcile.sources.treasury import statement_reader
from payments.reconcile.usecases.day import DayResult, reconcile_day
from payments.reconcile.usecases.imports import import_statement
from payments.reconcile.usecases.reports import (
    export_items_csv,
    item_detail,
    list_items,
    list_runs,
    resolve_item,
    run_report,
)
from payments.unit_of_work import WorkFactory
from tests.support.reconcile_days import (
    CAPTURED,
    DAY,
    NIGHT,
    csv_line,
    gateway,
    import_csv,
    next_day,
    settle,
    statement,
    success,
)


async def run(uow: WorkFactory, at: datetime = NIGHT) -> DayResult:
    return await reconcile_day(uow, DAY, now=at)


async def items(uow: WorkFactory, result: DayResult) -> list[StoredItem]:
    return list(await list_items(uow, result.run.id, limit=1000))


async def outcomes(uow: WorkFactory, result: DayResult) -> list[tuple[Outcome, str | None]]:
    return [(i.item.outcome, i.item.payment_id) for i in await items(uow, result)]


async def nets(uow: WorkFactory) -> dict[str, int]:
    """Every account's net balance (debits minus credits)."""
    async with uow() as tx:
        return {row.account.code: row.net for row in await tx.ledger.totals(as_of=None)}


async def test_matched_credit_posts_the_remittance_once(uow_factory: WorkFactory) -> None:
    # The treasury credited exactly what the gateway captured: matched. VNPay's settlement
    # report comes the same night: the settlement is booked (Dr collection bank, Dr fees /
    # Cr clearing), then the money owed to the budget is no longer owed (Dr budget payable /
    # Cr collection bank). Every account of the chain is back at zero but the fee.
    gw = await gateway(uow_factory)
    paid = await gw.paid(150_000)
    await import_csv(uow_factory, statement(csv_line(paid.id, 150_000)))
    await settle(uow_factory, paid, fee=1_650)
    first = await run(uow_factory)
    assert await outcomes(uow_factory, first) == [(Outcome.MATCHED, paid.id)]
    assert (first.run.posted_payments, first.run.settled_payments) == (1, 1)
    assert (first.run.posted_entries, first.run.awaiting_settlement) == (2, 0)
    assert first.run.matched_gateway_total == first.run.matched_treasury_total == 150_000
    payable = chart.budget_payable("DVC", "2662").code
    assert await nets(uow_factory) == {
        payable: 0,  # captured -150 000, remitted +150 000
        chart.provider_clearing("vnpay").code: 0,  # captured +150 000, settled -150 000
        chart.collection_bank().code: 0,  # settled +150 000, remitted -150 000
        chart.provider_fees("vnpay").code: 1_650,  # kept by VNPay
        chart.fee_cover().code: -1_650,  # covered by the operator, so the budget gets all
    }
    async with uow_factory() as tx:
        found = await tx.reconciliation.succeeded_payments(CAPTURED, NIGHT)
        entries = await tx.ledger.entries_after(0, 10)
    assert found.remitted_on == {paid.id: DAY}
    assert found.settled_on == {paid.id: DAY}
    assert not found.awaiting
    [remitted] = [e for e in entries if e.source_key.startswith("remittance:2025-03-12:")]
    assert sorted((leg.account.code, leg.amount) for leg in remitted.legs) == [
        ("budget-payable:DVC:2662", 150_000),
        ("collection-bank", 150_000),
    ]
    [settled] = [e for e in entries if e.source_key.startswith("settlement:2025-03-12:")]
    assert sorted((leg.account.code, leg.side.value, leg.amount) for leg in settled.legs) == [
        ("clearing:vnpay", "credit", 150_000),
        ("collection-bank", "debit", 150_000),
        ("fee-cover", "credit", 1_650),
        ("provider-fees:vnpay", "debit", 1_650),
    ]

    # Running the night again reproduces the report and posts nothing.
    before = await nets(uow_factory)
    second = await run(uow_factory)
    assert second.run.id != first.run.id
    assert (second.run.posted_payments, second.run.settled_payments) == (0, 0)
    assert second.run.posted_entries == 0
    assert second.run.totals == first.run.totals
    assert [i.item for i in await items(uow_factory, second)] == [
        i.item for i in await items(uow_factory, first)
    ]
    assert await nets(uow_factory) == before


async def test_a_remittance_waits_for_the_providers_settlement(
    uow_factory: WorkFactory,
) -> None:
    # The treasury's statement is in, VNPay's report is not: the collection account has not
    # received the money, so nothing leaves it. The payment is confirmed (not missing the next
    # day), its remittance waits, and the next day's report releases it.
    gw = await gateway(uow_factory)
    paid = await gw.paid(150_000)
    await import_csv(uow_factory, statement(csv_line(paid.id, 150_000)))
    first = await run(uow_factory)
    assert await outcomes(uow_factory, first) == [(Outcome.MATCHED, paid.id)]
    assert (first.run.posted_payments, first.run.awaiting_settlement) == (0, 1)
    assert await nets(uow_factory) == {
        chart.budget_payable("DVC", "2662").code: -150_000,
        chart.provider_clearing("vnpay").code: 150_000,
    }

    later = next_day(DAY)
    fee_debit = csv_line("PHI-NH", 11_000, booked=later, direction="debit")
    await import_csv(uow_factory, statement(fee_debit), later, at=NIGHT + timedelta(days=1))
    await settle(uow_factory, paid, day=later, at=NIGHT + timedelta(days=1))
    second = await reconcile_day(uow_factory, later, now=NIGHT + timedelta(days=1))
    # Not missing at the treasury again, not unknown to VNPay: only the bank's debit, listed.
    assert await outcomes(uow_factory, second) == [(Outcome.IGNORED, None)]
    assert (second.run.settled_payments, second.run.posted_payments) == (1, 1)
    assert second.run.awaiting_settlement == 0
    assert set((await nets(uow_factory)).values()) == {0}


async def test_a_settlement_that_disagrees_is_not_booked(uow_factory: WorkFactory) -> None:
    # VNPay reports another amount than it captured: an exception for staff, nothing booked.
    gw = await gateway(uow_factory)
    paid = await gw.paid(150_000)
    await import_csv(uow_factory, statement(csv_line(paid.id, 150_000)))
    await settle(uow_factory, replace(paid, draft=replace(paid.draft, amount=15_000)))
    result = await run(uow_factory)
    assert Outcome.PROVIDER_AMOUNT_MISMATCH in [o for o, _ in await outcomes(uow_factory, result)]
    assert (result.run.settled_payments, result.run.posted_payments) == (0, 0)
    assert chart.collection_bank().code not in await nets(uow_factory)


async def test_missing_at_treasury(uow_factory: WorkFactory) -> None:
    # The gateway captured a payment the treasury never credited: staff must chase it.
    gw = await gateway(uow_factory)
    credited, forgotten = await gw.paid(), await gw.paid(200_000)
    await import_csv(uow_factory, statement(csv_line(credited.id)))
    await settle(uow_factory, credited, forgotten)
    result = await run(uow_factory)
    found = await items(uow_factory, result)
    missing = [i for i in found if i.item.outcome is Outcome.MISSING_AT_TREASURY]
    assert [(i.item.payment_id, i.item.gateway_amount, i.state) for i in missing] == [
        (forgotten.id, 200_000, ItemState.OPEN)
    ]
    assert result.run.posted_payments == 1  # only the credited one is remitted


async def test_unknown_at_gateway(uow_factory: WorkFactory) -> None:
    # The treasury credited a reference the gateway has no succeeded payment for.
    await gateway(uow_factory)
    stranger = "pay_01JNZ8Q4J5K6M7N8P9QRSTVWXY"
    await import_csv(uow_factory, statement(csv_line(stranger, 99_000)))
    result = await run(uow_factory)
    [item] = await items(uow_factory, result)
    assert (item.item.outcome, item.item.treasury_amount, item.item.reference) == (
        Outcome.UNKNOWN_AT_GATEWAY,
        99_000,
        stranger,
    )
    assert item.state is ItemState.OPEN
    assert result.run.posted_payments == 0


async def test_unknown_credit_confirmed_by_the_provider_becomes_a_success(
    uow_factory: WorkFactory,
) -> None:
    # The payer paid, but VNPay's answer never reached us: the attempt is still open. The
    # treasury credit names the attempt (the item shows its payment); asking VNPay confirms
    # it, and the payment succeeds: an ordinary success, not a late one (it had not expired).
    gw = await gateway(uow_factory)
    started = await gw.started(150_000)
    attempt_ref = started.attempt.provider_ref
    await import_csv(uow_factory, statement(csv_line(attempt_ref)))
    asked: list[str] = []

    async def vnpay(attempt: Attempt, now: datetime) -> ProviderOutcome | None:
        asked.append(attempt.id)
        return success(started)

    result = await reconcile_day(uow_factory, DAY, now=NIGHT, status_query=vnpay)
    assert asked == [started.attempt.id]
    assert result.confirmed == (started.payment.id,)
    [item] = await items(uow_factory, result)
    assert (item.item.outcome, item.item.payment_id) == (
        Outcome.UNKNOWN_AT_GATEWAY,
        started.payment.id,
    )
    assert "recorded as a success; rerun the day to match it" in item.item.note
    history = (await item_detail(uow_factory, item.id)).history
    assert [h.action for h in history] == ["opened", "provider_confirmed"]
    async with uow_factory() as tx:
        payment = await tx.payments.by_id(started.payment.id)
    assert payment is not None
    assert (payment.status, payment.flags.late) == (PaymentStatus.SUCCEEDED, False)


async def test_amount_mismatch(uow_factory: WorkFactory) -> None:
    # The treasury booked less than the payer paid: neither side is taken as right.
    gw = await gateway(uow_factory)
    paid = await gw.paid(150_000)
    await import_csv(uow_factory, statement(csv_line(paid.id, 140_000)))
    result = await run(uow_factory)
    [item] = await items(uow_factory, result)
    assert (item.item.outcome, item.item.gateway_amount, item.item.treasury_amount) == (
        Outcome.AMOUNT_MISMATCH,
        150_000,
        140_000,
    )
    assert result.run.posted_payments == 0  # nothing is remitted on a disputed amount


async def test_duplicate(uow_factory: WorkFactory) -> None:
    # The treasury booked the same payment twice: the second line is the exception.
    gw = await gateway(uow_factory)
    paid = await gw.paid()
    await import_csv(
        uow_factory,
        statement(csv_line(paid.id, bank_reference="A1"), csv_line(paid.id, bank_reference="A2")),
    )
    await settle(uow_factory, paid)
    result = await run(uow_factory)
    assert await outcomes(uow_factory, result) == [
        (Outcome.MATCHED, paid.id),
        (Outcome.DUPLICATE, paid.id),
    ]
    assert result.run.posted_payments == 1


async def test_late_booking_inside_the_window(uow_factory: WorkFactory) -> None:
    # Captured Wednesday, booked by the treasury on Friday: two business days late, still
    # inside the three-day settlement window; matched money all the same.
    gw = await gateway(uow_factory)
    paid = await gw.paid()
    friday = next_day(DAY, 2)
    await import_csv(uow_factory, statement(csv_line(paid.id, booked=friday)), friday)
    await settle(uow_factory, paid, day=friday)
    result = await reconcile_day(uow_factory, friday, now=NIGHT)
    [item] = await items(uow_factory, result)
    assert (item.item.outcome, item.item.days_late, item.state) == (
        Outcome.LATE,
        2,
        ItemState.CLOSED,
    )
    assert result.run.posted_payments == 1


async def test_debit_lines_are_listed_and_ignored(uow_factory: WorkFactory) -> None:
    gw = await gateway(uow_factory)
    paid = await gw.paid()
    await import_csv(
        uow_factory, statement(csv_line(paid.id), csv_line("", 10_000, direction="debit"))
    )
    result = await run(uow_factory)
    assert await outcomes(uow_factory, result) == [
        (Outcome.MATCHED, paid.id),
        (Outcome.IGNORED, None),
    ]


async def test_resolved_items_stay_resolved_on_reruns(uow_factory: WorkFactory) -> None:
    gw = await gateway(uow_factory)
    paid = await gw.paid()
    await import_csv(uow_factory, statement(csv_line(paid.id, 140_000)))
    first = await run(uow_factory)
    [item] = await items(uow_factory, first)
    resolved = await resolve_item(
        uow_factory,
        item.id,
        note="Treasury fee deducted, confirmed by phone",
        actor="lan",
        now=NIGHT,
    )
    assert (resolved.state, resolved.resolved_by) == (ItemState.RESOLVED, "lan")
    with pytest.raises(Conflict):
        await resolve_item(uow_factory, item.id, note="again", actor="lan", now=NIGHT)

    second = await run(uow_factory)
    [again] = await items(uow_factory, second)
    assert (again.state, again.resolution_note, again.resolved_by) == (
        ItemState.RESOLVED,
        "Treasury fee deducted, confirmed by phone",
        "lan",
    )
    detail = await item_detail(uow_factory, again.id)
    assert [h.action for h in detail.history] == ["opened", "resolved"]
    async with uow_factory() as tx:
        assert await tx.reconciliation.item(item.id) is not None


async def test_matched_items_cannot_be_resolved(uow_factory: WorkFactory) -> None:
    gw = await gateway(uow_factory)
    paid = await gw.paid()
    await import_csv(uow_factory, statement(csv_line(paid.id)))
    [item] = await items(uow_factory, await run(uow_factory))
    with pytest.raises(Conflict):
        await resolve_item(uow_factory, item.id, note="n/a", actor="lan", now=NIGHT)


async def test_bad_file_is_rejected_whole_and_nothing_is_stored(
    uow_factory: WorkFactory,
) -> None:
    content = statement(
        csv_line("pay_01JNZ8Q4J5K6M7N8P9QRSTVWXY"),
        "2025-03-12,abc,VND,credit,,x,y\n",
        "2025-13-40,100,VND,credit,,x,y\n",
    )
    with pytest.raises(StatementError) as caught:
        await import_csv(uow_factory, content)
    assert [e.line_number for e in caught.value.line_errors] == [3, 4]
    async with uow_factory() as tx:
        assert await tx.reconciliation.statements_for(DAY, "treasury") == []


async def test_importing_the_same_statement_twice_imports_nothing_new(
    uow_factory: WorkFactory,
) -> None:
    content = statement(csv_line("pay_01JNZ8Q4J5K6M7N8P9QRSTVWXY"))
    first = await import_csv(uow_factory, content)
    second = await import_csv(uow_factory, content)
    assert (first.created, second.created) == (True, False)
    assert second.statement.id == first.statement.id
    async with uow_factory() as tx:
        stored = await tx.reconciliation.statements_for(DAY, "treasury")
        lines = await tx.reconciliation.lines_of([s.id for s in stored])
    assert len(stored) == 1
    assert len(lines) == 1


async def test_reports_for_staff(uow_factory: WorkFactory) -> None:
    gw = await gateway(uow_factory)
    a, b, c = await gw.paid(100_000), await gw.paid(200_000), await gw.paid(300_000)
    await import_csv(uow_factory, statement(csv_line(a.id, 100_000), csv_line(b.id, 250_000)))
    result = await run(uow_factory)
    report = await run_report(uow_factory, result.run.id)
    assert report.is_latest
    by_agency = {
        (b.key, b.outcome): (b.count, b.gateway_amount) for b in report.breakdowns[Dimension.AGENCY]
    }
    assert by_agency == {
        ("DVC", Outcome.MATCHED): (1, 100_000),
        ("DVC", Outcome.AMOUNT_MISMATCH): (1, 200_000),
        ("DVC", Outcome.MISSING_AT_TREASURY): (1, 300_000),
    }
    assert result.run.totals["matched"].treasury_amount == 100_000
    open_items = await list_items(uow_factory, result.run.id, ItemFilter(state=ItemState.OPEN))
    assert {i.item.payment_id for i in open_items} == {b.id, c.id}
    page = await list_items(uow_factory, result.run.id, limit=2)
    rest = await list_items(uow_factory, result.run.id, after_id=page[-1].id, limit=2)
    assert [i.item.payment_id for i in [*page, *rest]] == [a.id, b.id, c.id]
    chunks = [chunk async for chunk in await export_items_csv(uow_factory, result.run.id)]
    text = "".join(chunks)
    assert text.splitlines()[0].startswith("item_id,outcome,state,payment_id")
    assert len(text.splitlines()) == 4
    assert [r.id for r in await list_runs(uow_factory)] == [result.run.id]


async def test_unsafe_or_truncated_xml_is_refused_and_nothing_is_stored(
    uow_factory: WorkFactory,
) -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">&b;</Document>'
    )
    truncated = b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053'
    for content in (laughs, truncated):
        with pytest.raises(StatementError):
            await import_statement(
                uow_factory,
                statement_reader(io.BytesIO(content), "camt"),
                business_date=DAY,
                actor="ops",
                now=NIGHT,
            )
    async with uow_factory() as tx:
        assert await tx.reconciliation.statements_for(DAY, "treasury") == []


async def test_two_runs_of_a_day_at_once_take_turns(uow_factory: WorkFactory) -> None:
    # Two workers (or a worker and an operator) on the same night: one remits, the other
    # finds it done.
    gw = await gateway(uow_factory)
    paid = await gw.paid()
    await import_csv(uow_factory, statement(csv_line(paid.id)))
    await settle(uow_factory, paid)
    first, second = await asyncio.gather(run(uow_factory), run(uow_factory))
    assert sorted([first.run.posted_payments, second.run.posted_payments]) == [0, 1]
    assert sorted([first.run.settled_payments, second.run.settled_payments]) == [0, 1]
    assert first.run.totals == second.run.totals


async def test_a_day_without_a_statement_is_not_reconciled(uow_factory: WorkFactory) -> None:
    gw = await gateway(uow_factory)
    await gw.paid()
    with pytest.raises(Conflict, match="no treasury statement imported for 2025-03-12"):
        await run(uow_factory)
    assert await list_runs(uow_factory) == []

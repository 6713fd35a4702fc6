"""The reconciliation service on the in-memory unit of work: generated days (payments and a
statement with injected discrepancies) give reports that find exactly the injected ones,
conserve money, and come out the same when the day is run again, posting nothing twice."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payments.reconcile.formats.camt import read_camt
from payments.reconcile.formats.statements import StatementError
from payments.reconcile.formats.writers import camt053
from payments.reconcile.ports import ItemState
from payments.reconcile.rules.matching import EXCEPTIONS, Outcome
from payments.reconcile.rules.sandbox_day import (
    Discrepancy,
    sandbox_settlement,
    sandbox_statement,
    unknown_reference,
)
from payments.reconcile.usecases.day import captured_on, reconcile_day
from payments.reconcile.usecases.imports import import_statement
from payments.reconcile.usecases.reports import list_items, resolve_item
from tests.support.reconcile_days import DAY, NIGHT, gateway
from tests.unit.fakes import FakeUnitOfWorkFactory

SWITCHES = [d for d in Discrepancy if d is not Discrepancy.LATE]  # late needs two days


async def day_with(uow: FakeUnitOfWorkFactory, count: int, inject: set[Discrepancy]) -> list[str]:
    gw = await gateway(uow)
    paid = sorted([(await gw.paid(10_000 * (n + 1))).id for n in range(count)])
    lines = sandbox_statement(DAY, await captured_on(uow, DAY), inject=inject)
    text = "".join(camt053(lines, statement_id="S1", account="7111", currency="VND", day=DAY))
    await import_statement(
        uow, read_camt(io.BytesIO(text.encode())), business_date=DAY, actor="ops", now=NIGHT
    )
    return paid


@settings(max_examples=25, deadline=None)
@given(inject=st.sets(st.sampled_from(SWITCHES)), count=st.integers(min_value=7, max_value=12))
async def test_generated_days_find_exactly_the_injected_discrepancies(
    inject: set[Discrepancy], count: int
) -> None:
    uow = FakeUnitOfWorkFactory()
    paid = await day_with(uow, count, inject)
    first = await reconcile_day(uow, DAY, now=NIGHT)
    items = await list_items(uow, first.run.id, limit=1000)
    exceptions = sorted(
        (i.item.outcome.value, i.item.payment_id or i.item.reference or "")
        for i in items
        if i.item.outcome in EXCEPTIONS
    )
    expected = sorted(
        [("missing_at_treasury", paid[0])] * (Discrepancy.MISSING in inject)
        + [("amount_mismatch", paid[1])] * (Discrepancy.AMOUNT_MISMATCH in inject)
        + [("duplicate", paid[2])] * (Discrepancy.DUPLICATE in inject)
        + [("unknown_at_gateway", unknown_reference(DAY))] * (Discrepancy.UNKNOWN in inject)
    )
    assert exceptions == expected
    matched = [i for i in items if i.item.outcome is Outcome.MATCHED]
    lines = [i.item.line_number for i in matched]
    # Each payment matched once; a line matched at most once except a batch line, whose
    # payments each take their share of it.
    assert len({i.item.payment_id for i in matched}) == len(matched)
    assert len(set(lines)) == len(lines) - (2 if Discrepancy.BATCH in inject else 0)
    assert first.run.matched_gateway_total == first.run.matched_treasury_total
    # No provider report yet: the treasury's confirmations are kept, the remittances wait.
    assert (first.run.posted_payments, first.run.awaiting_settlement) == (0, len(matched))

    again = await reconcile_day(uow, DAY, now=NIGHT)
    assert again.run.posted_payments == 0
    assert again.run.totals == first.run.totals
    assert [i.item for i in await list_items(uow, again.run.id, limit=1000)] == [
        i.item for i in items
    ]

    # The providers' reports book every capture's settlement and release the remittances.
    captured = await captured_on(uow, DAY)
    reported = [
        line for p in ("vnpay", "momo", "vietqr") for line in sandbox_settlement(p, DAY, captured)
    ]
    settled = await reconcile_day(uow, DAY, now=NIGHT, settlements=reported)
    assert settled.run.settled_payments == count
    assert (settled.run.posted_payments, settled.run.awaiting_settlement) == (len(matched), 0)
    once_more = await reconcile_day(uow, DAY, now=NIGHT, settlements=reported)
    assert (once_more.run.settled_payments, once_more.run.posted_payments) == (0, 0)


async def test_a_resolution_survives_reruns_and_a_bad_file_changes_nothing() -> None:
    uow = FakeUnitOfWorkFactory()
    paid = await day_with(uow, 7, {Discrepancy.MISSING})
    first = await reconcile_day(uow, DAY, now=NIGHT)
    [missing] = [i for i in await list_items(uow, first.run.id) if i.state is ItemState.OPEN]
    assert missing.item.payment_id == paid[0]
    await resolve_item(uow, missing.id, note="paid at the counter", actor="lan", now=NIGHT)
    before = len(uow.store.reconciliation.statements)
    with pytest.raises(StatementError):
        await import_statement(
            uow,
            read_camt(io.BytesIO(b"<Document><BkToCstmrStmt>")),
            business_date=DAY,
            actor="ops",
            now=NIGHT,
        )
    assert len(uow.store.reconciliation.statements) == before
    second = await reconcile_day(uow, DAY, now=NIGHT)
    [carried] = [i for i in await list_items(uow, second.run.id) if i.item.payment_id == paid[0]]
    assert (carried.state, carried.resolution_note) == (ItemState.RESOLVED, "paid at the counter")

"""Which imports a day's run reads, told once and run on every store: on SQLite and PostgreSQL
(``tests/integration/reconcile/test_statement_days.py``) and on the in-memory one
(``tests/unit/reconcile/test_statement_days.py``), which must answer as the databases do.

A file is known by its source, business day and content: two days' empty files (a header-only
settlement report or treasury CSV) are byte for byte the same, yet each is its own day's. A
provider's corrected report of a day supersedes the earlier one: a run reads only the newest,
while the treasury's statements of a day all count (a day may come in parts).
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from datetime import date, timedelta

from payments.reconcile.rules.matching import EXCEPTIONS, Outcome
from payments.reconcile.sources.treasury import statement_reader
from payments.reconcile.usecases.day import captured_on, reconcile_day
from payments.reconcile.usecases.imports import Imported, import_statement
from payments.reconcile.usecases.reports import list_items, list_statements
from payments.unit_of_work import WorkFactory
from tests.support.reconcile_days import (
    CAPTURED,
    DAY,
    NIGHT,
    csv_line,
    gateway,
    import_csv,
    import_vnpay,
    next_day,
    statement,
    vnpay_report,
)

THURSDAY = next_day(DAY)  # the next business day


async def import_treasury(uow: WorkFactory, content: bytes, day: date = DAY) -> Imported:
    """As the CLI and the upload read a treasury CSV: in VND even when it has no line."""
    reader = statement_reader(io.BytesIO(content), "csv")
    return await import_statement(uow, reader, business_date=day, actor="ops", now=NIGHT)


async def two_days_of_empty_files_are_each_their_own_days(uow: WorkFactory) -> None:
    # Nothing was remitted and nothing settled on either day: the treasury's CSV and VNPay's
    # report are header-only on both, the same bytes.
    empty_statement, empty_report = statement(), vnpay_report()
    wednesday = await import_treasury(uow, empty_statement, DAY)
    wednesday_report = await import_vnpay(uow, empty_report, DAY)
    thursday = await import_treasury(uow, empty_statement, THURSDAY)
    thursday_report = await import_vnpay(uow, empty_report, THURSDAY)

    assert (thursday.created, thursday_report.created) == (True, True)
    assert thursday.statement.business_date == thursday_report.statement.business_date == THURSDAY
    assert thursday.statement.id != wednesday.statement.id
    assert thursday_report.statement.id != wednesday_report.statement.id
    # Thursday's run is not refused for want of a statement, and it checks VNPay.
    run = (await reconcile_day(uow, THURSDAY, now=NIGHT + timedelta(days=1))).run
    assert run.statements == (thursday.statement.id, thursday_report.statement.id)
    assert run.config["settlement_providers"] == ["vnpay"]


async def a_day_s_empty_report_still_checks_its_provider(uow: WorkFactory) -> None:
    # Thursday VNPay captured a payment it then left out of its (header-only) report, the
    # same bytes as Wednesday's: the payment is missing at the provider, not unchecked.
    gw = await gateway(uow)
    paid = await gw.paid(150_000, at=CAPTURED + timedelta(days=1))
    await import_vnpay(uow, vnpay_report(), DAY)
    await import_csv(uow, statement(csv_line(paid.id, booked=THURSDAY)), THURSDAY)
    await import_vnpay(uow, vnpay_report(), THURSDAY)
    run = await reconcile_day(uow, THURSDAY, now=NIGHT + timedelta(days=1))
    found = {(i.item.outcome, i.item.payment_id) for i in await list_items(uow, run.run.id)}
    assert found == {(Outcome.MATCHED, paid.id), (Outcome.PROVIDER_MISSING, paid.id)}


async def the_same_bytes_for_the_same_day_store_nothing_new(uow: WorkFactory) -> None:
    content = vnpay_report(("att_x", 150_000))
    first = await import_vnpay(uow, content)
    again = await import_vnpay(uow, content, minutes=5)
    assert (first.created, again.created) == (True, False)
    assert again.statement == first.statement
    empty = statement()
    treasury = await import_treasury(uow, empty)
    treasury_again = await import_treasury(uow, empty)
    assert (treasury.created, treasury_again.created) == (True, False)
    assert treasury_again.statement == treasury.statement
    assert [s.id for s in await list_statements(uow)] == [treasury.statement.id, first.statement.id]


async def a_corrected_provider_report_supersedes_the_first(uow: WorkFactory) -> None:
    # VNPay's first report of Wednesday has one payment at a wrong amount and leaves one out;
    # its corrected report has all three right. The run reads only the corrected one: no
    # payment reads as listed twice, the corrected amount agrees, nothing is missing.
    gw = await gateway(uow)
    for amount in (150_000, 100_000, 200_000):
        await gw.paid(amount)
    by_amount = {p.amount: p for p in await captured_on(uow, DAY)}
    ids = [by_amount[amount].payment_id for amount in (150_000, 100_000, 200_000)]
    refs = [by_amount[amount].provider_ref or "" for amount in (150_000, 100_000, 200_000)]
    await import_csv(
        uow,
        statement(csv_line(ids[0], 150_000), csv_line(ids[1], 100_000), csv_line(ids[2], 200_000)),
    )
    first = await import_vnpay(uow, vnpay_report((refs[0], 150_000), (refs[1], 90_000)))
    corrected = await import_vnpay(
        uow,
        vnpay_report((refs[0], 150_000), (refs[1], 100_000), (refs[2], 200_000)),
        minutes=30,
    )
    assert corrected.created

    run = (await reconcile_day(uow, DAY, now=NIGHT + timedelta(hours=1))).run
    items = await list_items(uow, run.id, limit=100)
    assert [i.item.outcome for i in items if i.item.outcome in EXCEPTIONS] == []
    assert sorted(i.item.payment_id or "" for i in items) == sorted(ids)
    assert first.statement.id not in run.statements
    assert corrected.statement.id in run.statements

    # The list still shows both reports, the first marked superseded.
    listed = {s.id: s.superseded for s in await list_statements(uow)}
    assert listed[first.statement.id] is True
    assert listed[corrected.statement.id] is False
    assert [s.superseded for s in await list_statements(uow, source="treasury")] == [False]


async def a_day_s_treasury_statements_all_count(uow: WorkFactory) -> None:
    # The treasury's day in two parts (say camt.054 notifications, then the rest): the run
    # reads both, and neither part supersedes the other.
    gw = await gateway(uow)
    one, two = await gw.paid(150_000), await gw.paid(90_000)
    part1 = await import_csv(uow, statement(csv_line(one.id, 150_000)))
    part2 = await import_csv(uow, statement(csv_line(two.id, 90_000)))
    run = (await reconcile_day(uow, DAY, now=NIGHT)).run
    assert run.statements == (part1.statement.id, part2.statement.id)
    assert run.totals[Outcome.MATCHED.value].count == 2
    assert [s.superseded for s in await list_statements(uow)] == [False, False]


STORIES: list[Callable[[WorkFactory], Awaitable[None]]] = [
    two_days_of_empty_files_are_each_their_own_days,
    a_day_s_empty_report_still_checks_its_provider,
    the_same_bytes_for_the_same_day_store_nothing_new,
    a_corrected_provider_report_supersedes_the_first,
    a_day_s_treasury_statements_all_count,
]

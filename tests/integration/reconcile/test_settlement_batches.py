"""A batch line on the treasury's CSV statement, on SQLite and PostgreSQL.

The intermediary remits several payments to the treasury in one settlement batch; the CSV
statement then carries one line with only the batch reference, count and total. The gateway
learns which payments are in the batch from the provider's settlement report, which names the
batch of each transaction.
"""

from __future__ import annotations

import io

from payments.reconcile.formats.settlements import SettlementLine, read_settlement, write_settlement
from payments.reconcile.rules.matching import GatewayPayment, Outcome
from payments.reconcile.usecases.day import DayResult, captured_on, reconcile_day
from payments.reconcile.usecases.imports import import_settlement
from payments.reconcile.usecases.reports import list_items
from payments.unit_of_work import WorkFactory
from tests.support.reconcile_days import DAY, NIGHT, gateway, import_csv

HEADER = (
    "booking_date,amount,currency,direction,bank_reference,payment_reference,remittance,"
    "batch_reference,batch_count,batch_total\n"
)
BATCH = "VNPB-20250312-01"


def batch_statement(paid: list[GatewayPayment], *, total: int) -> bytes:
    """The first payment credited alone, the other three as one batch line of ``total``."""
    single, *batched = paid
    return (
        HEADER
        + f"2025-03-12,{single.amount},VND,credit,KB1,{single.payment_id},NOP NSNN,,,\n"
        + f"2025-03-12,{total},VND,credit,KB2,,CHUYEN TIEN VNPAY,{BATCH},{len(batched)},{total}\n"
    ).encode()


async def day_of_four(uow: WorkFactory) -> list[GatewayPayment]:
    gw = await gateway(uow)
    for amount in (150_000, 100_000, 200_000, 300_000):
        await gw.paid(amount)
    captured = {p.amount: p for p in await captured_on(uow, DAY)}
    return [captured[amount] for amount in (150_000, 100_000, 200_000, 300_000)]


async def import_vnpay_report(uow: WorkFactory, paid: list[GatewayPayment]) -> None:
    """VNPay's report: every capture, the last three in the batch."""
    out = io.StringIO()
    write_settlement(
        "vnpay",
        [
            SettlementLine(
                "vnpay", number, f"1400000{number}", p.provider_ref or "", p.amount, 0, "VND",
                DAY, BATCH if number > 2 else None,
            )
            for number, p in enumerate(paid, start=2)
        ],
        out,
    )  # fmt: skip
    report = read_settlement("vnpay", io.BytesIO(out.getvalue().encode()))
    await import_settlement(uow, report, business_date=DAY, actor="ops", now=NIGHT)


Found = tuple[Outcome, str | None, int | None, int | None]


async def found(uow: WorkFactory, result: DayResult) -> list[Found]:
    return [
        (i.item.outcome, i.item.payment_id, i.item.line_number, i.item.treasury_amount)
        for i in await list_items(uow, result.run.id, limit=100)
    ]


async def test_the_settlement_report_names_the_batch_so_its_line_matches(
    uow_factory: WorkFactory,
) -> None:
    single, *batched = paid = await day_of_four(uow_factory)
    await import_csv(uow_factory, batch_statement(paid, total=600_000))
    await import_vnpay_report(uow_factory, paid)

    result = await reconcile_day(uow_factory, DAY, now=NIGHT)

    items = await found(uow_factory, result)
    assert items == [
        (Outcome.MATCHED, single.payment_id, 2, 150_000),
        # One matched item per payment of the batch, each with its share of line 3.
        *sorted((Outcome.MATCHED, p.payment_id, 3, p.amount) for p in batched),
    ]
    assert sum(share or 0 for _, _, line, share in items if line == 3) == 600_000
    stored = await list_items(uow_factory, result.run.id, limit=100)
    assert {i.item.batch_reference for i in stored if i.item.line_number == 3} == {BATCH}
    assert result.run.posted_payments == 4
    assert result.run.matched_gateway_total == result.run.matched_treasury_total == 750_000

    # A rerun reads the batches back from storage and reports the same.
    again = await reconcile_day(uow_factory, DAY, now=NIGHT)
    assert await found(uow_factory, again) == items
    assert again.run.posted_payments == 0


async def test_without_the_settlement_report_the_batch_line_is_unknown(
    uow_factory: WorkFactory,
) -> None:
    single, *batched = paid = await day_of_four(uow_factory)
    await import_csv(uow_factory, batch_statement(paid, total=600_000))

    result = await reconcile_day(uow_factory, DAY, now=NIGHT)

    assert sorted(await found(uow_factory, result), key=str) == sorted(
        [
            (Outcome.MATCHED, single.payment_id, 2, 150_000),
            (Outcome.UNKNOWN_AT_GATEWAY, None, 3, 600_000),
            *((Outcome.MISSING_AT_TREASURY, p.payment_id, None, None) for p in batched),
        ],
        key=str,
    )
    # Without VNPay's report nothing is settled, so nothing is remitted: the matched one waits.
    assert (result.run.posted_payments, result.run.awaiting_settlement) == (0, 1)


async def test_a_batch_line_of_another_total_is_an_amount_mismatch(
    uow_factory: WorkFactory,
) -> None:
    paid = await day_of_four(uow_factory)
    single = paid[0]
    await import_csv(uow_factory, batch_statement(paid, total=599_000))
    await import_vnpay_report(uow_factory, paid)

    result = await reconcile_day(uow_factory, DAY, now=NIGHT)

    stored = await list_items(uow_factory, result.run.id, limit=100)
    # The batch's payments are claimed by the mismatching line: not reported missing as well.
    assert [(i.item.outcome, i.item.payment_id) for i in stored] == [
        (Outcome.MATCHED, single.payment_id),
        (Outcome.AMOUNT_MISMATCH, None),
    ]
    [mismatch] = [i.item for i in stored if i.item.outcome is Outcome.AMOUNT_MISMATCH]
    assert (mismatch.gateway_amount, mismatch.treasury_amount) == (600_000, 599_000)
    assert mismatch.batch_reference == BATCH
    assert "batch of 3 payments totals 600000" in mismatch.note
    assert result.run.posted_payments == 1  # nothing of the batch is remitted

"""Generated days: payments plus a statement with injected discrepancies of every kind.

The report must find exactly what was injected, conserve money (matched gateway total ==
matched treasury total), match each line at most once and be reproduced by a rerun.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from payments.reconcile.formats.settlements import SettlementLine
from payments.reconcile.formats.statements import StatementLine, Transaction
from payments.reconcile.rules.matching import (
    MATCHED_OUTCOMES,
    GatewayPayment,
    Outcome,
    match_day,
)
from tests.unit.reconcile.stories import DAY, line, payment, pid, settled

RUN_DATE = date(2025, 3, 14)  # Friday; payments were made on Wednesday 12
FATES = ("matched", "missing", "mismatch", "duplicate", "late")


@st.composite
def days(
    draw: st.DrawFn,
) -> tuple[list[GatewayPayment], list[StatementLine], Counter[tuple[Outcome, str | None]]]:
    fates = draw(st.lists(st.sampled_from(FATES), max_size=25))
    batch_sizes = draw(st.lists(st.integers(2, 4), max_size=3))
    batch_fates = draw(
        st.lists(st.booleans(), min_size=len(batch_sizes), max_size=len(batch_sizes))
    )
    detail_sizes = draw(st.lists(st.integers(2, 3), max_size=2))
    unknown = draw(st.integers(0, 3))
    amounts = st.integers(1, 10_000).map(lambda k: k * 1_000)
    payments: list[GatewayPayment] = []
    # reference, amount, booked, batch reference, transactions (a camt batch entry's TxDtls)
    pending: list[tuple[str | None, int, date, str | None, tuple[Transaction, ...]]] = []
    expected: Counter[tuple[Outcome, str | None]] = Counter()
    number = 0
    for fate in fates:
        number += 1
        paid = payment(number, draw(amounts))
        payments.append(paid)
        if fate == "missing":
            expected[(Outcome.MISSING_AT_TREASURY, paid.payment_id)] += 1
            continue
        if fate == "mismatch":
            wrong = paid.amount + draw(st.sampled_from([-1, 1])) * draw(st.integers(1, 999))
            pending.append((paid.payment_id, wrong, DAY, None, ()))
            expected[(Outcome.AMOUNT_MISMATCH, paid.payment_id)] += 1
            continue
        booked = RUN_DATE if fate == "late" else DAY
        pending.append((paid.payment_id, paid.amount, booked, None, ()))
        expected[(Outcome.LATE if fate == "late" else Outcome.MATCHED, paid.payment_id)] += 1
        if fate == "duplicate":
            pending.append((paid.payment_id, paid.amount, DAY, None, ()))
            expected[(Outcome.DUPLICATE, paid.payment_id)] += 1
    for index, (size, right_total) in enumerate(zip(batch_sizes, batch_fates, strict=True)):
        reference = f"B-{index}"
        members = []
        for _ in range(size):
            number += 1
            members.append(payment(number, draw(amounts), batch=reference))
        payments.extend(members)
        total = sum(member.amount for member in members)
        if right_total:
            pending.append((None, total, DAY, reference, ()))
            expected.update((Outcome.MATCHED, member.payment_id) for member in members)
        else:
            pending.append((None, total + 1_000, DAY, reference, ()))
            expected[(Outcome.AMOUNT_MISMATCH, None)] += 1
    for size in detail_sizes:
        members = []
        for _ in range(size):
            number += 1
            members.append(payment(number, draw(amounts)))
        payments.extend(members)
        details = tuple(Transaction(m.amount, m.payment_id, m.payment_id, "") for m in members)
        pending.append((None, sum(m.amount for m in members), DAY, None, details))
        expected.update((Outcome.MATCHED, member.payment_id) for member in members)
    for extra in range(unknown):
        pending.append((pid(9_000_000 + extra), 5_000, DAY, None, ()))
        expected[(Outcome.UNKNOWN_AT_GATEWAY, None)] += 1
    order = draw(st.permutations(range(len(pending))))
    lines = []
    for line_number, which in enumerate(order, start=2):
        named, amount, booked, batch, details = pending[which]
        made = line(line_number, named, amount, booked=booked, batch=batch)
        lines.append(made._replace(transactions=details))
    shuffled = draw(st.permutations(payments))
    return list(shuffled), lines, expected


@settings(max_examples=150, deadline=None)
@given(days())
def test_report_finds_exactly_the_injected_discrepancies(
    day: tuple[list[GatewayPayment], list[StatementLine], Counter[tuple[Outcome, str | None]]],
) -> None:
    payments, lines, expected = day
    report = match_day(RUN_DATE, payments, lines)
    found = Counter((item.outcome, item.payment_id) for item in report.items)
    assert found == expected

    matched = [item for item in report.items if item.outcome in MATCHED_OUTCOMES]
    assert report.matched_gateway_total == sum(item.gateway_amount or 0 for item in matched)
    assert report.matched_gateway_total == report.matched_treasury_total
    by_number = {entry.line_number: entry for entry in lines}
    used_lines = {item.line_number for item in matched}
    # Conservation against the statement itself: each matched line counted once, in full.
    assert sum(by_number[n].amount for n in used_lines if n is not None) == (
        report.matched_treasury_total
    )
    # Each line matched at most once: a line serves one payment, or one batch's payments.
    for number in used_lines:
        served = [item.payment_id for item in matched if item.line_number == number]
        assert len(served) == len(set(served))
        entry = by_number[number or 0]
        assert len(served) == 1 or entry.batch_reference is not None or entry.transactions
    # Each payment matched at most once.
    assert len({item.payment_id for item in matched}) == len(matched)

    assert match_day(RUN_DATE, payments, lines) == report


PROVIDER_FATES = ("agrees", "missing", "mismatch", "duplicate")
PROVIDER_OUTCOMES = frozenset(
    {
        Outcome.PROVIDER_MISSING,
        Outcome.PROVIDER_UNKNOWN,
        Outcome.PROVIDER_AMOUNT_MISMATCH,
        Outcome.PROVIDER_DUPLICATE,
    }
)


@settings(max_examples=100, deadline=None)
@given(days(), st.data())
def test_provider_reports_are_checked_three_ways(
    day: tuple[list[GatewayPayment], list[StatementLine], Counter[tuple[Outcome, str | None]]],
    data: st.DataObject,
) -> None:
    """VNPay's report for the same day, with its own injected discrepancies: the provider
    items are exactly those, and the treasury side of the report does not change."""
    payments, lines, _ = day
    settlements: list[SettlementLine] = []
    expected: Counter[tuple[Outcome, str | None]] = Counter()
    for paid in sorted(payments, key=lambda p: p.payment_id):
        fate = data.draw(st.sampled_from(PROVIDER_FATES))
        reference = paid.provider_ref or ""
        if fate == "missing":
            expected[(Outcome.PROVIDER_MISSING, paid.payment_id)] += 1
            continue
        amount = paid.amount + (1_000 if fate == "mismatch" else 0)
        settlements.append(settled(len(settlements) + 2, reference, amount))
        if fate == "mismatch":
            expected[(Outcome.PROVIDER_AMOUNT_MISMATCH, paid.payment_id)] += 1
        if fate == "duplicate":
            settlements.append(settled(len(settlements) + 2, reference, amount))
            expected[(Outcome.PROVIDER_DUPLICATE, paid.payment_id)] += 1
    for extra in range(data.draw(st.integers(0, 2))):
        settlements.append(settled(len(settlements) + 2, f"att_UNKNOWN{extra}"))
        expected[(Outcome.PROVIDER_UNKNOWN, None)] += 1
    order = data.draw(st.permutations(settlements))

    report = match_day(RUN_DATE, payments, lines, order, settlement_providers={"vnpay"})
    provider_side = [i for i in report.items if i.outcome in PROVIDER_OUTCOMES]
    assert Counter((i.outcome, i.payment_id) for i in provider_side) == expected
    treasury_side = tuple(i for i in report.items if i.outcome not in PROVIDER_OUTCOMES)
    assert treasury_side == match_day(RUN_DATE, payments, lines).items
    assert match_day(RUN_DATE, payments, lines, order, settlement_providers={"vnpay"}) == report

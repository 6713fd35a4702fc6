"""The sandbox treasury's statements: each switch injects exactly the discrepancy it names,
which the matcher then finds (and nothing else)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from payments.reconcile.rules.matching import GatewayPayment, MatchConfig, Outcome, match_day
from payments.reconcile.rules.sandbox_day import (
    Discrepancy,
    batch_reference,
    sandbox_settlement,
    sandbox_statement,
    unknown_reference,
)
from tests.unit.reconcile.stories import DAY, MORNING, payment

PREVIOUS = date(2025, 3, 11)
CONFIG = MatchConfig(window_days=3)


def day_of(count: int, first: int = 1) -> list[GatewayPayment]:
    return [payment(first + n, 100_000 * (n + 1)) for n in range(count)]


@settings(max_examples=60, deadline=None)
@given(
    inject=st.sets(st.sampled_from(list(Discrepancy))),
    count=st.integers(min_value=8, max_value=30),
)
def test_each_switch_injects_exactly_its_discrepancy(inject: set[Discrepancy], count: int) -> None:
    today = day_of(count)
    yesterday = [p._replace(captured_at=MORNING - timedelta(days=1)) for p in day_of(5, first=500)]
    lines = sandbox_statement(DAY, today, inject=inject, previous_day=yesterday)
    report = match_day(DAY, [*today, *yesterday], lines, config=CONFIG)
    found: dict[Outcome, list[str]] = {}
    for item in report.items:
        found.setdefault(item.outcome, []).append(item.payment_id or item.reference or "")
    ids = sorted(p.payment_id for p in today)
    late_one = sorted(p.payment_id for p in yesterday)[3]
    expected_missing = sorted(
        [ids[0]] * (Discrepancy.MISSING in inject)
        + [ids[3]] * (Discrepancy.LATE in inject)
        # yesterday's payments are due before today: those not booked today are missing
        + [p for p in sorted(x.payment_id for x in yesterday) if p != late_one or
           Discrepancy.LATE not in inject]
    )  # fmt: skip
    assert sorted(found.get(Outcome.MISSING_AT_TREASURY, [])) == expected_missing
    assert found.get(Outcome.AMOUNT_MISMATCH, []) == [ids[1]] * (
        Discrepancy.AMOUNT_MISMATCH in inject
    )
    assert found.get(Outcome.DUPLICATE, []) == [ids[2]] * (Discrepancy.DUPLICATE in inject)
    assert found.get(Outcome.LATE, []) == [late_one] * (Discrepancy.LATE in inject)
    assert found.get(Outcome.UNKNOWN_AT_GATEWAY, []) == [unknown_reference(DAY)] * (
        Discrepancy.UNKNOWN in inject
    )
    batch = [line for line in lines if line.transactions]
    assert len(batch) == (Discrepancy.BATCH in inject)
    if batch:
        batched = {
            item.payment_id for item in report.items if item.line_number == batch[0].line_number
        }
        assert batched == set(ids[4:7])
    assert report.matched_gateway_total == report.matched_treasury_total


def test_settlement_reports_list_the_providers_captures() -> None:
    payments = [payment(1, provider="vnpay"), payment(2, provider="momo"), payment(3)]
    report = sandbox_settlement("vnpay", DAY, payments)
    assert [s.payment_reference for s in report] == [
        payments[0].provider_ref,
        payments[2].provider_ref,
    ]
    assert (
        match_day(DAY, payments, [], report, config=CONFIG).counts()[Outcome.PROVIDER_MISSING] == 0
    )


def test_settlement_reports_name_the_batch_the_batch_switch_credits() -> None:
    # The 5th to 7th payments of the day, whichever provider took them; the rest carry none.
    payments = [payment(n, provider="momo" if n == 6 else "vnpay") for n in range(1, 9)]
    ids = sorted(p.payment_id for p in payments)
    named = {
        s.payment_reference: s.batch_reference
        for provider in ("vnpay", "momo")
        for s in sandbox_settlement(provider, DAY, payments)
    }
    refs = {p.payment_id: p.provider_ref for p in payments}
    assert {refs[i] for i in ids[4:7]} == {r for r, b in named.items() if b is not None}
    assert set(named.values()) == {None, batch_reference(DAY)}

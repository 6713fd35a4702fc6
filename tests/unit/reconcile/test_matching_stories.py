"""Worked examples, one per outcome. Each reads as what happened on the day."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from payments.reconcile.formats.statements import BookingStatus, Direction, Transaction
from payments.reconcile.rules.matching import MatchConfig, MatchItem, Outcome, match_day
from tests.unit.reconcile.stories import DAY, line, payment, pid, settled


def outcomes(items: tuple[MatchItem, ...]) -> list[tuple[Outcome, str | None, int | None]]:
    return [(item.outcome, item.payment_id, item.line_number) for item in items]


def test_matched() -> None:
    """A citizen paid 1,250,000 VND at 09:00; the treasury booked it the same day naming the
    payment. Both sides agree: one matched item, totals equal."""
    report = match_day(DAY, [payment(1)], [line(2, pid(1))])
    assert outcomes(report.items) == [(Outcome.MATCHED, pid(1), 2)]
    assert report.matched_gateway_total == report.matched_treasury_total == 1_250_000


def test_missing_at_treasury() -> None:
    """Two payments succeeded, the statement only carries the first: the second is missing."""
    report = match_day(DAY, [payment(1), payment(2)], [line(2, pid(1))])
    assert outcomes(report.items) == [
        (Outcome.MATCHED, pid(1), 2),
        (Outcome.MISSING_AT_TREASURY, pid(2), None),
    ]
    assert report.matched_gateway_total == 1_250_000


def test_unknown_at_gateway() -> None:
    """The treasury booked 300,000 VND naming a payment the gateway never saw succeed."""
    report = match_day(DAY, [], [line(2, pid(9), 300_000)])
    assert outcomes(report.items) == [(Outcome.UNKNOWN_AT_GATEWAY, None, 2)]
    assert report.items[0].treasury_amount == 300_000
    assert report.matched_treasury_total == 0


def test_amount_mismatch() -> None:
    """The payment was 1,250,000 VND but the treasury booked 1,200,000 under its id."""
    report = match_day(DAY, [payment(1)], [line(2, pid(1), 1_200_000)])
    [item] = report.items
    assert (item.outcome, item.payment_id) == (Outcome.AMOUNT_MISMATCH, pid(1))
    assert (item.gateway_amount, item.treasury_amount) == (1_250_000, 1_200_000)
    assert report.matched_gateway_total == report.matched_treasury_total == 0


def test_duplicate() -> None:
    """The treasury booked the same payment twice: the first line matches, the second is a
    duplicate pointing back at it."""
    report = match_day(DAY, [payment(1)], [line(2, pid(1)), line(3, pid(1))])
    assert outcomes(report.items) == [
        (Outcome.MATCHED, pid(1), 2),
        (Outcome.DUPLICATE, pid(1), 3),
    ]
    assert report.items[1].note == "already matched by line 2"
    assert report.matched_treasury_total == 1_250_000  # the duplicate is not counted


def test_wrong_amount_then_right_amount() -> None:
    """A wrong line came first, then a correct one: the correct one matches and the wrong one
    becomes the duplicate, whatever the order."""
    report = match_day(DAY, [payment(1)], [line(2, pid(1), 5), line(3, pid(1))])
    assert outcomes(report.items) == [
        (Outcome.DUPLICATE, pid(1), 2),
        (Outcome.MATCHED, pid(1), 3),
    ]


def test_late() -> None:
    """Paid on Wednesday 12 March, booked by the treasury on Friday 14 March: two business days
    late, inside the three-day window."""
    report = match_day(date(2025, 3, 14), [payment(1)], [line(2, pid(1), booked=date(2025, 3, 14))])
    [item] = report.items
    assert (item.outcome, item.days_late, item.note) == (Outcome.LATE, 2, "")
    assert report.matched_gateway_total == report.matched_treasury_total == 1_250_000


def test_late_beyond_the_window_says_so() -> None:
    """Booked two weeks later: still the same money, flagged as beyond the window."""
    config = MatchConfig(window_days=3)
    report = match_day(
        date(2025, 3, 26), [payment(1)], [line(2, pid(1), booked=date(2025, 3, 26))], config=config
    )
    [item] = report.items
    assert item.outcome is Outcome.LATE
    assert item.days_late == 10
    assert "beyond the 3-business-day settlement window" in item.note


def test_after_cutoff_belongs_to_the_next_business_day() -> None:
    """Paid on Friday at 17:00 Hanoi time, after the 16:00 cut-off: it belongs to Monday, so a
    Monday booking is on time and Friday's run does not report it missing."""
    friday_evening = datetime(2025, 3, 14, 10, 0, tzinfo=UTC)
    late_payer = payment(1, captured_at=friday_evening)
    friday = match_day(date(2025, 3, 14), [late_payer], [], config=MatchConfig(cutoff=time(16)))
    assert friday.items == ()
    monday = match_day(date(2025, 3, 17), [late_payer], [line(2, pid(1), booked=date(2025, 3, 17))])
    assert outcomes(monday.items) == [(Outcome.MATCHED, pid(1), 2)]


def test_batch_line_covers_several_payments() -> None:
    """The gateway remitted three payments in batch B-12; the treasury booked one line of
    3,750,000 VND naming the batch. All three are matched by that single line."""
    payments = [payment(n, batch="B-12") for n in (3, 1, 2)]
    report = match_day(DAY, payments, [line(7, None, 3_750_000, batch="B-12", batch_count=3)])
    assert outcomes(report.items) == [(Outcome.MATCHED, pid(n), 7) for n in (1, 2, 3)]
    assert report.matched_gateway_total == report.matched_treasury_total == 3_750_000


def test_batch_with_the_wrong_total() -> None:
    """The batch line says 3,000,000 but its payments total 3,750,000: one mismatch for the
    line, and the payments are not reported missing a second time."""
    payments = [payment(n, batch="B-12") for n in (1, 2, 3)]
    report = match_day(DAY, payments, [line(7, None, 3_000_000, batch="B-12")])
    [item] = report.items
    assert (item.outcome, item.batch_reference) == (Outcome.AMOUNT_MISMATCH, "B-12")
    assert (item.gateway_amount, item.treasury_amount) == (3_750_000, 3_000_000)


def test_debits_and_pending_lines_are_ignored() -> None:
    """A fee debit and a pending credit are listed but never matched."""
    report = match_day(
        DAY,
        [payment(1)],
        [
            line(2, pid(1), direction=Direction.DEBIT),
            line(3, pid(1), status=BookingStatus.PENDING),
            line(4, pid(1)),
        ],
    )
    assert [item.outcome for item in report.items] == [
        Outcome.IGNORED,
        Outcome.IGNORED,
        Outcome.MATCHED,
    ]


def test_line_naming_the_provider_reference_matches() -> None:
    """The bank kept only the attempt reference VNPay knows: it still finds the payment."""
    report = match_day(DAY, [payment(1)], [line(2, payment(1).provider_ref)])
    assert outcomes(report.items) == [(Outcome.MATCHED, pid(1), 2)]


def test_provider_report_three_ways() -> None:
    """VNPay's settlement report: payment 1 agrees, payment 2 is absent, payment 3 is reported
    with another amount, one capture is unknown to us and one is listed twice."""
    payments = [payment(1), payment(2), payment(3)]
    lines = [line(2, pid(1)), line(3, pid(2)), line(4, pid(3))]
    settlements = [
        settled(2, payment(1).provider_ref or ""),
        settled(3, payment(3).provider_ref or "", 1_000_000),
        settled(4, "att_UNKNOWN"),
        settled(5, payment(1).provider_ref or ""),
    ]
    report = match_day(DAY, payments, lines, settlements)
    provider_items = [i for i in report.items if i.outcome.value.startswith("provider_")]
    assert outcomes(tuple(provider_items)) == [
        (Outcome.PROVIDER_AMOUNT_MISMATCH, pid(3), 3),
        (Outcome.PROVIDER_UNKNOWN, None, 4),
        (Outcome.PROVIDER_DUPLICATE, pid(1), 5),
        (Outcome.PROVIDER_MISSING, pid(2), None),
    ]
    # The treasury side is unaffected by what the provider says.
    assert report.counts()[Outcome.MATCHED] == 3


def test_providers_without_a_report_are_not_checked() -> None:
    """Only VNPay sent a report: MoMo's payment is not flagged as missing from it."""
    report = match_day(
        DAY, [payment(1, provider="momo")], [line(2, pid(1))], [], settlement_providers={"vnpay"}
    )
    assert [item.outcome for item in report.items] == [Outcome.MATCHED]


def test_batch_entry_whose_transactions_name_the_payments() -> None:
    """The treasury booked one entry of 2,500,000 VND with two transaction details, each
    naming a payment (camt TxDtls), and no batch reference we know: both payments match."""
    entry = line(9, None, 2_500_000)._replace(
        batch_count=2,
        transactions=(
            Transaction(1_250_000, pid(2), pid(2), ""),
            Transaction(1_250_000, pid(1), pid(1), ""),
        ),
    )
    report = match_day(DAY, [payment(1), payment(2)], [entry])
    assert outcomes(report.items) == [(Outcome.MATCHED, pid(1), 9), (Outcome.MATCHED, pid(2), 9)]
    assert report.matched_gateway_total == report.matched_treasury_total == 2_500_000


def test_batch_entry_naming_an_unknown_payment_is_a_mismatch() -> None:
    """One of the two transactions names a payment we do not know: the entry cannot be
    matched as a whole; the known payment is not reported missing a second time."""
    entry = line(9, None, 2_500_000)._replace(
        transactions=(
            Transaction(1_250_000, pid(1), pid(1), ""),
            Transaction(1_250_000, "X", None, ""),
        ),
    )
    report = match_day(DAY, [payment(1)], [entry])
    assert outcomes(report.items) == [(Outcome.AMOUNT_MISMATCH, None, 9)]

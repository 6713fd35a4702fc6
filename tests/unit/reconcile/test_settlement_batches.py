"""The gateway learns which settlement batch each payment was remitted in from the providers'
settlement reports, by the reference the provider knows the payment by."""

from __future__ import annotations

from payments.reconcile.rules.matching import Outcome, match_day
from payments.reconcile.usecases.day import in_batches, settlement_batches
from tests.unit.reconcile.stories import DAY, line, payment, settled


def test_payments_take_the_batch_their_settlement_line_names() -> None:
    by_attempt, by_payment, unbatched, unreported = (payment(n, 100_000) for n in range(1, 5))
    reports = [
        settled(2, by_attempt.provider_ref or "", 100_000)._replace(batch_reference="B1"),
        settled(3, by_payment.payment_id, 100_000)._replace(batch_reference="B1"),
        settled(4, unbatched.provider_ref or "", 100_000),
    ]
    batches = settlement_batches(reports)
    assert batches == {by_attempt.provider_ref: "B1", by_payment.payment_id: "B1"}
    given = in_batches([by_attempt, by_payment, unbatched, unreported], batches)
    assert [p.batch_reference for p in given] == ["B1", "B1", None, None]
    assert given[2] is unbatched  # untouched payments are not copied

    # With their batch known, a line carrying only the batch reference and total matches both.
    report = match_day(DAY, given, [line(1, None, 200_000, batch="B1", batch_count=2)])
    assert [(i.outcome, i.treasury_amount) for i in report.items[:2]] == [
        (Outcome.MATCHED, 100_000),
        (Outcome.MATCHED, 100_000),
    ]

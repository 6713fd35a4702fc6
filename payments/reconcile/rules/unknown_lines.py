"""Lines the day's match found no payment for: ``unknown_at_gateway`` on the treasury's side,
``provider_unknown`` on a provider's. One set of rules for both sides. Pure: no I/O.

A day's match sees the succeeded payments of its settlement window, less those the treasury
confirmed on an earlier day. A line may still name a payment the gateway knows: one whose
attempt is still open (the provider's answer never reached us), one captured outside the
window, one an earlier day's run already matched. After the match the run looks up what each
such line's reference names (a payment id, an attempt id, or the reference a provider knows
an attempt by: ``NamedPayment``), and:

- a line that names a payment is tied to it: the item shows the payment, its agency, budget
  codes and provider, whatever its status, and the note says that status;
- a treasury line naming a payment the treasury confirmed on an earlier day is a
  ``duplicate`` of that confirmation, and a provider's line naming a payment whose
  settlement an earlier day's report booked is a ``provider_duplicate``; the note says where
  it was first matched (day and run);
- otherwise the item keeps its outcome, and each still-open attempt it names is asked about
  at its provider (a provider's line: only at that provider, ``asked_provider``); the answer
  labels the item (``confirmed_note``, ``answer_note``), the same way on both sides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import NamedTuple

from payments.domain.attempts import Result
from payments.reconcile.rules.matching import MatchItem, MatchReport, Outcome

UNTIED = frozenset({Outcome.UNKNOWN_AT_GATEWAY, Outcome.PROVIDER_UNKNOWN})
SUCCEEDED = "succeeded"


class FirstSeen(NamedTuple):
    """Where a payment was first matched: the business day and the run."""

    business_date: date
    run_id: int


class AttemptSeen(NamedTuple):
    attempt_id: str
    provider: str
    provider_ref: str
    status: str


class NamedPayment(NamedTuple):
    """A payment as the gateway knows it, whatever its status."""

    payment_id: str
    agency: str
    amount: int
    currency: str
    treasury_code: str
    chapter: str
    sub_item: str
    status: str  # the payment's status at the gateway
    provider: str | None  # ``named_provider``
    matched: FirstSeen | None = None  # the treasury confirmed it (its remittance's run)
    settled: FirstSeen | None = None  # its provider's settlement was booked


def named_provider(reference: str, attempts: Sequence[AttemptSeen]) -> str | None:
    """The provider of the attempt a reference names; a payment's own id names its succeeded
    attempt, if it has one (``attempts``: those of the payment the reference names)."""
    for attempt in attempts:
        if reference in (attempt.attempt_id, attempt.provider_ref):
            return attempt.provider
    for attempt in attempts:
        if attempt.status == SUCCEEDED:
            return attempt.provider
    return None


def untied_references(items: Iterable[MatchItem]) -> set[str]:
    """The references of the lines the match found no payment for."""
    return {
        item.reference
        for item in items
        if item.outcome in UNTIED and item.payment_id is None and item.reference is not None
    }


def tie_lines(report: MatchReport, named: Mapping[str, NamedPayment]) -> MatchReport:
    """The report with each untied line that names a known payment tied to it."""
    if not named:
        return report
    day = report.business_date
    items = tuple(
        tie(item, found, day)
        if item.outcome in UNTIED
        and item.payment_id is None
        and (found := named.get(item.reference or "")) is not None
        else item
        for item in report.items
    )
    return MatchReport(
        report.business_date, items, report.matched_gateway_total, report.matched_treasury_total
    )


def tie(item: MatchItem, payment: NamedPayment, business_date: date) -> MatchItem:
    """``item`` (an untied line) with the payment its reference names."""
    provider_side = item.outcome is Outcome.PROVIDER_UNKNOWN
    first = payment.settled if provider_side else payment.matched
    tied = item._replace(
        payment_id=payment.payment_id,
        agency=payment.agency,
        treasury_code=payment.treasury_code,
        chapter=payment.chapter,
        sub_item=payment.sub_item,
        # A provider's line stays its report's; a treasury line takes the payment's.
        provider=item.provider if provider_side else payment.provider,
    )
    if first is not None and first.business_date < business_date:
        done = "settled" if provider_side else "matched"
        where = f"already {done} on {first.business_date.isoformat()} (run {first.run_id})"
        return tied._replace(
            outcome=Outcome.PROVIDER_DUPLICATE if provider_side else Outcome.DUPLICATE,
            gateway_amount=payment.amount,
            note=with_note(item.note, where),
        )
    return tied._replace(
        note=with_note(
            item.note, f"names payment {payment.payment_id}, {payment.status} at the gateway"
        )
    )


def asked_provider(item: MatchItem) -> str | None:
    """Whose attempts an untied line is asked about: a provider's line only that provider's
    (it can only speak of its own), a treasury line any provider's (None)."""
    return item.provider if item.outcome is Outcome.PROVIDER_UNKNOWN else None


def confirmed_note(provider: str, payment_id: str, *, late: bool) -> str:
    """A provider confirmed the payment and its success was recorded. "Late" only when the
    payment is flagged late (paid after it expired or was cancelled): a payment still pending
    whose answer simply never reached us is an ordinary success."""
    what = "a late success (paid after it expired or was cancelled)" if late else "a success"
    return (
        f"{provider} confirmed payment {payment_id}: recorded as {what}; rerun the day to match it"
    )


def answer_note(provider: str, attempt_id: str, answer: Result, reason: str = "") -> str:
    """Any other answer of the provider about an attempt the line names (nothing recorded)."""
    if answer is Result.SUCCEEDED:
        return f"{provider} reports attempt {attempt_id} paid; not recorded: {reason}"
    if answer is Result.FAILED:
        return f"{provider} reports attempt {attempt_id} failed"
    return f"{provider} reports attempt {attempt_id} still pending"


def with_note(note: str, more: str) -> str:
    return f"{note}; {more}" if note else more

"""Refunds the providers paid out against the refunds the gateway calls paid (``succeeded``):
the refund lines of a day's settlement reports (``settlements``), from the reports that list
refunds. Pure: no I/O, no clock; the same input gives the same items.

A refund line names our refund by its request id at the provider (our refund id) and carries
the provider's refund number. Each line ends in one item, in report order:

- ``refund_matched``: it names a refund of that provider the gateway holds as succeeded, with
  the same amount and currency and, when the gateway recorded one, the same provider refund
  number (``days_late``: business days after the refund's own day, when listed later);
- ``refund_amount_mismatch``: it names one, but the amount, the currency or the provider's
  refund number differ (the gateway may have booked a sibling's answer: staff decide);
- ``refund_duplicate``: a second line for a refund another line of the report already took,
  or a line for a refund an earlier day's report matched (the note says where);
- ``refund_unknown_at_gateway``: it names no refund of the gateway at that provider, or one
  the gateway does not hold as succeeded (failed, unknown, pending...: the item is tied to
  that refund and its payment, and the note says its status).

Then each succeeded refund no line took ends in one item, in refund id order, once its
settlement window is over: ``refund_missing_at_provider`` when ``window_days`` business days
(the lateness the payment side allows) have passed since the refund's own day (the business
day of its ``settled_at``, by the cut-off), until the run's span leaves it behind. Inside the
window it has no item yet (the provider may still list it), nor has one an earlier day's
report matched (done).

What to pass: the gateway's succeeded refunds at the providers checked (``providers``: those
whose report lists refunds) settled in the run's span, and every refund a line names,
whatever its status, each once; ``lines``: the refund lines of those providers' reports.
Conservation: the gateway and provider amounts of matched items are equal, and each refund
is matched at most once.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import replace
from datetime import date, datetime
from typing import NamedTuple

from payments.reconcile.formats.settlements import SettlementLine
from payments.reconcile.rules.matching import DueDates, MatchConfig, MatchItem, Outcome
from payments.reconcile.rules.unknown_lines import FirstSeen

SUCCEEDED = "succeeded"
DEFAULT_CONFIG = MatchConfig()


class GatewayRefund(NamedTuple):
    refund_id: str
    request_id: str  # what the provider knows it by (our refund id)
    payment_id: str
    provider: str
    amount: int
    currency: str
    status: str  # the refund's status at the gateway
    provider_refund_id: str | None  # the provider's refund number, as the gateway recorded it
    settled_at: datetime | None  # aware; when it became final at the gateway
    agency: str
    treasury_code: str
    chapter: str
    sub_item: str
    matched: FirstSeen | None = None  # where a report first matched it


def match_refunds(
    business_date: date,
    refunds: Iterable[GatewayRefund],
    lines: Iterable[SettlementLine],
    *,
    providers: Collection[str],
    config: MatchConfig = DEFAULT_CONFIG,
) -> list[MatchItem]:
    """The refund items of ``business_date`` (see the module's docstring)."""
    # A refund's day is the one it became final on; the treasury's settlement_days do not
    # apply to money the provider pays back out.
    dates = DueDates(replace(config, settlement_days=0))
    by_request = {refund.request_id: refund for refund in refunds}
    taken: dict[str, int] = {}  # refund id -> the line that took it
    items: list[MatchItem] = []
    for line in lines:
        refund = by_request.get(line.payment_reference)
        if refund is None or refund.provider != line.provider or refund.status != SUCCEEDED:
            items.append(_unknown(line, refund))
        elif (first := refund.matched) is not None and first.business_date < business_date:
            where = f"already matched on {first.business_date.isoformat()} (run {first.run_id})"
            items.append(_line_item(Outcome.REFUND_DUPLICATE, line, refund, where))
        elif refund.refund_id in taken:
            also = f"also on line {taken[refund.refund_id]} ({line.provider_txn_id})"
            items.append(_line_item(Outcome.REFUND_DUPLICATE, line, refund, also))
        else:
            taken[refund.refund_id] = line.line_number
            items.append(_checked(line, refund, dates, config.window_days, business_date))
    window = config.window_days
    missing = [
        (refund, due)
        for refund in by_request.values()
        if refund.status == SUCCEEDED
        and refund.provider in providers
        and refund.refund_id not in taken
        and refund.settled_at is not None
        and (refund.matched is None or refund.matched.business_date >= business_date)
        and (due := dates.due(refund.settled_at)) <= business_date
        and dates.days_late(due, business_date) >= window
    ]
    missing.sort(key=lambda found: found[0].refund_id)
    for refund, due in missing:
        note = (
            f"paid at the gateway on {due.isoformat()}; no {refund.provider} report listed it "
            f"within the {window}-business-day settlement window"
        )
        items.append(_refund_item(Outcome.REFUND_MISSING_AT_PROVIDER, refund, note))
    return items


def _checked(
    line: SettlementLine, refund: GatewayRefund, dates: DueDates, window: int, day: date
) -> MatchItem:
    """A line naming a succeeded refund it is the first to take: matched, or a mismatch."""
    problems = []
    if line.amount != refund.amount or line.currency != refund.currency:
        problems.append(
            f"gateway {refund.amount} {refund.currency}, provider {line.amount} {line.currency}"
        )
    number = refund.provider_refund_id
    if number is not None and number != line.provider_txn_id:
        problems.append(f"provider refund {line.provider_txn_id}, the gateway recorded {number}")
    if problems:
        return _line_item(Outcome.REFUND_AMOUNT_MISMATCH, line, refund, "; ".join(problems))
    note = f"provider refund {line.provider_txn_id}"
    late = 0
    if refund.settled_at is not None:
        late = dates.days_late(dates.due(refund.settled_at), day)
    if late > window:
        note = f"{note}; beyond the {window}-business-day settlement window"
    item = _line_item(Outcome.REFUND_MATCHED, line, refund, note)
    return item._replace(days_late=late) if late else item


def _unknown(line: SettlementLine, refund: GatewayRefund | None) -> MatchItem:
    """A line for no refund the gateway paid: tied to the refund it names, if any."""
    note = f"provider refund {line.provider_txn_id}"
    if refund is None:
        return MatchItem(
            Outcome.REFUND_UNKNOWN_AT_GATEWAY, None, line.line_number, line.currency, None,
            line.amount, line.payment_reference, None, None, None, None, None, line.provider,
            line.settlement_date, None, note, None,
        )  # fmt: skip
    if refund.provider != line.provider:
        what = f"names refund {refund.refund_id}, a {refund.provider} refund"
    else:
        what = f"names refund {refund.refund_id}, {refund.status} at the gateway"
    item = _line_item(Outcome.REFUND_UNKNOWN_AT_GATEWAY, line, refund, f"{note}; {what}")
    return item._replace(gateway_amount=None)  # the gateway paid nothing of it


def _line_item(
    outcome: Outcome, line: SettlementLine, refund: GatewayRefund, note: str
) -> MatchItem:
    return MatchItem(
        outcome, refund.payment_id, line.line_number, line.currency, refund.amount,
        line.amount, line.payment_reference, None, refund.agency, refund.treasury_code,
        refund.chapter, refund.sub_item, line.provider, line.settlement_date, None, note,
        refund.refund_id,
    )  # fmt: skip


def _refund_item(outcome: Outcome, refund: GatewayRefund, note: str) -> MatchItem:
    return MatchItem(
        outcome, refund.payment_id, None, refund.currency, refund.amount, None,
        refund.request_id, None, refund.agency, refund.treasury_code, refund.chapter,
        refund.sub_item, refund.provider, None, None, note, refund.refund_id,
    )  # fmt: skip

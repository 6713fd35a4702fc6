"""Matching a day: the gateway's succeeded payments against the treasury statement (and the
providers' settlement reports). Pure: no I/O, no clock; the same input gives the same report.

Treasury side (one item per line, in statement order, then one per missing payment):

- ``matched``: a booked credit names a payment (by id, or the provider reference) with the same
  amount and currency, booked by the payment's due date;
- ``late``: the same, booked after the due date (``days_late`` business days; ``note`` says
  when it is beyond the settlement window);
- ``amount_mismatch``: the line names a payment (or a batch) but the amount or currency differs;
- ``duplicate``: a second line for a payment (or batch) that another line already matched, or
  a line whose mismatch was superseded by an exact line;
- ``unknown_at_gateway``: a booked credit that names no payment we know as succeeded;
- ``missing_at_treasury``: a payment due on or before the run date that no line names;
- ``ignored``: debits, reversals, pending or information-only lines (listed, never matched).

Batch lines (``batch_reference`` naming a batch the gateway remitted) match all payments of that
batch at once when the line amount equals their total (and the count, when given): one
``matched`` item per payment, each carrying its own amount as its share of the line. A batch
entry with no known batch reference whose transactions (camt ``TxDtls``) name payments is
matched the same way, as the group of the payments it names.

Provider side (three-way check; only for providers whose report was supplied; no item when the
provider agrees with the gateway):

- ``provider_missing``: the gateway has a succeeded payment the provider's report omits;
- ``provider_unknown``: the provider reports a capture the gateway has no success for;
- ``provider_amount_mismatch``: both know it, the amounts (or currencies) differ;
- ``provider_duplicate``: the provider lists the same capture twice.

Refunds the providers paid out (``refund_matching``, from the refund lines of the reports that
list refunds): ``refund_matched``, ``refund_missing_at_provider``,
``refund_unknown_at_gateway``, ``refund_amount_mismatch``, ``refund_duplicate``; their items
carry the refund id (``MatchItem.refund_id``) besides the payment's.

Due date: a payment captured before the cut-off (Vietnam time) belongs to that day, after it to
the next; rolled forward to a business day, plus ``settlement_days`` business days. Lateness is
counted in business days after the due date (a Saturday booking after a Friday due date is on
time). The booking date is the line's ``booking_date``, else its ``value_date``, else the run date.

What to pass: the payments due on the run date plus those of earlier days still unmatched
within the settlement window, so that a late booking finds its payment (an earlier payment still
unmatched is then reported missing again, which it is). Payments due after the run date (captured
after the cut-off) may be passed too: they match if booked early and are not reported missing.

Conservation: the gateway amounts and the treasury amounts of matched and late items are equal
(``MatchReport.matched_gateway_total == matched_treasury_total``), and each line is matched at
most once. Items are records (``NamedTuple``) for speed; see ``statements`` for why.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import NamedTuple

from payments.reconcile.formats.settlements import SettlementLine
from payments.reconcile.formats.statements import BookingStatus, Direction, StatementLine, paused_gc
from payments.reconcile.rules.calendar import DEFAULT_CALENDAR, VietnamCalendar

VIETNAM_OFFSET = timedelta(hours=7)


class Outcome(StrEnum):
    MATCHED = "matched"
    LATE = "late"
    AMOUNT_MISMATCH = "amount_mismatch"
    DUPLICATE = "duplicate"
    UNKNOWN_AT_GATEWAY = "unknown_at_gateway"
    MISSING_AT_TREASURY = "missing_at_treasury"
    IGNORED = "ignored"
    PROVIDER_MISSING = "provider_missing"
    PROVIDER_UNKNOWN = "provider_unknown"
    PROVIDER_AMOUNT_MISMATCH = "provider_amount_mismatch"
    PROVIDER_DUPLICATE = "provider_duplicate"
    REFUND_MATCHED = "refund_matched"
    REFUND_MISSING_AT_PROVIDER = "refund_missing_at_provider"
    REFUND_UNKNOWN_AT_GATEWAY = "refund_unknown_at_gateway"
    REFUND_AMOUNT_MISMATCH = "refund_amount_mismatch"
    REFUND_DUPLICATE = "refund_duplicate"


# Matched payments: what the treasury confirmed (a matched refund is not money received).
MATCHED_OUTCOMES = frozenset({Outcome.MATCHED, Outcome.LATE})
EXCEPTIONS = frozenset(Outcome) - MATCHED_OUTCOMES - {Outcome.IGNORED, Outcome.REFUND_MATCHED}


class GatewayPayment(NamedTuple):
    payment_id: str
    agency: str
    amount: int
    currency: str
    treasury_code: str
    chapter: str
    sub_item: str
    provider: str
    captured_at: datetime  # aware
    provider_ref: str | None = None
    batch_reference: str | None = None
    # What the provider took, when it differs from ``amount`` (what the treasury is owed): a
    # payment partly refunded before its settlement is owed net, captured gross.
    gross_amount: int | None = None

    @property
    def gross(self) -> int:
        return self.amount if self.gross_amount is None else self.gross_amount


class MatchItem(NamedTuple):
    outcome: Outcome
    payment_id: str | None
    line_number: int | None  # treasury line, or the settlement line for provider_* outcomes
    currency: str
    gateway_amount: int | None
    treasury_amount: int | None  # provider_*: the provider's amount
    reference: str | None
    batch_reference: str | None
    agency: str | None
    treasury_code: str | None
    chapter: str | None
    sub_item: str | None
    provider: str | None
    booking_date: date | None
    days_late: int | None
    note: str
    refund_id: str | None = None  # refund_* outcomes: the refund the item is about


@dataclass(frozen=True)
class MatchConfig:
    cutoff: time = time(16, 0)  # Vietnam local time
    settlement_days: int = 0  # business days from a payment's day to the treasury booking
    window_days: int = 3  # business days after the due date still counted as "late"
    calendar: VietnamCalendar = field(default=DEFAULT_CALENDAR)


@dataclass(frozen=True)
class MatchReport:
    business_date: date
    items: tuple[MatchItem, ...]
    matched_gateway_total: int
    matched_treasury_total: int

    def counts(self) -> dict[Outcome, int]:
        found = dict.fromkeys(Outcome, 0)
        for item in self.items:
            found[item.outcome] += 1
        return found


class DueDates:
    """Due dates and lateness, cached: a day has a handful of distinct dates."""

    def __init__(self, config: MatchConfig) -> None:
        self._config = config
        # local wall clock minus the cut-off plus one day: its date is the payment's day.
        self._shift = VIETNAM_OFFSET + timedelta(days=1) - _as_delta(config.cutoff)
        self._due: dict[date, date] = {}
        self._late: dict[tuple[date, date], int] = {}

    def due(self, captured_at: datetime) -> date:
        day = (captured_at + self._shift).date()
        found = self._due.get(day)
        if found is None:
            calendar = self._config.calendar
            found = calendar.add_business_days(
                calendar.next_business_day(day), self._config.settlement_days
            )
            self._due[day] = found
        return found

    def days_late(self, due: date, booked: date) -> int:
        if booked <= due:
            return 0
        key = (due, booked)
        found = self._late.get(key)
        if found is None:
            found = self._late[key] = self._config.calendar.business_days_between(due, booked)
        return found


def _as_delta(moment: time) -> timedelta:
    return timedelta(hours=moment.hour, minutes=moment.minute, seconds=moment.second)


def match_day(
    business_date: date,
    payments: Sequence[GatewayPayment],
    lines: Iterable[StatementLine],
    settlements: Sequence[SettlementLine] = (),
    *,
    config: MatchConfig = MatchConfig(),
    settlement_providers: Collection[str] | None = None,
    confirmed_earlier: Sequence[GatewayPayment] = (),
    settled_earlier: Collection[str] = (),
) -> MatchReport:
    """The report for ``business_date``. ``settlement_providers``: whose reports were supplied
    (default: the providers named in ``settlements``), so an empty report still counts.
    ``confirmed_earlier``: payments the treasury confirmed on an earlier day that still wait
    for their provider's settlement; the provider side knows them (a report line naming one
    is checked, not unknown), the treasury side does not see them again.
    ``settled_earlier``: payments whose provider settlement an earlier day's report booked:
    not missing from this day's report.

    ``lines`` is read once, in order: a caller short of memory may hand over an iterator that
    lets each line go once it has been read (an item keeps only the fields it names)."""
    with paused_gc():
        return _match(
            business_date,
            payments,
            lines,
            settlements,
            config,
            settlement_providers,
            confirmed_earlier,
            settled_earlier,
        )


class _Day:
    """State of one matching run: which payment each line took, and the items so far."""

    def __init__(
        self, business_date: date, payments: Sequence[GatewayPayment], config: MatchConfig
    ) -> None:
        self.business_date = business_date
        self.payments = payments
        self.window = config.window_days
        self.dates = DueDates(config)
        self.index: dict[str, int] = {}
        self.batches: dict[str, list[int]] = {}
        for number, each in enumerate(payments):
            self.index[each.payment_id] = number
            if each.provider_ref:
                self.index[each.provider_ref] = number
            if each.batch_reference:
                self.batches.setdefault(each.batch_reference, []).append(number)
        self.items: list[MatchItem] = []
        self.matched_by: list[int] = [0] * len(payments)  # 0: free, else the matching line
        self.claimed: set[int] = set()  # named by a mismatching line: not reported missing
        self.mismatch_at: dict[object, int] = {}  # payment position / batch ref -> item index
        self.groups_done: set[str] = set()
        self.matched_total = 0

    def group_line(self, line: StatementLine, group: Sequence[int], key: str, what: str) -> None:
        """A line covering several payments: all of them at once, or none."""
        payments, items = self.payments, self.items
        if key in self.groups_done or any(self.matched_by[p] for p in group):
            items.append(_line_item(Outcome.DUPLICATE, line, None, f"{what} already matched"))
            return
        total = sum(payments[p].amount for p in group)
        currencies = {payments[p].currency for p in group}
        count_ok = line.batch_count is None or line.batch_count == len(group)
        if total != line.amount or currencies != {line.currency} or not count_ok:
            if key in self.mismatch_at:
                items.append(_line_item(Outcome.DUPLICATE, line, None, f"second line for {what}"))
                return
            self.mismatch_at[key] = len(items)
            self.claimed.update(group)
            count_note = "" if count_ok else f", the line says {line.batch_count} payments"
            items.append(
                _line_item(
                    Outcome.AMOUNT_MISMATCH,
                    line,
                    total,
                    f"{what} of {len(group)} payments totals {total}{count_note}",
                )
            )
            return
        self.groups_done.add(key)
        earlier = self.mismatch_at.pop(key, None)
        if earlier is not None:
            items[earlier] = _superseded(items[earlier], line)
        booked = line.booking_date or line.value_date or self.business_date
        for p in sorted(group, key=lambda p: payments[p].payment_id):
            payment = payments[p]
            self.matched_by[p] = line.line_number
            late = self.dates.days_late(self.dates.due(payment.captured_at), booked)
            items.append(_pair(payment, line, late, self.window, booked))
            self.matched_total += payment.amount

    def detailed_line(self, line: StatementLine) -> bool:
        """A batch entry without a batch we know, whose transactions name payments (camt
        ``TxDtls``): matched as a group of those payments. False when none is named."""
        found = [self.index.get(tx.payment_reference or "") for tx in line.transactions]
        named = [p for p in found if p is not None]
        if not named:
            return False
        if len(named) < len(found) or len(set(named)) < len(named):
            self.claimed.update(named)
            self.items.append(
                _line_item(
                    Outcome.AMOUNT_MISMATCH,
                    line,
                    None,
                    f"{len(found) - len(named)} of its {len(found)} transactions name no "
                    "payment, or one payment is named twice",
                )
            )
            return True
        key = "\0".join(sorted(self.payments[p].payment_id for p in named))
        self.group_line(line, named, key, "transactions")
        return True


# The per-line path stays inline: at a million lines a helper call per line is measurable.
def _match(
    business_date: date,
    payments: Sequence[GatewayPayment],
    lines: Iterable[StatementLine],
    settlements: Sequence[SettlementLine],
    config: MatchConfig,
    settlement_providers: Collection[str] | None,
    confirmed_earlier: Sequence[GatewayPayment] = (),
    settled_earlier: Collection[str] = (),
) -> MatchReport:
    day = _Day(business_date, payments, config)
    dates, index, batches = day.dates, day.index, day.batches
    items, matched_by, mismatch_at = day.items, day.matched_by, day.mismatch_at
    window = config.window_days
    matched_total = 0
    append = items.append
    booked_status = BookingStatus.BOOKED
    credit = Direction.CREDIT

    for line in lines:
        if line.status is not booked_status or line.direction is not credit or line.reversal:
            append(_line_item(Outcome.IGNORED, line, None, _ignored_reason(line)))
            continue
        batch_ref = line.batch_reference
        if batch_ref is not None and batch_ref in batches:
            day.group_line(line, batches[batch_ref], batch_ref, "batch")
            continue
        reference = line.payment_reference
        position = index.get(reference) if reference is not None else None
        if position is None:
            if not (line.transactions and day.detailed_line(line)):
                append(_line_item(Outcome.UNKNOWN_AT_GATEWAY, line, None, ""))
            continue
        payment = payments[position]
        if matched_by[position]:
            append(
                _line_item(
                    Outcome.DUPLICATE,
                    line,
                    payment.amount,
                    f"already matched by line {matched_by[position]}",
                    payment,
                )
            )
            continue
        if payment.amount != line.amount or payment.currency != line.currency:
            if position in mismatch_at:
                append(_line_item(Outcome.DUPLICATE, line, payment.amount, "second line", payment))
                continue
            mismatch_at[position] = len(items)
            day.claimed.add(position)
            append(
                _line_item(
                    Outcome.AMOUNT_MISMATCH,
                    line,
                    payment.amount,
                    f"gateway {payment.amount} {payment.currency}, "
                    f"treasury {line.amount} {line.currency}",
                    payment,
                )
            )
            continue
        earlier = mismatch_at.pop(position, None)
        if earlier is not None:
            items[earlier] = _superseded(items[earlier], line)
        matched_by[position] = line.line_number
        booked = line.booking_date or line.value_date or business_date
        late = dates.days_late(dates.due(payment.captured_at), booked)
        append(_pair(payment, line, late, window, booked))
        matched_total += payment.amount

    missing = [
        p
        for p, payment in enumerate(payments)
        if not matched_by[p]
        and p not in day.claimed
        and payment.amount > 0  # refunded in full before it reached the treasury: owed none
        and dates.due(payment.captured_at) <= business_date
    ]
    missing.sort(key=lambda p: payments[p].payment_id)
    for p in missing:
        append(_payment_item(Outcome.MISSING_AT_TREASURY, payments[p], None, None, ""))

    items.extend(
        _provider_items(
            payments, index, settlements, settlement_providers, dates, business_date,
            confirmed_earlier, settled_earlier,
        )
    )  # fmt: skip
    return MatchReport(
        business_date=business_date,
        items=tuple(items),
        matched_gateway_total=matched_total + day.matched_total,
        matched_treasury_total=sum(
            item.treasury_amount or 0 for item in items if item.outcome in MATCHED_OUTCOMES
        ),
    )


def _pair(
    payment: GatewayPayment, line: StatementLine, late: int, window: int, booked: date
) -> MatchItem:
    reference = line.payment_reference
    if late <= 0:
        outcome, days, note = Outcome.MATCHED, None, ""
    else:
        outcome, days = Outcome.LATE, late
        note = f"beyond the {window}-business-day settlement window" if late > window else ""
    # tuple.__new__: the item without MatchItem's Python-level __new__ (one per matched
    # payment, a million a day); every field, in order.
    return _new_tuple(
        MatchItem,
        (
            outcome,
            payment.payment_id,
            line.line_number,
            payment.currency,
            payment.amount,
            payment.amount,  # its share of the line: the whole line, or its part of a batch
            # The same text as the payment id (the usual case) shares its object: a matched
            # item then keeps nothing of its line alive but the line number.
            payment.payment_id if reference == payment.payment_id else reference,
            line.batch_reference,
            payment.agency,
            payment.treasury_code,
            payment.chapter,
            payment.sub_item,
            payment.provider,
            booked,
            days,
            note,
            None,  # refund_id
        ),
    )


_new_tuple = tuple.__new__


def _line_item(
    outcome: Outcome,
    line: StatementLine,
    gateway_amount: int | None,
    note: str,
    payment: GatewayPayment | None = None,
) -> MatchItem:
    return MatchItem(
        outcome,
        payment.payment_id if payment is not None else None,
        line.line_number,
        line.currency,
        gateway_amount,
        line.amount,
        line.payment_reference,
        line.batch_reference,
        payment.agency if payment is not None else None,
        payment.treasury_code if payment is not None else None,
        payment.chapter if payment is not None else None,
        payment.sub_item if payment is not None else None,
        payment.provider if payment is not None else None,
        line.booking_date,
        None,
        note,
    )


def _payment_item(
    outcome: Outcome,
    payment: GatewayPayment,
    line_number: int | None,
    other_amount: int | None,
    note: str,
) -> MatchItem:
    return MatchItem(
        outcome,
        payment.payment_id,
        line_number,
        payment.currency,
        payment.amount,
        other_amount,
        payment.provider_ref,
        payment.batch_reference,
        payment.agency,
        payment.treasury_code,
        payment.chapter,
        payment.sub_item,
        payment.provider,
        None,
        None,
        note,
    )


def payments_by_reference(payments: Sequence[GatewayPayment]) -> dict[str, GatewayPayment]:
    """Each payment under its id and its provider reference (what reports name it by)."""
    found: dict[str, GatewayPayment] = {}
    for payment in payments:
        found[payment.payment_id] = payment
        if payment.provider_ref:
            found[payment.provider_ref] = payment
    return found


def _superseded(item: MatchItem, line: StatementLine) -> MatchItem:
    return item._replace(
        outcome=Outcome.DUPLICATE,
        note=f"{item.note}; superseded by line {line.line_number} with the right amount",
    )


def _ignored_reason(line: StatementLine) -> str:
    if line.status is not BookingStatus.BOOKED:
        return f"{line.status.value} entry: not money yet"
    if line.reversal:
        return "reversal"
    return "debit entry"


def _provider_items(
    payments: Sequence[GatewayPayment],
    index: dict[str, int],
    settlements: Sequence[SettlementLine],
    settlement_providers: Collection[str] | None,
    dates: DueDates,
    business_date: date,
    confirmed_earlier: Sequence[GatewayPayment],
    settled_earlier: Collection[str],
) -> list[MatchItem]:
    covered = (
        set(settlement_providers)
        if settlement_providers is not None
        else {s.provider for s in settlements}
    )
    if not covered:
        return []
    found: list[MatchItem] = []
    seen: dict[int | str, int] = {}
    earlier = payments_by_reference(confirmed_earlier)
    for settled in settlements:
        position: int | str | None = index.get(settled.payment_reference)
        payment = payments[position] if isinstance(position, int) else None
        if payment is None and (known := earlier.get(settled.payment_reference)) is not None:
            payment, position = known, known.payment_id  # never reported missing: not in index
        if payment is None or position is None or payment.provider != settled.provider:
            found.append(
                MatchItem(
                    Outcome.PROVIDER_UNKNOWN,
                    None,
                    settled.line_number,
                    settled.currency,
                    None,
                    settled.amount,
                    settled.payment_reference,
                    None,
                    None,
                    None,
                    None,
                    None,
                    settled.provider,
                    settled.settlement_date,
                    None,
                    f"provider transaction {settled.provider_txn_id}",
                )
            )
            continue
        if position in seen:
            found.append(
                _payment_item(
                    Outcome.PROVIDER_DUPLICATE,
                    payment,
                    settled.line_number,
                    settled.amount,
                    f"also on line {seen[position]} ({settled.provider_txn_id})",
                )
            )
            continue
        seen[position] = settled.line_number
        if settled.amount != payment.gross or settled.currency != payment.currency:
            found.append(
                _payment_item(
                    Outcome.PROVIDER_AMOUNT_MISMATCH,
                    payment,
                    settled.line_number,
                    settled.amount,
                    f"provider {settled.amount} {settled.currency} ({settled.provider_txn_id})",
                )
            )
    missing = [
        p
        for p, payment in enumerate(payments)
        if payment.provider in covered
        and p not in seen
        and payment.payment_id not in settled_earlier
        and dates.due(payment.captured_at) <= business_date
    ]
    missing.sort(key=lambda p: payments[p].payment_id)
    found.extend(
        _payment_item(Outcome.PROVIDER_MISSING, payments[p], None, None, "") for p in missing
    )
    return found

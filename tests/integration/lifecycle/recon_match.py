"""The reference model's matching of a day: what each treasury line and settlement line should
come to (docs/reconciliation.md, the outcome list of payments/reconcile/rules/matching.py's
docstring), for the lines the world writes. Pure; one expected item per real item.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from payments.reconcile.rules.calendar import DEFAULT_CALENDAR
from payments.reconcile.rules.matching import Outcome

OC = Outcome
VIETNAM = timedelta(hours=7)
CUTOFF = time(16, 0)
WINDOW = 3  # business days a booking may be late
EXCEPTIONS = frozenset(OC) - {OC.MATCHED, OC.LATE, OC.IGNORED}
PROVIDERS = ("vnpay", "momo", "vietqr")  # the order a run reads the reports in


@dataclass(frozen=True)
class Seen:
    """A succeeded payment as a day's run sees it: ``amount`` is what the treasury is owed
    (less refunds paid back out of the budget's share before its settlement), ``gross`` what
    its provider took."""

    id: str
    amount: int
    gross: int
    currency: str
    provider: str
    ref: str
    captured_at: datetime
    batch: str | None = None


@dataclass(frozen=True)
class TLine:
    """A treasury statement line the world wrote (booked credits only, or ``debit``)."""

    line_number: int
    reference: str | None
    amount: int
    currency: str
    booked: date
    batch: str | None = None
    batch_count: int | None = None
    debit: bool = False


@dataclass(frozen=True)
class SLine:
    provider: str
    line_number: int
    reference: str
    amount: int
    currency: str
    fee: int
    batch: str | None = None


@dataclass(frozen=True)
class Named:
    """A payment an unknown line's reference names, whatever its status: the provider of the
    attempt named (a payment's own id names its succeeded attempt), the day the treasury
    first confirmed it and the day its settlement was booked."""

    id: str
    provider: str | None
    confirmed_on: date | None
    settled_on: date | None


# (outcome, payment id, line number, provider, treasury or provider amount)
Item = tuple[Outcome, str | None, int | None, str | None, int | None]


def due(captured_at: datetime) -> date:
    local = captured_at.astimezone(UTC) + VIETNAM
    day = local.date() if local.time() < CUTOFF else local.date() + timedelta(days=1)
    return DEFAULT_CALENDAR.next_business_day(day)


def span(day: date) -> tuple[datetime, datetime]:
    """Capture times a run of ``day`` sees: the window before it, up to the next day's end."""
    first = DEFAULT_CALENDAR.add_business_days(day, -(WINDOW + 1))
    start = datetime.combine(first - timedelta(days=1), time(0), tzinfo=UTC) - VIETNAM
    return start, datetime.combine(day + timedelta(days=2), time(0), tzinfo=UTC) - VIETNAM


def item_key(item: Item) -> str:
    outcome, pid, line, provider, _ = item
    return f"{outcome.value}:{provider or ''}:{pid or ''}:{'' if line is None else line}"


def match(
    day: date,
    payments: Sequence[Seen],
    lines: Sequence[TLine],
    settlements: Sequence[SLine],
    earlier: Sequence[Seen],
    covered: set[str],
    settled_before: set[str],
) -> tuple[list[Item], dict[int, str | None]]:
    """The items, and the references of the lines no payment of the match took, by item
    position (``tie`` then looks them up). ``payments``: the treasury side's;
    ``earlier``: confirmed before, waiting for their settlement (the provider side knows
    them, the treasury side does not); ``covered``: the providers whose report of the day
    was imported; ``settled_before``: payments a report of an earlier day settled."""
    index = {p.id: p for p in payments} | {p.ref: p for p in payments}
    groups: dict[str, list[Seen]] = {}
    for p in sorted(payments, key=lambda p: p.id):
        if p.batch:
            groups.setdefault(p.batch, []).append(p)
    items: list[Item] = []
    matched: dict[str, int] = {}
    claimed: set[str] = set()
    mismatch_at: dict[str, int] = {}
    done: set[str] = set()
    unknown: dict[int, str | None] = {}

    def pair(p: Seen, line: TLine) -> None:
        late = DEFAULT_CALENDAR.business_days_between(due(p.captured_at), line.booked)
        items.append(
            (OC.LATE if late > 0 else OC.MATCHED, p.id, line.line_number, p.provider, p.amount)
        )
        matched[p.id] = line.line_number

    def supersede(key: str) -> None:
        at = mismatch_at.pop(key, None)
        if at is not None:
            items[at] = (OC.DUPLICATE, *items[at][1:])

    for line in lines:
        n, ref = line.line_number, line.reference
        if line.debit:
            items.append((OC.IGNORED, None, n, None, line.amount))
        elif line.batch is not None and line.batch in groups:
            group = groups[line.batch]
            if line.batch in done or any(p.id in matched for p in group):
                items.append((OC.DUPLICATE, None, n, None, line.amount))
                continue
            total = sum(p.amount for p in group)
            currencies = {p.currency for p in group}
            count_ok = line.batch_count in (None, len(group))
            if total != line.amount or currencies != {line.currency} or not count_ok:
                if line.batch in mismatch_at:
                    items.append((OC.DUPLICATE, None, n, None, line.amount))
                else:
                    mismatch_at[line.batch] = len(items)
                    claimed.update(p.id for p in group)
                    items.append((OC.AMOUNT_MISMATCH, None, n, None, line.amount))
                continue
            done.add(line.batch)
            supersede(line.batch)
            for p in group:
                pair(p, line)
        elif ref is None or ref not in index:
            unknown[len(items)] = ref
            items.append((OC.UNKNOWN_AT_GATEWAY, None, n, None, line.amount))
        else:
            p = index[ref]
            if p.id in matched:
                items.append((OC.DUPLICATE, p.id, n, p.provider, line.amount))
            elif p.amount != line.amount or p.currency != line.currency:
                if p.id in mismatch_at:
                    items.append((OC.DUPLICATE, p.id, n, p.provider, line.amount))
                else:
                    mismatch_at[p.id] = len(items)
                    claimed.add(p.id)
                    items.append((OC.AMOUNT_MISMATCH, p.id, n, p.provider, line.amount))
            else:
                supersede(p.id)
                pair(p, line)
    for p in sorted(payments, key=lambda p: p.id):
        owed = p.amount > 0  # refunded in full before it reached the treasury: owed none
        if owed and p.id not in matched and p.id not in claimed and due(p.captured_at) <= day:
            items.append((OC.MISSING_AT_TREASURY, p.id, None, p.provider, None))
    provided, untied = provider_items(day, payments, settlements, earlier, covered, settled_before)
    unknown.update({len(items) + at: ref for at, ref in untied.items()})
    return items + provided, unknown


def provider_items(
    day: date,
    payments: Sequence[Seen],
    settlements: Sequence[SLine],
    earlier: Sequence[Seen],
    covered: set[str],
    settled_before: set[str],
) -> tuple[list[Item], dict[int, str | None]]:
    index = {p.id: p for p in payments} | {p.ref: p for p in payments}
    known = {p.id: p for p in earlier} | {p.ref: p for p in earlier}
    items: list[Item] = []
    unknown: dict[int, str | None] = {}
    seen: set[str] = set()
    for line in settlements:
        p = index.get(line.reference) or known.get(line.reference)
        if p is None or p.provider != line.provider:
            unknown[len(items)] = line.reference
            items.append((OC.PROVIDER_UNKNOWN, None, line.line_number, line.provider, line.amount))
        elif p.id in seen:
            items.append((OC.PROVIDER_DUPLICATE, p.id, line.line_number, p.provider, line.amount))
        else:
            seen.add(p.id)
            if p.gross != line.amount or p.currency != line.currency:
                outcome = OC.PROVIDER_AMOUNT_MISMATCH
                items.append((outcome, p.id, line.line_number, p.provider, line.amount))
    for p in sorted(payments, key=lambda p: p.id):
        expected = p.provider in covered and due(p.captured_at) <= day
        if expected and p.id not in seen and p.id not in settled_before:
            items.append((OC.PROVIDER_MISSING, p.id, None, p.provider, None))
    return items, unknown


def tie(
    day: date,
    items: list[Item],
    unknown: dict[int, str | None],
    named: Callable[[str], Named | None],
) -> list[tuple[str | None, str | None]]:
    """Issue 13, 6: a line no payment of the match took that names a payment the gateway
    knows shows it; a treasury line for a payment confirmed on an earlier day is a duplicate,
    a provider's line for one settled on an earlier day a provider duplicate. ``items`` are
    tied in place; returns what the run then asks about, in item order: the reference of
    each line still unknown, with the provider a provider's line restricts it to."""
    asks: list[tuple[str | None, str | None]] = []
    for at in sorted(unknown):
        ref = unknown[at]
        outcome, _, n, provider, amount = items[at]
        on_provider_side = outcome is OC.PROVIDER_UNKNOWN
        found = named(ref) if ref is not None else None
        if found is not None:
            shown = provider if on_provider_side else found.provider
            first = found.settled_on if on_provider_side else found.confirmed_on
            if first is not None and first < day:
                again = OC.PROVIDER_DUPLICATE if on_provider_side else OC.DUPLICATE
                items[at] = (again, found.id, n, shown, amount)
                continue
            items[at] = (outcome, found.id, n, shown, amount)
        asks.append((ref, provider if on_provider_side else None))
    return asks

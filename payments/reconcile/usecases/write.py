"""What a day's run writes, in the run's transaction: the run record (its totals per
outcome and the configuration it ran with), the provider settlements its reports agree on
(``reconcile_settlements``), the remittances of the newly matched payments and of earlier
confirmed ones whose settlement this run booked (``reconcile_remittances``), and the items
in one stream with their workflow state. Exceptions open, except those the day's previous
run left resolved: they stay resolved, carried by their stable key (``item_key``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from operator import attrgetter

from payments.domain.events import AuditEntry
from payments.reconcile.ports import (
    HistoryEntry,
    ItemRow,
    ItemState,
    OutcomeTotal,
    ReconcileWork,
    Remittance,
    Resolution,
    RunRecord,
    StoredStatement,
)
from payments.reconcile.rules.matching import (
    EXCEPTIONS,
    MATCHED_OUTCOMES,
    GatewayPayment,
    MatchConfig,
    MatchItem,
    MatchReport,
    Outcome,
)
from payments.reconcile.usecases.imports import Progress
from payments.reconcile.usecases.remittances import (
    as_remitted,
    post_remittances,
    remittance_chunks,
)
from payments.reconcile.usecases.settlements import Settled, post_settlements, settlement_entries

SYSTEM = "system"


@dataclass(frozen=True)
class DayBooks:
    """What a run's postings start from: the payments the treasury confirmed on an earlier
    run (by day), the settlements the providers' reports agree on, the confirmed payments
    whose remittance waits and which ones have their settlement booked before this run; and
    the refunds (refund id, provider) a report matched for the first time."""

    remitted: dict[str, date]
    agreed: Sequence[Settled]
    awaiting: Sequence[GatewayPayment]
    settled_before: Collection[str]
    refunds_matched: Sequence[tuple[str, str]] = ()


_new_tuple = tuple.__new__


def item_key(item: MatchItem) -> str:
    """Stable across reruns of the same statement: what happened, to which line or payment
    (and refund: a payment may have several)."""
    line = "" if item.line_number is None else str(item.line_number)
    key = f"{item.outcome.value}:{item.provider or ''}:{item.payment_id or ''}:{line}"
    return key if item.refund_id is None else f"{key}:{item.refund_id}"


def config_record(config: MatchConfig) -> dict[str, object]:
    return {
        "cutoff": config.cutoff.strftime("%H:%M"),
        "settlement_days": config.settlement_days,
        "window_days": config.window_days,
    }


_GATEWAY_AMOUNT = attrgetter("gateway_amount")
_TREASURY_AMOUNT = attrgetter("treasury_amount")


def outcome_totals(items: Sequence[MatchItem]) -> dict[str, OutcomeTotal]:
    """Count and amounts per outcome. Nearly every item of a day is a match: the sums over
    all the items run in C (``map``), only the other items are visited one by one, and the
    matches' amounts are what remains."""
    matched = Outcome.MATCHED
    others = [item for item in items if item.outcome is not matched]
    sums = _per_outcome(others)
    if len(others) < len(items):
        gateway = sum(filter(None, map(_GATEWAY_AMOUNT, items)))
        treasury = sum(filter(None, map(_TREASURY_AMOUNT, items)))
        sums[matched] = [
            len(items) - len(others),
            gateway - sum(found[1] for found in sums.values()),
            treasury - sum(found[2] for found in sums.values()),
        ]
    return {outcome.value: OutcomeTotal(*sums[outcome]) for outcome in Outcome if outcome in sums}


def _per_outcome(items: Sequence[MatchItem]) -> dict[str, list[int]]:
    sums: dict[str, list[int]] = {}
    for item in items:
        found = sums.get(item.outcome)
        if found is None:
            found = sums[item.outcome] = [0, 0, 0]
        found[0] += 1
        found[1] += item.gateway_amount or 0
        found[2] += item.treasury_amount or 0
    return sums


async def write_run(
    uow: ReconcileWork,
    day: date,
    now: datetime,
    config: MatchConfig,
    actor: str,
    progress: Progress,
    report: MatchReport,
    books: DayBooks,
    statements: Sequence[StoredStatement],
    reports: Sequence[StoredStatement],
    providers: Collection[str],
) -> RunRecord:
    """Store the run and its items, book the agreed settlements, and post the remittances of
    newly matched payments that are settled and of waiting ones settled now."""
    repo = uow.reconciliation
    remitted, settled = books.remitted, books.agreed
    settled_now = {s.payment.payment_id for s in settled}
    before = books.settled_before

    newly = [
        item
        for item in report.items
        if item.outcome in MATCHED_OUTCOMES
        and item.payment_id is not None
        and item.payment_id not in remitted
    ]
    ready = [i for i in newly if i.payment_id in before or i.payment_id in settled_now]
    waiting = [
        i.payment_id
        for i in newly
        if i.payment_id is not None and i.payment_id not in before
        and i.payment_id not in settled_now
    ]  # fmt: skip
    released = [as_remitted(p) for p in books.awaiting if p.payment_id in settled_now]
    chunks = remittance_chunks(ready)
    released_chunks = remittance_chunks(released)
    previous = await repo.latest_run(day)
    carried = await repo.resolutions(previous.id) if previous is not None else {}
    run = RunRecord(
        id=0,
        business_date=day,
        started_at=now,
        finished_at=now,
        actor=actor,
        statements=tuple(s.id for s in [*statements, *reports]),
        config={**config_record(config), "settlement_providers": sorted(providers)},
        totals=outcome_totals(report.items),
        item_count=len(report.items),
        matched_gateway_total=report.matched_gateway_total,
        matched_treasury_total=report.matched_treasury_total,
        posted_payments=len(ready) + len(released),
        posted_entries=settlement_entries(settled) + len(chunks) + len(released_chunks),
        settled_payments=len(settled),
        awaiting_settlement=len(waiting) + len(books.awaiting) - len(released),
    )
    del newly, ready
    run_id = await repo.add_run(run)
    run = RunRecord(**{**run.__dict__, "id": run_id})

    await post_settlements(uow, day, run_id, settled, now)
    await post_remittances(uow, day, run_id, chunks, now, progress)
    await post_remittances(uow, day, run_id, released_chunks, now, progress, released=True)
    if waiting:
        await repo.add_remittances(Remittance("", day, run_id, None), waiting)
    if books.refunds_matched:
        await repo.add_refund_matches(day, run_id, books.refunds_matched)
    del chunks, released_chunks

    await _store_items(uow, run_id, day, report, carried, first_run=previous is None, now=now)
    progress("persist", len(report.items))
    await uow.audit.record(
        AuditEntry(
            action="reconcile.day_run",
            actor=actor,
            occurred_at=now,
            target_type="reconcile_run",
            target_id=str(run_id),
            detail={
                "business_date": day.isoformat(),
                "items": run.item_count,
                "posted_payments": run.posted_payments,
                "settled_payments": run.settled_payments,
                "awaiting_settlement": run.awaiting_settlement,
            },
        )
    )
    return run


async def _store_items(
    uow: ReconcileWork,
    run_id: int,
    day: date,
    report: MatchReport,
    carried: dict[str, Resolution],
    *,
    first_run: bool,
    now: datetime,
) -> None:
    """Write the items in one stream: each row is built as the storage takes it."""
    rows = _ItemRows(run_id, day, carried, first_run=first_run, now=now)
    await uow.reconciliation.add_items(run_id, rows.each(report.items))
    await uow.reconciliation.add_history(rows.opened)


class _ItemRows:
    """Items with their workflow state: exceptions open, or resolved as the day's previous run
    left them (by stable key); everything else closed."""

    def __init__(
        self,
        run_id: int,
        day: date,
        carried: dict[str, Resolution],
        *,
        first_run: bool,
        now: datetime,
    ) -> None:
        self._run_id, self._day, self._carried = run_id, day, carried
        self._first_run, self._now = first_run, now
        self.opened: list[HistoryEntry] = []

    def each(self, items: Iterable[MatchItem]) -> Iterator[ItemRow]:
        closed = ItemState.CLOSED
        new = _new_tuple  # ItemRow(...) without its Python-level __new__: a million rows
        for item in items:
            if item.outcome not in EXCEPTIONS:
                yield new(ItemRow, (None, item, closed, None, None, None))
                continue
            key = item_key(item)
            resolution = self._carried.get(key)
            if resolution is not None:
                state = ItemState.RESOLVED
                yield ItemRow(key, item, state, resolution.note, resolution.actor, resolution.at)
                continue
            yield ItemRow(key, item, ItemState.OPEN, None, None, None)
            if self._first_run:
                self.opened.append(
                    HistoryEntry(
                        self._day, key, self._run_id, "opened", SYSTEM, item.note, self._now
                    )
                )

"""The nightly reconciliation as use cases: import a statement, reconcile a day, resolve an
item, and the queries the API (and a staff console) read the reports with.

Flow of a day (ARCHITECTURE.md section 6):

1. ``import_statement`` streams a parsed file into storage, all or nothing: a file with any
   malformed line is rejected whole (every line error listed) and nothing is stored; the same
   bytes imported again store nothing new (content hash).
2. ``reconcile_day`` takes the day's lock, loads the day's treasury lines from storage (so a
   rerun sees exactly what the first run saw; an import just made may hand its lines over),
   the providers' settlement reports imported for the day (``import_settlement``) and the
   succeeded payments captured in the settlement window (each given the settlement batch its
   provider's report names, ``in_batches``), matches them
   (``payments.reconcile.matching``), and in one transaction stores the run and its items and
   posts the remittance of every newly matched payment to the ledger. Resolved items of the
   day's previous run stay resolved (carried by their stable key). Afterwards, treasury
   credits naming a payment we do not know as succeeded trigger a provider status query; a
   confirmed success is applied like any provider answer (a recorded late success).

Remittance entries: the treasury confirmed it received the money, so it is no longer owed by
us: Dr budget-payable:<agency>:<sub-item> / Cr collection-bank. One entry covers up to
``REMITTANCE_CHUNK`` payments (legs summed per account), keyed by the day and a digest of its
payments; ``reconcile_remittances`` holds one row per payment (primary key), so a payment is
posted at most once whatever reruns happen. Posting a million payments as a million entries
would cost a million round trips through the single write path; a hundred entries cost
nothing next to the matching, and every invariant (balanced, unique source key, the chain
sealing them later) still holds because they go through ``post_entry``.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from operator import attrgetter

from payments.domain.attempts import OPEN_ATTEMPT, QUERYABLE, Attempt, Provider, Result, Verdict
from payments.domain.errors import Conflict, FieldProblem, InvalidInput, NotFound
from payments.domain.events import AuditEntry
from payments.domain.text import normalise, text_problem
from payments.ledger import chart
from payments.ledger.entries import EntryDraft, credit, debit
from payments.ledger.posting import post_entry
from payments.reconcile.matching import (
    EXCEPTIONS,
    MATCHED_OUTCOMES,
    VIETNAM_OFFSET,
    GatewayPayment,
    MatchConfig,
    MatchItem,
    MatchReport,
    Outcome,
    match_day,
)
from payments.reconcile.settlements import LAYOUTS, SettlementLine, SettlementReport
from payments.reconcile.statements import (
    Direction,
    Statement,
    StatementError,
    StatementFormat,
    StatementLine,
    StatementReader,
    paused_gc,
)
from payments.services.checkout import apply_provider_outcome
from payments.services.ports import StatusQuery, UnitOfWork, UnitOfWorkFactory
from payments.services.reconcile_ports import (
    Breakdown,
    Dimension,
    HistoryEntry,
    ItemFilter,
    ItemRow,
    ItemState,
    NewStatement,
    OutcomeTotal,
    Remittance,
    Resolution,
    RunRecord,
    StoredItem,
    StoredStatement,
)

TREASURY = "treasury"
SETTLEMENT_PROVIDERS = tuple(LAYOUTS)  # statement sources that are provider settlement reports
SYSTEM = "system"
LINE_CHUNK = 50_000  # statement lines per progress report (import) and per handover (matching)
REMITTANCE_CHUNK = 10_000  # payments per remittance ledger entry
MAX_NOTE = 2_000
DEFAULT_CONFIG = MatchConfig()
ALL_ITEMS = ItemFilter()

Progress = Callable[[str, int], None]  # (phase, units done in that phase)


def _no_progress(_phase: str, _done: int) -> None:
    return None


# --- import -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Imported:
    statement: StoredStatement
    created: bool  # False: these exact bytes were imported before; nothing new stored
    # With ``keep_lines``: the lines as the matcher reads them (``matching_view``), to hand
    # to ``reconcile_day`` so that a run right after the import does not read them back.
    lines: list[StatementLine] | None = None


SHARED_AMOUNTS = 100_000  # distinct amounts kept as one int object each (fees repeat a lot)


def matching_view(line: StatementLine, amounts: dict[int, int] | None = None) -> StatementLine:
    """The line without the free text the matcher does not read (what ``lines_of`` returns).
    ``amounts``: a cache that makes equal amounts one object (28 bytes a line saved)."""
    amount = line.amount
    if amounts is not None:
        amount = amounts.get(amount, amount)
        if len(amounts) < SHARED_AMOUNTS:
            amounts.setdefault(amount, amount)
    # tuple.__new__: the record without its Python-level __new__ (a million times a day);
    # the fields are StatementLine's, all of them, in order.
    return _new_tuple(
        StatementLine,
        (*line[:1], amount, *line[2:8], None, None, "", *line[11:14], None, line[15]),
    )


_new_tuple = tuple.__new__


class _Reading:
    """The reader's lines as the storage takes them, with the totals and the matcher's view."""

    def __init__(self, reader: StatementReader, keep_lines: bool, progress: Progress) -> None:
        self._reader = reader
        self._progress = progress
        self.kept: list[StatementLine] | None = [] if keep_lines else None
        self.credits = self.debits = 0

    def lines(self) -> Iterator[StatementLine]:
        """Every good line while the file has no bad one; once it has, nothing more is handed
        out (the file will be rejected) but the reading goes on, to list every bad line."""
        reader, kept, progress = self._reader, self.kept, self._progress
        errors = reader.errors
        amounts: dict[int, int] = {}
        view = matching_view
        credit = Direction.CREDIT
        credits = debits = count = 0
        try:
            for line in reader:
                if kept is not None:
                    kept.append(view(line, amounts))
                if line.direction is credit:
                    credits += line.amount
                else:
                    debits += line.amount
                count += 1
                if not count % LINE_CHUNK:
                    progress("import", count)
                if not errors:
                    yield line
            if count % LINE_CHUNK:
                progress("import", count)
        finally:
            self.credits, self.debits = credits, debits


async def import_statement(
    uow_factory: UnitOfWorkFactory,
    reader: StatementReader,
    *,
    business_date: date,
    actor: str,
    now: datetime,
    source: str = TREASURY,
    progress: Progress = _no_progress,
    keep_lines: bool = False,
) -> Imported:
    """Stream the reader's lines into storage; StatementError (nothing stored) when any line
    or the file is malformed.

    The lines go to storage as one stream while the file is parsed (PostgreSQL: one COPY
    fed by the parser): the database stores a part while the next is being parsed, in one
    thread (a national day is a million lines; either side alone takes seconds). Like the
    matching, the parsing runs on the caller's event loop: run imports in the worker or the
    CLI, not in a request.
    """
    reading = _Reading(reader, keep_lines, progress)
    async with uow_factory() as uow:
        statement_id = await uow.reconciliation.open_statement(source, business_date, now, actor)
        with paused_gc():
            await uow.reconciliation.add_lines(statement_id, reading.lines())
        if reader.errors:
            raise StatementError.from_line_errors(reader.errors)
        kept = reading.kept
        header = reader.statement
        earlier = await uow.reconciliation.statement_by_hash(header.content_hash)
        if earlier is not None:
            kept = kept if kept is None else await uow.reconciliation.lines_of([earlier.id])
            return Imported(earlier, False, kept)  # leaving rolls the new rows back
        await uow.reconciliation.complete_statement(
            statement_id,
            NewStatement(header, business_date, reading.credits, reading.debits, now, actor),
        )
        await uow.audit.record(
            AuditEntry(
                action="reconcile.statement_imported",
                actor=actor,
                occurred_at=now,
                target_type="statement",
                target_id=str(statement_id),
                detail={
                    "source": source,
                    "business_date": business_date.isoformat(),
                    "lines": header.line_count,
                    "content_hash": header.content_hash,
                },
            )
        )
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.reconciliation.statement_by_hash(header.content_hash)
    if stored is None:  # pragma: no cover - committed just above
        raise NotFound("the imported statement vanished")
    return Imported(stored, True, kept)


async def import_settlement(
    uow_factory: UnitOfWorkFactory,
    report: SettlementReport,
    *,
    business_date: date,
    actor: str,
    now: datetime,
) -> Imported:
    """Store a provider's settlement report of a day (all or nothing, once per content), so
    that every run of the day, and every rerun, checks the provider three ways."""
    lines = report.require_clean()
    async with uow_factory() as uow:
        repo = uow.reconciliation
        earlier = await repo.statement_by_hash(report.content_hash)
        if earlier is not None:
            return Imported(earlier, created=False)
        statement_id = await repo.open_statement(report.provider, business_date, now, actor)
        await repo.add_settlement_lines(statement_id, lines)
        dates = [line.settlement_date for line in lines]
        header = Statement(
            source=report.provider,
            format=StatementFormat.CSV,
            statement_id=report.content_hash,
            account="",
            currency=lines[0].currency if lines else "VND",
            period_start=min(dates, default=None),
            period_end=max(dates, default=None),
            created_at=None,
            content_hash=report.content_hash,
            line_count=len(lines),
        )
        gross = sum(line.amount for line in lines)
        fees = sum(line.fee for line in lines)
        await repo.complete_statement(
            statement_id, NewStatement(header, business_date, gross, fees, now, actor)
        )
        await uow.audit.record(
            AuditEntry(
                action="reconcile.settlement_imported",
                actor=actor,
                occurred_at=now,
                target_type="statement",
                target_id=str(statement_id),
                detail={"provider": report.provider, "business_date": business_date.isoformat()},
            )
        )
        await uow.commit()
        stored = await repo.statement_by_hash(report.content_hash)
    if stored is None:  # pragma: no cover - written just above
        raise NotFound("the imported settlement report vanished")
    return Imported(stored, created=True)


# --- reconcile a day ----------------------------------------------------------------------


@dataclass(frozen=True)
class DayResult:
    run: RunRecord
    confirmed: tuple[str, ...] = ()  # payments a provider confirmed after the run
    unresolved_queries: int = 0  # unknown-at-gateway lines no provider could answer


def item_key(item: MatchItem) -> str:
    """Stable across reruns of the same statement: what happened, to which line or payment."""
    line = "" if item.line_number is None else str(item.line_number)
    return f"{item.outcome.value}:{item.provider or ''}:{item.payment_id or ''}:{line}"


def capture_span(day: date, config: MatchConfig) -> tuple[datetime, datetime]:
    """Capture times (UTC) of the payments a day's run must see: those due on the day or in
    the settlement window before it, and those captured up to the end of the next day (an
    early booking still finds its payment)."""
    calendar = config.calendar
    first = calendar.add_business_days(day, -(config.window_days + config.settlement_days + 1))
    start_local = datetime.combine(first - timedelta(days=1), time(0), tzinfo=UTC)
    end_local = datetime.combine(day + timedelta(days=2), time(0), tzinfo=UTC)
    return start_local - VIETNAM_OFFSET, end_local - VIETNAM_OFFSET


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


def remittance_drafts(
    day: date, matched: Sequence[MatchItem], occurred_at: datetime
) -> list[tuple[EntryDraft, list[str]]]:
    """Entries for newly matched payments (their matched items), ``REMITTANCE_CHUNK``
    payments each, in payment id order (so a rerun would build the same keys)."""
    return [remittance_draft(day, chunk, occurred_at) for chunk in remittance_chunks(matched)]


_BY_PAYMENT_ID = attrgetter("payment_id")  # C-level key: a million items are sorted


def remittance_chunks(matched: Sequence[MatchItem]) -> list[list[MatchItem]]:
    """The items of ``remittance_drafts``'s entries: by payment id, ``REMITTANCE_CHUNK`` each.
    Every one names a payment (only those are remitted)."""
    ordered = sorted(matched, key=_BY_PAYMENT_ID)
    return [
        ordered[start : start + REMITTANCE_CHUNK]
        for start in range(0, len(ordered), REMITTANCE_CHUNK)
    ]


def remittance_draft(
    day: date, chunk: Sequence[MatchItem], occurred_at: datetime
) -> tuple[EntryDraft, list[str]]:
    """One remittance entry (legs summed per account) and the payments it covers; its source
    key is the day and a digest of those payments."""
    payable: dict[tuple[str, str, str], int] = {}
    get = payable.get
    for item in chunk:
        key = (item.agency or "", item.sub_item or "", item.currency)
        payable[key] = get(key, 0) + (item.gateway_amount or 0)
    bank: dict[str, int] = {}
    for (_, _, currency), amount in payable.items():
        bank[currency] = bank.get(currency, 0) + amount
    ids = [item.payment_id or "" for item in chunk]
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:40]
    legs = [
        debit(chart.budget_payable(agency, sub_item, currency), amount)
        for (agency, sub_item, currency), amount in sorted(payable.items())
    ]
    legs += [credit(chart.collection_bank(c), amount) for c, amount in sorted(bank.items())]
    draft = EntryDraft(
        source_key=f"remittance:{day.isoformat()}:{digest}",
        description=f"Remitted to the State Treasury: {len(chunk)} payment(s) "
        f"confirmed on the statement of {day.isoformat()}",
        occurred_at=occurred_at,
        legs=tuple(legs),
    )
    return draft, ids


async def reconcile_day(
    uow_factory: UnitOfWorkFactory,
    day: date,
    *,
    now: datetime,
    config: MatchConfig = DEFAULT_CONFIG,
    settlements: Sequence[SettlementLine] = (),
    settlement_providers: Collection[str] | None = None,
    actor: str = SYSTEM,
    status_query: StatusQuery | None = None,
    progress: Progress = _no_progress,
    preloaded: dict[int, list[StatementLine]] | None = None,
) -> DayResult:
    """Reconcile ``day`` against the treasury statements imported for it. Safe to repeat:
    the same inputs give the same report, and nothing is posted twice.

    ``preloaded``: lines of some of those statements already in memory, by statement id
    (``Imported.lines`` of an import just made), handed over: the run pops them and frees
    them once matched; the other statements' lines are read from storage.
    """
    async with uow_factory() as uow:
        with paused_gc():  # a million records are built here; see statements.paused_gc
            run = await _run_day(
                uow,
                day,
                now,
                config,
                settlements,
                settlement_providers,
                actor,
                progress,
                {} if preloaded is None else preloaded,
            )
        await uow.commit()
    progress("done", run.item_count)
    if status_query is None:
        return DayResult(run)
    confirmed, unanswered = await _ask_providers(uow_factory, run, status_query, now)
    return DayResult(run, tuple(confirmed), unanswered)


async def _run_day(
    uow: UnitOfWork,
    day: date,
    now: datetime,
    config: MatchConfig,
    settlements: Sequence[SettlementLine],
    settlement_providers: Collection[str] | None,
    actor: str,
    progress: Progress,
    preloaded: dict[int, list[StatementLine]],
) -> RunRecord:
    repo = uow.reconciliation
    await repo.lock_day(day)
    statements = await repo.statements_for(day, TREASURY)
    if not statements:
        # Without the treasury's word every payment would read "missing": refuse instead.
        raise Conflict(f"no treasury statement imported for {day.isoformat()}: import it first")
    lines: list[StatementLine] = []
    for statement in statements:
        # Popped, so that the lines are freed once matched (the caller hands them over).
        known = preloaded.pop(statement.id, None)
        if known is None:
            known = await repo.lines_of([statement.id])
        if lines:
            lines.extend(known)
        else:
            lines = known
        del known
    progress("load", len(lines))
    # Settlement reports stored for the day, plus any given in memory: three-way check.
    stored_settlements: list[SettlementLine] = []
    providers = set(settlement_providers or ()) | {s.provider for s in settlements}
    reports: list[StoredStatement] = []
    for provider in SETTLEMENT_PROVIDERS:
        found = await repo.statements_for(day, provider)
        if found:
            providers.add(provider)
            reports += found
            stored_settlements += await repo.settlement_lines_of([r.id for r in found])
    settlements = [*stored_settlements, *settlements]
    loaded = await repo.succeeded_payments(*capture_span(day, config))
    # Payments remitted on an earlier day are settled; those of this day (a rerun) or a
    # later one must be seen again, so that the report comes out the same.
    remitted = loaded.remitted_on
    payments = loaded.payments
    if remitted:
        payments = [p for p in payments if remitted.get(p.payment_id, day) >= day]
    batches = settlement_batches(settlements)
    if batches:
        payments = in_batches(payments, batches)
    payments.sort(key=_BY_PAYMENT_ID)
    progress("load", len(lines) + len(payments))
    report = match_day(
        day,
        payments,
        _drained(lines),  # a matched line's record goes while the rest are matched
        settlements,
        config=config,
        settlement_providers=providers,
    )
    del lines, payments, loaded  # the items carry what the rest needs
    progress("match", len(report.items))
    return await _write_run(
        uow, day, now, config, actor, progress, report, remitted, statements, reports, providers
    )


def settlement_batches(settlements: Iterable[SettlementLine]) -> dict[str, str]:
    """The batch each reported transaction was remitted in, by the reference the provider knows
    the payment by (our attempt's provider_ref, or the payment id)."""
    return {
        line.payment_reference: line.batch_reference
        for line in settlements
        if line.batch_reference is not None
    }


def in_batches(payments: list[GatewayPayment], batches: dict[str, str]) -> list[GatewayPayment]:
    """``payments``, each with its batch as the providers' settlement reports name it: the
    gateway itself never learns which batch the intermediary remitted a payment in, so a
    treasury line carrying only a batch reference, count and total matches through this."""
    found = batches.get
    return [
        p
        if (batch := found(p.provider_ref or "") or found(p.payment_id)) is None
        else p._replace(batch_reference=batch)
        for p in payments
    ]


async def _write_run(
    uow: UnitOfWork,
    day: date,
    now: datetime,
    config: MatchConfig,
    actor: str,
    progress: Progress,
    report: MatchReport,
    remitted: dict[str, date],
    statements: Sequence[StoredStatement],
    reports: Sequence[StoredStatement],
    providers: Collection[str],
) -> RunRecord:
    """Store the run and its items and post the remittances of newly matched payments."""
    repo = uow.reconciliation

    newly = [
        item
        for item in report.items
        if item.outcome in MATCHED_OUTCOMES
        and item.payment_id is not None
        and item.payment_id not in remitted
    ]
    chunks = remittance_chunks(newly)
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
        posted_payments=len(newly),
        posted_entries=len(chunks),
    )
    run_id = await repo.add_run(run)
    run = RunRecord(**{**run.__dict__, "id": run_id})

    await _post_remittances(uow, day, run_id, chunks, now, progress)
    del chunks, newly

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
            },
        )
    )
    return run


async def _post_remittances(
    uow: UnitOfWork,
    day: date,
    run_id: int,
    chunks: Sequence[Sequence[MatchItem]],
    now: datetime,
    progress: Progress,
) -> None:
    """Post the remittance entries through the ledger's write path and record which payments
    each covers; each entry is drafted when its turn comes (not all hundred at once).

    No worker thread here: a thread busy with Python holds the interpreter lock for up to
    its switch interval whenever a database answer arrives, which costs more than it saves
    on a loop of round trips."""
    repo = uow.reconciliation
    posted = 0
    for chunk in chunks:
        draft, ids = remittance_draft(day, chunk, now)
        posted_entry = await post_entry(uow.ledger, draft, now=now)
        await repo.add_remittances(Remittance("", day, run_id, posted_entry.entry.id), ids)
        posted += len(ids)
        progress("post", posted)


def _drained(lines: list[StatementLine]) -> Iterator[StatementLine]:
    """The lines in order, taken out of ``lines`` a chunk at a time: the lines and the payments
    are the run's two largest structures (a million records each) and the items grow while
    matching; letting each line go once read keeps the three from peaking together."""
    while lines:
        chunk = lines[:LINE_CHUNK]
        del lines[:LINE_CHUNK]
        yield from chunk
        del chunk


async def _store_items(
    uow: UnitOfWork,
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


async def _ask_providers(
    uow_factory: UnitOfWorkFactory, run: RunRecord, status_query: StatusQuery, now: datetime
) -> tuple[list[str], int]:
    """Unknown-at-gateway credits naming one of our attempts or payments: ask its provider;
    a confirmed success is applied (a recorded late success) and noted on the item."""
    confirmed: list[str] = []
    unanswered = 0
    after: int | None = None
    flt = ItemFilter(outcomes=frozenset({Outcome.UNKNOWN_AT_GATEWAY}))
    while True:
        async with uow_factory() as uow:
            page = await uow.reconciliation.items(run.id, flt, after_id=after, limit=500)
            asks = [(stored, await _open_attempts(uow, stored.item.reference)) for stored in page]
        if not page:
            break
        after = page[-1].id
        for stored, attempts in asks:
            for attempt in attempts:
                outcome = await status_query(attempt, now)
                if outcome is None:
                    unanswered += 1
                    continue
                if outcome.result is not Result.SUCCEEDED:
                    continue
                applied = await apply_provider_outcome(uow_factory, outcome, callback=None, now=now)
                if applied.verdict is not Verdict.APPLIED or applied.payment is None:
                    continue
                confirmed.append(applied.payment.id)
                note = (
                    (f"{stored.item.note}; " if stored.item.note else "")
                    + f"{attempt.provider.value} confirmed payment {applied.payment.id}: "
                    + ("recorded as a late success; rerun the day to match it")
                )
                async with uow_factory() as uow:
                    await uow.reconciliation.annotate(stored.id, note)
                    await uow.reconciliation.add_history(
                        [
                            HistoryEntry(
                                run.business_date,
                                stored.item_key or "",
                                run.id,
                                "provider_confirmed",
                                SYSTEM,
                                note,
                                now,
                            )
                        ]
                    )
                    await uow.commit()
    return confirmed, unanswered


async def _open_attempts(uow: UnitOfWork, reference: str | None) -> list[Attempt]:
    """The still-open attempts a line's reference names that a provider can be asked about."""
    if reference is None:
        return []
    if reference.startswith("att_"):
        found = await uow.attempts.get(reference)
        attempts = [found] if found is not None else []
    elif reference.startswith("pay_"):
        attempts = list(await uow.attempts.for_payment(reference))
    else:
        found = await uow.attempts.by_provider_ref(Provider.VIETQR, reference)
        attempts = [found] if found is not None else []
    return [a for a in attempts if a.status in OPEN_ATTEMPT and a.provider in QUERYABLE]


# --- the exception workflow ---------------------------------------------------------------


async def resolve_item(
    uow_factory: UnitOfWorkFactory, item_id: int, *, note: str, actor: str, now: datetime
) -> StoredItem:
    note = normalise(note)
    if not note or len(note) > MAX_NOTE:
        raise InvalidInput([FieldProblem("note", f"1 to {MAX_NOTE} characters")])
    problem = text_problem(note)
    if problem:
        raise InvalidInput([FieldProblem("note", problem)])
    async with uow_factory() as uow:
        repo = uow.reconciliation
        stored = await repo.item(item_id, lock=True)
        if stored is None:
            raise NotFound(f"no reconciliation item {item_id}")
        if stored.state is ItemState.CLOSED:
            raise Conflict(f"item {item_id} is {stored.item.outcome.value}: nothing to resolve")
        if stored.state is ItemState.RESOLVED:
            raise Conflict(f"item {item_id} was resolved by {stored.resolved_by}")
        run = await repo.run(stored.run_id)
        if run is None:  # pragma: no cover - foreign key
            raise NotFound(f"run {stored.run_id} is gone")
        await repo.resolve(item_id, Resolution(note, actor, now))
        key = stored.item_key or item_key(stored.item)
        await repo.add_history(
            [HistoryEntry(run.business_date, key, run.id, "resolved", actor, note, now)]
        )
        await uow.audit.record(
            AuditEntry(
                action="reconcile.item_resolved",
                actor=actor,
                occurred_at=now,
                target_type="reconcile_item",
                target_id=str(item_id),
                detail={"outcome": stored.item.outcome.value, "note": note},
            )
        )
        await uow.commit()
        resolved = await repo.item(item_id)
    if resolved is None:  # pragma: no cover - just written
        raise NotFound(f"no reconciliation item {item_id}")
    return resolved


# --- queries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunReport:
    run: RunRecord
    breakdowns: dict[Dimension, list[Breakdown]] = field(default_factory=dict)
    is_latest: bool = True


async def list_runs(
    uow_factory: UnitOfWorkFactory,
    *,
    before_id: int | None = None,
    limit: int = 50,
    business_date: date | None = None,
) -> Sequence[RunRecord]:
    async with uow_factory() as uow:
        return await uow.reconciliation.runs(
            before_id=before_id, limit=limit, business_date=business_date
        )


async def run_report(
    uow_factory: UnitOfWorkFactory,
    run_id: int,
    dimensions: Collection[Dimension] = tuple(Dimension),
) -> RunReport:
    async with uow_factory() as uow:
        repo = uow.reconciliation
        run = await repo.run(run_id)
        if run is None:
            raise NotFound(f"no reconciliation run {run_id}")
        latest = await repo.latest_run(run.business_date)
        breakdowns = {
            d: list(await repo.breakdown(run_id, d)) for d in Dimension if d in dimensions
        }
    return RunReport(run, breakdowns, is_latest=latest is not None and latest.id == run.id)


async def list_items(
    uow_factory: UnitOfWorkFactory,
    run_id: int,
    flt: ItemFilter = ALL_ITEMS,
    *,
    after_id: int | None = None,
    limit: int = 100,
) -> Sequence[StoredItem]:
    async with uow_factory() as uow:
        if await uow.reconciliation.run(run_id) is None:
            raise NotFound(f"no reconciliation run {run_id}")
        return await uow.reconciliation.items(run_id, flt, after_id=after_id, limit=limit)


@dataclass(frozen=True)
class ItemDetail:
    item: StoredItem
    run: RunRecord
    history: Sequence[HistoryEntry]


async def item_detail(uow_factory: UnitOfWorkFactory, item_id: int) -> ItemDetail:
    async with uow_factory() as uow:
        repo = uow.reconciliation
        stored = await repo.item(item_id)
        if stored is None:
            raise NotFound(f"no reconciliation item {item_id}")
        run = await repo.run(stored.run_id)
        if run is None:  # pragma: no cover - foreign key
            raise NotFound(f"run {stored.run_id} is gone")
        history = await repo.history(run.business_date, stored.item_key) if stored.item_key else []
    return ItemDetail(stored, run, history)


CSV_COLUMNS = (
    "item_id",
    "outcome",
    "state",
    "payment_id",
    "line_number",
    "currency",
    "gateway_amount",
    "treasury_amount",
    "reference",
    "batch_reference",
    "agency",
    "treasury_code",
    "chapter",
    "sub_item",
    "provider",
    "booking_date",
    "days_late",
    "note",
    "resolution_note",
    "resolved_by",
    "resolved_at",
)


def _csv_row(stored: StoredItem) -> list[object]:
    i = stored.item
    return [
        stored.id,
        i.outcome.value,
        stored.state.value,
        i.payment_id or "",
        "" if i.line_number is None else i.line_number,
        i.currency,
        "" if i.gateway_amount is None else i.gateway_amount,
        "" if i.treasury_amount is None else i.treasury_amount,
        i.reference or "",
        i.batch_reference or "",
        i.agency or "",
        i.treasury_code or "",
        i.chapter or "",
        i.sub_item or "",
        i.provider or "",
        i.booking_date.isoformat() if i.booking_date else "",
        "" if i.days_late is None else i.days_late,
        _safe_cell(i.note),
        _safe_cell(stored.resolution_note or ""),
        stored.resolved_by or "",
        stored.resolved_at.isoformat() if stored.resolved_at else "",
    ]


def _safe_cell(text: str) -> str:
    # A spreadsheet runs a cell starting with = + - @ as a formula: notes are typed by people.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


async def export_items_csv(
    uow_factory: UnitOfWorkFactory,
    run_id: int,
    flt: ItemFilter = ALL_ITEMS,
    *,
    page: int = 5_000,
) -> AsyncIterator[str]:
    """The run's items as CSV text, a page at a time (never the whole run in memory)."""
    async with uow_factory() as uow:
        if await uow.reconciliation.run(run_id) is None:
            raise NotFound(f"no reconciliation run {run_id}")

    async def chunks() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        after: int | None = None
        while True:
            async with uow_factory() as uow:
                items = await uow.reconciliation.items(run_id, flt, after_id=after, limit=page)
            for stored in items:
                writer.writerow(_csv_row(stored))
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if len(items) < page:
                return
            after = items[-1].id

    return chunks()


async def captured_on(uow_factory: UnitOfWorkFactory, day: date) -> list[GatewayPayment]:
    """The succeeded payments captured on ``day`` (Vietnam calendar day): what the sandbox
    treasury and the simulators' settlement reports are built from."""
    start = datetime.combine(day, time(0), tzinfo=UTC) - VIETNAM_OFFSET
    async with uow_factory() as uow:
        found = await uow.reconciliation.succeeded_payments(start, start + timedelta(days=1))
    return sorted(found.payments, key=lambda p: p.payment_id)

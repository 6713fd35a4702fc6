"""Reconciling a day: ``reconcile_day`` and the loading and matching of its run.

Flow of a day (ARCHITECTURE.md section 6):

1. ``import_statement`` (``reconcile_import``) streams a parsed file into storage, all or
   nothing: a file with any malformed line is rejected whole (every line error listed) and
   nothing is stored; the same bytes imported again for the same source and day store
   nothing new (source, day and content hash).
2. ``reconcile_day`` takes the day's lock, loads the day's treasury lines from storage (every
   statement imported for the day: a day may come in parts; so a rerun sees exactly what the
   first run saw; an import just made may hand its lines over), the newest settlement report
   of each provider imported for the day (``import_settlement``; a corrected report
   supersedes the earlier ones rather than adding to them) and the
   succeeded payments captured in the settlement window (each given the settlement batch its
   provider's report names, ``in_batches``), matches them
   (``payments.reconcile.rules.matching``), and in one transaction stores the run and its items and
   posts the remittance of every newly matched payment to the ledger (``reconcile_write``,
   ``reconcile_remittances``). Resolved items of the day's previous run stay resolved (carried
   by their stable key). A line, the treasury's or a provider's, that names no payment of
   the match but one the gateway knows is tied to it, or is a duplicate of where an earlier
   day matched it (``payments.reconcile.rules.unknown_lines``). The refund lines of the reports
   that list refunds are checked against the refunds the gateway paid
   (``payments.reconcile.rules.refund_matching``); a refund matched for the first time is recorded
   with the run, so a later day's line for it is a duplicate. Afterwards the still-open
   attempts such lines name are asked about at their provider
   (``reconcile_provider_checks``); a confirmed success is applied like any provider answer,
   and the answer labels the item.
3. Staff read the run's report and items and resolve its exceptions (``reconcile_reports``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from operator import attrgetter

from payments.domain.errors import Conflict
from payments.reconcile.formats.settlements import REFUND_KINDS, SettlementLine
from payments.reconcile.formats.statements import StatementLine, paused_gc
from payments.reconcile.ports import (
    PaymentRefunds,
    ReconcileWork,
    ReconcileWorkFactory,
    ReconciliationRepository,
    RunRecord,
    StoredStatement,
)
from payments.reconcile.rules.matching import (
    VIETNAM_OFFSET,
    GatewayPayment,
    MatchConfig,
    MatchItem,
    MatchReport,
    Outcome,
    match_day,
)
from payments.reconcile.rules.refund_matching import match_refunds
from payments.reconcile.rules.unknown_lines import tie_lines, untied_references
from payments.reconcile.usecases.imports import (
    LINE_CHUNK,
    SETTLEMENT_PROVIDERS,
    TREASURY,
    Progress,
    no_progress,
)
from payments.reconcile.usecases.provider_checks import ask_providers
from payments.reconcile.usecases.settlements import agreed_settlements
from payments.reconcile.usecases.write import SYSTEM, DayBooks, write_run
from payments.services.ports import StatusQuery

DEFAULT_CONFIG = MatchConfig()

_BY_PAYMENT_ID = attrgetter("payment_id")  # C-level key: a million payments are sorted


@dataclass(frozen=True)
class DayResult:
    run: RunRecord
    confirmed: tuple[str, ...] = ()  # payments a provider confirmed after the run
    unresolved_queries: int = 0  # attempts unknown lines name that no provider answered for


def capture_span(day: date, config: MatchConfig) -> tuple[datetime, datetime]:
    """Capture times (UTC) of the payments a day's run must see: those due on the day or in
    the settlement window before it, and those captured up to the end of the next day (an
    early booking still finds its payment)."""
    calendar = config.calendar
    first = calendar.add_business_days(day, -(config.window_days + config.settlement_days + 1))
    start_local = datetime.combine(first - timedelta(days=1), time(0), tzinfo=UTC)
    end_local = datetime.combine(day + timedelta(days=2), time(0), tzinfo=UTC)
    return start_local - VIETNAM_OFFSET, end_local - VIETNAM_OFFSET


async def reconcile_day(
    uow_factory: ReconcileWorkFactory,
    day: date,
    *,
    now: datetime,
    config: MatchConfig = DEFAULT_CONFIG,
    settlements: Sequence[SettlementLine] = (),
    settlement_providers: Collection[str] | None = None,
    actor: str = SYSTEM,
    status_query: StatusQuery | None = None,
    progress: Progress = no_progress,
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
    confirmed, unanswered = await ask_providers(uow_factory, run, status_query, now)
    return DayResult(run, tuple(confirmed), unanswered)


async def _run_day(
    uow: ReconcileWork,
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
    reported = await _reported(repo, day, settlements, settlement_providers)
    reports, providers, settlements = reported.reports, reported.providers, reported.payments
    await repo.lock_settlements(exclusive=True)  # no refund lands while they are booked
    loaded = await repo.succeeded_payments(*capture_span(day, config))
    if loaded.refunds:
        loaded.payments = owed_to_the_treasury(loaded.payments, loaded.refunds)
    # The providers' settlements are booked from every payment of the span, also those the
    # treasury confirmed on an earlier day (whose remittance waits for this).
    books = DayBooks(
        loaded.remitted_on,
        agreed_settlements(settlements, loaded.payments, loaded.settled_on, loaded.refunds),
        [p for p in loaded.payments if p.payment_id in loaded.awaiting] if loaded.awaiting else [],
        loaded.settled_on,
    )
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
        confirmed_earlier=books.awaiting,
        settled_earlier={pid for pid, on in loaded.settled_on.items() if on < day},
    )
    del lines, payments, loaded  # the items carry what the rest needs
    # Lines naming no payment of the match may still name one the gateway knows.
    references = untied_references(report.items)
    if references:
        report = tie_lines(report, await repo.named_payments(references))
    if reported.refund_providers:
        refund_items, first_matched = await _refund_items(
            repo, day, config, reported.refunds, reported.refund_providers
        )
        books = replace(books, refunds_matched=first_matched)
        report = MatchReport(
            report.business_date,
            report.items + tuple(refund_items),
            report.matched_gateway_total,
            report.matched_treasury_total,
        )
    progress("match", len(report.items))
    return await write_run(
        uow, day, now, config, actor, progress, report, books, statements, reports, providers
    )


@dataclass(frozen=True)
class _Reported:
    """What the providers' reports of a day say: which reports, whose (every provider with a
    report, or named by the caller), their payment lines, and their refund lines with the
    providers whose reports list refunds."""

    reports: list[StoredStatement]
    providers: set[str]
    payments: list[SettlementLine]
    refunds: list[SettlementLine]
    refund_providers: set[str]


async def _reported(
    repo: ReconciliationRepository,
    day: date,
    settlements: Sequence[SettlementLine],
    settlement_providers: Collection[str] | None,
) -> _Reported:
    """Settlement reports stored for the day, plus any lines given in memory: three-way check.
    Only the newest report of each provider: a corrected one replaces the earlier, whose lines
    would otherwise read as the provider listing its captures twice."""
    providers = set(settlement_providers or ()) | {s.provider for s in settlements}
    latest = {r.source: r for r in await repo.latest_settlement_reports(day)}
    reports = [latest[p] for p in SETTLEMENT_PROVIDERS if p in latest]
    providers.update(report.source for report in reports)
    # One query for every provider's lines, put in the providers' order as before (a stable
    # sort keeps each report's line order), so that a rerun's items come out the same.
    order = {provider: at for at, provider in enumerate(SETTLEMENT_PROVIDERS)}
    stored = sorted(
        await repo.settlement_lines_of([report.id for report in reports]),
        key=lambda line: order[line.provider],
    )
    # A report's refund lines are checked on their own (a refund is no capture); only the
    # reports that list refunds say anything about the gateway's refunds.
    every = [*stored, *settlements]
    # The kind, not the is_refund property: a field read in C, a national day has a million.
    refunds = [s for s in every if s.kind in REFUND_KINDS]
    payments = [s for s in every if s.kind not in REFUND_KINDS] if refunds else every
    refund_providers = {r.source for r in reports if r.lists_refunds}
    refund_providers.update(s.provider for s in settlements if s.is_refund)
    refunds = [s for s in refunds if s.provider in refund_providers]
    return _Reported(reports, providers, payments, refunds, refund_providers)


async def _refund_items(
    repo: ReconciliationRepository,
    day: date,
    config: MatchConfig,
    lines: Sequence[SettlementLine],
    providers: Collection[str],
) -> tuple[list[MatchItem], list[tuple[str, str]]]:
    """The day's refund items, and the refunds matched for the first time (refund id,
    provider): the succeeded refunds of the span at those providers, and whatever refund a
    line names, are checked against the refund lines."""
    found = {
        r.refund_id: r for r in await repo.settled_refunds(*capture_span(day, config), providers)
    }
    if lines:
        named = await repo.named_refunds({line.payment_reference for line in lines})
        for refund in named.values():
            found.setdefault(refund.refund_id, refund)
    refunds = sorted(found.values(), key=lambda r: r.refund_id)
    items = match_refunds(day, refunds, lines, providers=providers, config=config)
    first = [
        (item.refund_id, item.provider)
        for item in items
        if item.outcome is Outcome.REFUND_MATCHED
        and item.refund_id is not None
        and item.provider is not None
        and found[item.refund_id].matched is None
    ]
    return items, first


def owed_to_the_treasury(
    payments: list[GatewayPayment], refunds: dict[str, PaymentRefunds]
) -> list[GatewayPayment]:
    """The payments with what the treasury is owed for each: a refund paid back out of the
    budget's share before the money left the provider leaves the treasury owed the rest (the
    provider settles that much, and the statement carries that much), while the provider's
    report still lists the gross it captured."""
    return [
        p
        if (paid := refunds.get(p.payment_id)) is None or not paid.paid_from_budget
        else p._replace(amount=p.amount - paid.paid_from_budget, gross_amount=p.amount)
        for p in payments
    ]


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


def _drained(lines: list[StatementLine]) -> Iterator[StatementLine]:
    """The lines in order, taken out of ``lines`` a chunk at a time: the lines and the payments
    are the run's two largest structures (a million records each) and the items grow while
    matching; letting each line go once read keeps the three from peaking together."""
    while lines:
        chunk = lines[:LINE_CHUNK]
        del lines[:LINE_CHUNK]
        yield from chunk
        del chunk


async def captured_on(uow_factory: ReconcileWorkFactory, day: date) -> list[GatewayPayment]:
    """The succeeded payments captured on ``day`` (Vietnam calendar day): what the sandbox
    treasury and the simulators' settlement reports are built from."""
    start = datetime.combine(day, time(0), tzinfo=UTC) - VIETNAM_OFFSET
    async with uow_factory() as uow:
        found = await uow.reconciliation.succeeded_payments(start, start + timedelta(days=1))
    return sorted(found.payments, key=lambda p: p.payment_id)

"""Importing a day's statements: the treasury's statement (``import_statement``) and the
providers' settlement reports (``import_settlement``), each stored all or nothing and once per
content, so that every run of the day, and every rerun, reads exactly what was imported.

``import_statement`` streams a parsed file into storage: a file with any malformed line is
rejected whole (the first line errors listed, all counted) and nothing is stored, as is a camt
file whose header period does not cover the business day; the same bytes imported again for the
same source and business day store nothing new (source, day and content hash: another day's
identical file, such as two days' header-only reports, is that day's own), also when two
imports of them run at once (the storage's ``complete_statement`` answers with the other one).

The treasury's statements of a day accumulate: a day may come in parts (camt.054
notifications, then the camt.053) and a run reads them all. A provider's settlement report is
one file a day: a report completed later for the same provider and day (a corrected file, a
later fetch or upload, whoever made it) supersedes the earlier ones, and a run reads only the
newest (``latest_settlement_reports``); the supersession is logged and audited.

Both parse on the caller's event loop: the worker and the CLI run them there; the web
entrypoints move a large upload onto a thread with a loop of its own
(``entrypoints.statement_upload.import_file``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

import structlog

from payments.domain.errors import NotFound
from payments.domain.events import AuditEntry
from payments.reconcile.formats.settlements import LAYOUTS, LineKind, SettlementReport
from payments.reconcile.formats.statements import (
    Direction,
    Statement,
    StatementError,
    StatementFormat,
    StatementLine,
    StatementReader,
    check_total,
    paused_gc,
)
from payments.reconcile.ports import NewStatement, ReconcileWorkFactory, StoredStatement

TREASURY = "treasury"
SETTLEMENT_PROVIDERS = tuple(LAYOUTS)  # statement sources that are provider settlement reports
LINE_CHUNK = 50_000  # statement lines per progress report (import) and per handover (matching)

Progress = Callable[[str, int], None]  # (phase, units done in that phase)
Clock = Callable[[], datetime]

log = structlog.get_logger()


def no_progress(_phase: str, _done: int) -> None:
    return None


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
    uow_factory: ReconcileWorkFactory,
    reader: StatementReader,
    *,
    business_date: date,
    actor: str,
    now: datetime,
    source: str = TREASURY,
    progress: Progress = no_progress,
    keep_lines: bool = False,
    clock: Clock | None = None,
) -> Imported:
    """Stream the reader's lines into storage; StatementError (nothing stored) when any line
    or the file is malformed, or when a camt file's period is not ``business_date``.

    The lines go to storage as one stream while the file is parsed (PostgreSQL: one COPY
    fed by the parser): the database stores a part while the next is being parsed, in one
    thread (a national day is a million lines; either side alone takes seconds). The parsing
    runs on the caller's event loop (see the module's docstring). ``clock``: the statement's
    ``imported_at`` is taken from it when the import completes (else ``now``).
    """
    reading = _Reading(reader, keep_lines, progress)
    async with uow_factory() as uow:
        statement_id = await uow.reconciliation.open_statement(source, business_date, now, actor)
        with paused_gc():
            await uow.reconciliation.add_lines(statement_id, reading.lines())
        if reader.errors:
            raise StatementError.from_line_errors(reader.errors)
        check_total(reading.credits, "credits")
        check_total(reading.debits, "debits")
        kept = reading.kept
        header = reader.statement
        _check_period(header, business_date)
        completed_at = clock() if clock is not None else now
        earlier = await uow.reconciliation.complete_statement(
            statement_id,
            NewStatement(
                header, business_date, reading.credits, reading.debits, completed_at, actor
            ),
        )
        if earlier is not None:  # the same bytes, imported before or by a concurrent import
            kept = kept if kept is None else await uow.reconciliation.lines_of([earlier.id])
            return Imported(earlier, False, kept)  # leaving rolls the new rows back
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
        stored = await uow.reconciliation.statement_by_content(
            source, business_date, header.content_hash
        )
    if stored is None:  # pragma: no cover - committed just above
        raise NotFound("the imported statement vanished")
    return Imported(stored, True, kept)


def _check_period(header: Statement, business_date: date) -> None:
    """A camt statement says which days it covers (FrToDt): refuse one that is not of the
    business day, whose lines would all be read as that day's duplicates or unknowns. A CSV
    file has no period (its booking dates may straddle the day: late bookings)."""
    if header.format is StatementFormat.CSV:
        return
    start, end = header.period_start, header.period_end
    if (start is not None and business_date < start) or (end is not None and business_date > end):
        covers = f"{start or '...'}..{end or '...'}"
        raise StatementError(f"the statement covers {covers}, not {business_date.isoformat()}")


async def import_settlement(
    uow_factory: ReconcileWorkFactory,
    report: SettlementReport,
    *,
    business_date: date,
    actor: str,
    now: datetime,
    clock: Clock | None = None,
) -> Imported:
    """Store a provider's settlement report of a day (all or nothing, once per content for
    the provider and day), so that every run of the day, and every rerun, checks the provider
    three ways. Different bytes for a provider and day already reported are a corrected
    report: stored, and from then on the one the day's runs read (the latest completed wins,
    whoever imported it: ``imported_at``, taken from ``clock`` when the import completes, else
    ``now``); the report it supersedes is logged and audited."""
    lines = report.require_clean()
    # The report's totals are its captures' (gross) and every line's fees; the refunds it
    # paid out are lines of their own, checked by the run.
    gross = sum(line.amount for line in lines if line.kind is LineKind.PAYMENT)
    fees = sum(line.fee for line in lines)
    check_total(gross, "payments")
    check_total(fees, "fees")
    async with uow_factory() as uow:
        repo = uow.reconciliation
        earlier = await repo.statement_by_content(
            report.provider, business_date, report.content_hash
        )
        if earlier is not None:
            return Imported(earlier, created=False)
        # Read at the start: two different reports of one provider and day imported at once
        # may both name the same predecessor in the log and audit (best effort); what runs
        # read is decided by the completion stamps, and is right either way.
        previous = next(
            (
                r
                for r in await repo.latest_settlement_reports(business_date)
                if r.source == report.provider
            ),
            None,
        )
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
        completed_at = clock() if clock is not None else now
        new = NewStatement(
            header, business_date, gross, fees, completed_at, actor, report.lists_refunds
        )
        earlier = await repo.complete_statement(statement_id, new)
        if earlier is not None:  # a concurrent import of the same bytes completed first
            return Imported(earlier, created=False)  # leaving rolls the new rows back
        await uow.audit.record(
            AuditEntry(
                action="reconcile.settlement_imported",
                actor=actor,
                occurred_at=completed_at,
                target_type="statement",
                target_id=str(statement_id),
                detail={"provider": report.provider, "business_date": business_date.isoformat()},
            )
        )
        superseded = _supersession(previous, statement_id, completed_at)
        if superseded is not None:
            await uow.audit.record(
                AuditEntry(
                    action="reconcile.settlement_superseded",
                    actor=actor,
                    occurred_at=completed_at,
                    target_type="statement",
                    target_id=str(superseded[0]),
                    detail={
                        "provider": report.provider,
                        "business_date": business_date.isoformat(),
                        "superseded_by": superseded[1],
                    },
                )
            )
        await uow.commit()
        stored = await repo.statement_by_content(
            report.provider, business_date, report.content_hash
        )
    if stored is None:  # pragma: no cover - written just above
        raise NotFound("the imported settlement report vanished")
    if superseded is not None:
        log.info(
            "settlement_report_superseded",
            provider=report.provider,
            business_date=business_date.isoformat(),
            old_statement=superseded[0],
            new_statement=superseded[1],
        )
    return Imported(stored, created=True)


def _supersession(
    previous: StoredStatement | None, statement_id: int, completed_at: datetime
) -> tuple[int, int] | None:
    """(superseded id, newest id) when the provider had a report of the day already: the
    one completed later wins (id breaks a tie), as ``latest_settlement_reports`` reads it;
    normally the new one, unless its stamp is older (a caller's ``now`` from before)."""
    if previous is None:
        return None
    if (completed_at, statement_id) > (previous.imported_at, previous.id):
        return previous.id, statement_id
    return statement_id, previous.id

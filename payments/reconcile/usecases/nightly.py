"""The night: fetch the day's treasury statement and each provider's settlement report, import
them (the same file again imports nothing), reconcile the day once. Safe to run twice.

Over two ports, so the night's rules do not depend on where the files come from: a
``StatementSource`` (the treasury's endpoint, over HTTP, in ``sources.treasury``) and one
``ReportSource`` per provider (``sources.settlement_reports``). Without the treasury statement
there is no run (``StatementUnavailable``; the daily job is retried). A provider report that
cannot be had never stops the night: the day is reconciled without it (a provider with no
report stored for the day gets no provider-side item, rather than every payment reading
``provider_missing``), its outcome says why, and a rerun once it is there fills that side.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path

from payments.reconcile.formats.settlements import read_settlement
from payments.reconcile.formats.statements import StatementError, StatementReader
from payments.reconcile.ports import (
    ReconcileWorkFactory,
    ReportSkipped,
    ReportSource,
    ReportUnavailable,
    StatementSource,
)
from payments.reconcile.rules.matching import MatchConfig
from payments.reconcile.usecases.day import DayResult, reconcile_day
from payments.reconcile.usecases.imports import (
    Clock,
    Imported,
    import_settlement,
    import_statement,
)
from payments.services.ports import StatusQuery


class ReportStatus(StrEnum):
    IMPORTED = "imported"
    ALREADY_IMPORTED = "already imported"  # the same bytes were imported before
    SKIPPED = "skipped"  # no URL configured for the provider
    FAILED = "failed"  # unreachable, not 200, or refused by the parser


@dataclass(frozen=True)
class ReportOutcome:
    provider: str
    status: ReportStatus
    reason: str = ""  # why skipped or failed
    lines: int = 0

    @classmethod
    def of(cls, provider: str, imported: Imported) -> ReportOutcome:
        """A report imported (fetched or from a file): new, or the same bytes again."""
        status = ReportStatus.IMPORTED if imported.created else ReportStatus.ALREADY_IMPORTED
        return cls(provider, status, lines=imported.statement.line_count)


@dataclass(frozen=True)
class FetchedDay:
    """The day's treasury statement as imported, and each provider's report's outcome."""

    statement: Imported
    reports: tuple[ReportOutcome, ...]


@dataclass(frozen=True)
class NightResult:
    """A night's work: the day's run, and what became of each provider's settlement report."""

    day: DayResult
    reports: tuple[ReportOutcome, ...] = ()

    @property
    def missing_reports(self) -> list[str]:
        """Providers whose report could not be fetched or imported: rerun the day once it is
        there (the treasury side is done; only the provider side waits for it)."""
        return [r.provider for r in self.reports if r.status is ReportStatus.FAILED]


StatementImport = Callable[[Path], Awaitable[Imported]]


async def fetch_day(
    uow_factory: ReconcileWorkFactory,
    statements: StatementSource,
    reports: Sequence[ReportSource],
    day: date,
    *,
    read_statement: Callable[[Path], StatementReader],
    now: datetime,
    actor: str,
    import_file: StatementImport | None = None,
    clock: Clock | None = None,
) -> FetchedDay:
    """Fetch and import the day's treasury statement, then each of ``reports``, one after the
    other. ``import_file`` imports the statement its own way (the CLI's progress bar); by
    default plainly, read by ``read_statement``.

    StatementUnavailable without the statement (nothing fetched after it); a report that
    cannot be had is only its outcome."""

    async def plainly(path: Path) -> Imported:
        return await import_statement(
            uow_factory, read_statement(path), business_date=day, actor=actor, now=now, clock=clock
        )

    with tempfile.TemporaryDirectory(prefix="statement-") as name:
        folder = Path(name)
        path = await statements.fetch(day, folder / f"statement-{day.isoformat()}")
        imported = await (import_file or plainly)(path)
        path.unlink()  # a statement is large; the reports need the room
        outcomes = [
            await fetch_report(uow_factory, source, day, folder, now=now, actor=actor, clock=clock)
            for source in reports
        ]
    return FetchedDay(imported, tuple(outcomes))


async def fetch_report(
    uow_factory: ReconcileWorkFactory,
    source: ReportSource,
    day: date,
    folder: Path,
    *,
    now: datetime,
    actor: str,
    clock: Clock | None = None,
) -> ReportOutcome:
    """Fetch, parse and import ``source``'s report of ``day``; never raises for a report that
    cannot be had (the outcome says why), only for the database's own failures."""
    path = folder / f"{source.provider}-{day.isoformat()}.csv"
    try:
        await source.fetch(day, path)
        report = read_settlement(source.provider, path)
        imported = await import_settlement(
            uow_factory, report, business_date=day, actor=actor, now=now, clock=clock
        )
    except ReportSkipped as exc:
        return ReportOutcome(source.provider, ReportStatus.SKIPPED, exc.detail)
    except ReportUnavailable as exc:
        return ReportOutcome(source.provider, ReportStatus.FAILED, exc.detail)
    except StatementError as exc:
        reason = f"the {source.provider} settlement report was refused: {exc.detail}"
        return ReportOutcome(source.provider, ReportStatus.FAILED, reason)
    except csv.Error as exc:  # not CSV at all (a NUL byte, an endless field)
        reason = f"the {source.provider} settlement report was refused: {exc}"
        return ReportOutcome(source.provider, ReportStatus.FAILED, reason)
    finally:
        path.unlink(missing_ok=True)  # a report is large; the next one needs the room
    return ReportOutcome.of(source.provider, imported)


async def reconcile_night(
    uow_factory: ReconcileWorkFactory,
    statements: StatementSource,
    reports: Sequence[ReportSource],
    day: date,
    *,
    read_statement: Callable[[Path], StatementReader],
    config: MatchConfig,
    now: datetime,
    actor: str,
    status_query: StatusQuery | None = None,
    clock: Clock | None = None,
) -> NightResult:
    """The nightly job: the day's files fetched and imported (``fetch_day``), then one run."""
    fetched = await fetch_day(
        uow_factory,
        statements,
        reports,
        day,
        read_statement=read_statement,
        now=now,
        actor=actor,
        clock=clock,
    )
    result = await reconcile_day(
        uow_factory, day, now=now, config=config, actor=actor, status_query=status_query
    )
    return NightResult(result, fetched.reports)

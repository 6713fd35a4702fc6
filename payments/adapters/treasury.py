"""The treasury statement source, the reconciliation's configuration and the nightly run.

The statement is fetched with httpx from ``PAYMENTS_TREASURY_STATEMENT_URL`` (``GET
?date=YYYY-MM-DD&format=csv|camt``, bearer token) and streamed to a file: a national day is a
hundred megabytes, which must not sit in memory next to the matching. The providers'
settlement reports come the same way (``settlement_reports``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

import httpx

from payments.adapters.downloads import DownloadFailed, download
from payments.adapters.settlement_reports import (
    ReportOutcome,
    ReportStatus,
    SettlementSource,
    fetch_settlement_reports,
    settlement_sources,
)
from payments.domain import strict_json
from payments.domain.errors import PaymentsError
from payments.domain.schedule import parse_local_time
from payments.ledger.chart import HOME_CURRENCY
from payments.reconcile.camt import read_camt
from payments.reconcile.csv_format import DEFAULT_MAPPING, CsvMapping, read_csv
from payments.reconcile.matching import MatchConfig
from payments.reconcile.settlements import SETTLEMENT_MAX_BYTES
from payments.reconcile.statements import StatementReader
from payments.services.ports import StatusQuery, UnitOfWorkFactory
from payments.services.reconcile_day import DayResult, reconcile_day
from payments.services.reconcile_import import Clock, Imported, import_statement
from payments.services.reconcile_write import SYSTEM
from payments.settings import Settings

FORMATS = ("csv", "camt")  # the treasury statement's formats (``statement_reader``)


class StatementUnavailable(PaymentsError):
    title = "Treasury statement unavailable"


class BadStatementConfiguration(PaymentsError):
    title = "Bad statement configuration"


def match_config(settings: Settings) -> MatchConfig:
    return MatchConfig(
        cutoff=parse_local_time(settings.reconcile_cutoff),
        window_days=settings.settlement_window_days,
    )


def csv_mapping(settings: Settings) -> CsvMapping:
    """``PAYMENTS_STATEMENT_CSV_MAPPING``: inline JSON, or the path of a JSON file."""
    raw = settings.statement_csv_mapping
    if raw is None or not raw.strip():
        return DEFAULT_MAPPING
    text = raw.strip()
    try:
        if not text.startswith("{"):
            text = Path(text).read_text(encoding="utf-8")
        data = strict_json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("the mapping must be a JSON object")
        return CsvMapping.from_dict(data)
    except (OSError, ValueError, LookupError) as exc:
        raise BadStatementConfiguration(f"PAYMENTS_STATEMENT_CSV_MAPPING: {exc}") from exc


def statement_reader(
    source: BinaryIO | Path, fmt: str, mapping: CsvMapping = DEFAULT_MAPPING
) -> StatementReader:
    # Treasury collection accounts are in VND: a statement in another currency is refused,
    # and an empty day's statement (no line to tell) is still a VND statement.
    if fmt == "csv":
        return read_csv(source, mapping, expected_currency=HOME_CURRENCY)
    if fmt == "camt":
        return read_camt(source, expected_currency=HOME_CURRENCY)
    raise BadStatementConfiguration(f"unknown statement format {fmt!r}: csv or camt")


class TreasuryStatementSource:
    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        token: str | None,
        *,
        max_bytes: int,
        timeout_seconds: int = 120,
    ) -> None:
        self._http = http
        self._url = url
        self._token = token
        self._max_bytes = max_bytes
        self._timeout_seconds = timeout_seconds

    async def fetch(self, day: date, fmt: str, destination: Path) -> Path:
        """Download the statement of ``day`` to ``destination``; StatementUnavailable when the
        endpoint cannot be reached or does not answer 200."""
        if not self._url:
            raise StatementUnavailable("PAYMENTS_TREASURY_STATEMENT_URL is not set")
        try:
            return await download(
                self._http,
                self._url,
                destination,
                params={"date": day.isoformat(), "format": fmt},
                token=self._token,
                timeout_seconds=self._timeout_seconds,
                max_bytes=self._max_bytes,
            )
        except DownloadFailed as exc:
            raise StatementUnavailable(
                f"the treasury endpoint {exc.reason} for {day.isoformat()}"
            ) from exc


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


@dataclass(frozen=True)
class FetchedDay:
    """The day's treasury statement as imported, and each provider's report's outcome."""

    statement: Imported
    reports: tuple[ReportOutcome, ...]


StatementImport = Callable[[Path], Awaitable[Imported]]


async def fetch_day(
    uow_factory: UnitOfWorkFactory,
    http: httpx.AsyncClient,
    settings: Settings,
    day: date,
    *,
    now: datetime,
    actor: str,
    sources: Sequence[SettlementSource],
    fmt: str | None = None,
    import_file: StatementImport | None = None,
    clock: Clock | None = None,
) -> FetchedDay:
    """Fetch the day's treasury statement (in ``fmt``, by default
    ``PAYMENTS_STATEMENT_FORMAT``) and import it, then fetch and import each of ``sources``'
    settlement reports, every file under ``PAYMENTS_STATEMENT_MAX_BYTES``: the nightly job's
    and ``payments reconcile --fetch``'s first step. ``import_file`` imports the statement
    its own way (the CLI's progress bar); by default plainly.

    StatementUnavailable without the statement (nothing fetched after it); a report that
    cannot be had is only its outcome (``fetch_settlement_report``)."""
    fmt = fmt or settings.statement_format
    max_bytes = settings.statement_max_bytes
    mapping = csv_mapping(settings)  # a bad one refused before anything is fetched
    source = TreasuryStatementSource(
        http, settings.statement_url, settings.treasury_statement_token, max_bytes=max_bytes
    )

    async def plainly(path: Path) -> Imported:
        reader = statement_reader(path, fmt, mapping)
        return await import_statement(
            uow_factory, reader, business_date=day, actor=actor, now=now, clock=clock
        )

    with tempfile.TemporaryDirectory(prefix="statement-") as name:
        folder = Path(name)
        path = await source.fetch(day, fmt, folder / f"statement-{day.isoformat()}.{fmt}")
        imported = await (import_file or plainly)(path)
        path.unlink()  # a statement is large; the reports need the room
        reports = await fetch_settlement_reports(
            uow_factory,
            http,
            sources,
            day,
            folder,
            now=now,
            actor=actor,
            # A report is read whole: refused at its own cap as it downloads, not after.
            max_bytes=min(max_bytes, SETTLEMENT_MAX_BYTES),
            clock=clock,
        )
    return FetchedDay(imported, tuple(reports))


async def fetch_and_reconcile(
    uow_factory: UnitOfWorkFactory,
    http: httpx.AsyncClient,
    settings: Settings,
    day: date,
    *,
    now: datetime,
    status_query: StatusQuery | None = None,
    actor: str = SYSTEM,
    clock: Clock | None = None,
) -> NightResult:
    """The nightly job: fetch the day's treasury statement and every configured provider's
    settlement report, import them (the same file again imports nothing), reconcile the day
    once. Safe to run twice for the same day.

    Without the treasury statement there is no run: StatementUnavailable (the daily job is
    then retried). A provider report that cannot be had does not stop the run: the day is
    reconciled without it (a provider with no report stored for the day gets no provider-side
    item, rather than every payment reading ``provider_missing``) and
    ``missing_reports`` names it, so that a rerun once it is there fills the provider side.
    """
    fetched = await fetch_day(
        uow_factory,
        http,
        settings,
        day,
        now=now,
        actor=actor,
        sources=settlement_sources(settings),
        clock=clock,
    )
    result = await reconcile_day(
        uow_factory,
        day,
        now=now,
        config=match_config(settings),
        actor=actor,
        status_query=status_query,
    )
    return NightResult(result, fetched.reports)

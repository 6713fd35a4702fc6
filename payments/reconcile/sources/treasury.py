"""The treasury statement source, the reconciliation's configuration, and the night wired to
them.

The statement is fetched with httpx from ``PAYMENTS_TREASURY_STATEMENT_URL`` (``GET
?date=YYYY-MM-DD&format=csv|camt``, bearer token) and streamed to a file: a national day is a
hundred megabytes, which must not sit in memory next to the matching. The providers'
settlement reports come the same way (``settlement_reports``). What the night does with them
is the use case ``usecases.nightly``; here it is given its sources from the settings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

import httpx

from payments.domain import strict_json
from payments.domain.errors import PaymentsError
from payments.domain.schedule import parse_local_time
from payments.ledger.chart import HOME_CURRENCY
from payments.reconcile.formats.camt import read_camt
from payments.reconcile.formats.csv_format import DEFAULT_MAPPING, CsvMapping, read_csv
from payments.reconcile.formats.settlements import SETTLEMENT_MAX_BYTES
from payments.reconcile.formats.statements import StatementReader
from payments.reconcile.ports import ReconcileWorkFactory, StatementUnavailable
from payments.reconcile.rules.matching import MatchConfig
from payments.reconcile.sources.downloads import DownloadFailed, download
from payments.reconcile.sources.settlement_reports import (
    HttpReportSource,
    SettlementSource,
    settlement_sources,
)
from payments.reconcile.usecases import nightly
from payments.reconcile.usecases.imports import Clock
from payments.reconcile.usecases.nightly import FetchedDay, NightResult, StatementImport
from payments.reconcile.usecases.write import SYSTEM
from payments.services.ports import StatusQuery
from payments.settings import Settings

FORMATS = ("csv", "camt")  # the treasury statement's formats (``statement_reader``)


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
    """The treasury's statement endpoint: a ``StatementSource`` over HTTP."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        token: str | None,
        *,
        fmt: str,
        max_bytes: int,
        timeout_seconds: int = 120,
    ) -> None:
        self._http = http
        self._url = url
        self._token = token
        self._fmt = fmt
        self._max_bytes = max_bytes
        self._timeout_seconds = timeout_seconds

    async def fetch(self, day: date, destination: Path) -> Path:
        """Download the statement of ``day`` next to ``destination`` (suffixed with its
        format); StatementUnavailable when the endpoint cannot be reached or does not answer
        200."""
        if not self._url:
            raise StatementUnavailable("PAYMENTS_TREASURY_STATEMENT_URL is not set")
        try:
            return await download(
                self._http,
                self._url,
                destination.with_name(f"{destination.name}.{self._fmt}"),
                params={"date": day.isoformat(), "format": self._fmt},
                token=self._token,
                timeout_seconds=self._timeout_seconds,
                max_bytes=self._max_bytes,
            )
        except DownloadFailed as exc:
            raise StatementUnavailable(
                f"the treasury endpoint {exc.reason} for {day.isoformat()}"
            ) from exc


@dataclass(frozen=True)
class NightSources:
    """The night's ports, built from the settings."""

    statements: TreasuryStatementSource
    reports: list[HttpReportSource]
    read_statement: Callable[[Path], StatementReader]


def night_sources(
    http: httpx.AsyncClient,
    settings: Settings,
    sources: Sequence[SettlementSource],
    fmt: str | None = None,
) -> NightSources:
    """The treasury statement in ``fmt`` (by default ``PAYMENTS_STATEMENT_FORMAT``) and
    ``sources``' reports, every file under ``PAYMENTS_STATEMENT_MAX_BYTES``; a bad CSV mapping
    is refused here, before anything is fetched."""
    fmt = fmt or settings.statement_format
    max_bytes = settings.statement_max_bytes
    mapping = csv_mapping(settings)
    statements = TreasuryStatementSource(
        http, settings.statement_url, settings.treasury_statement_token, fmt=fmt,
        max_bytes=max_bytes,
    )  # fmt: skip
    # A report is read whole: refused at its own cap as it downloads, not after.
    report_bytes = min(max_bytes, SETTLEMENT_MAX_BYTES)
    reports = [HttpReportSource(http, source, max_bytes=report_bytes) for source in sources]
    return NightSources(statements, reports, lambda path: statement_reader(path, fmt, mapping))


async def fetch_day(
    uow_factory: ReconcileWorkFactory,
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
    """``nightly.fetch_day`` from the configured endpoints: ``payments reconcile --fetch``'s
    first step."""
    wired = night_sources(http, settings, sources, fmt)
    return await nightly.fetch_day(
        uow_factory,
        wired.statements,
        wired.reports,
        day,
        read_statement=wired.read_statement,
        now=now,
        actor=actor,
        import_file=import_file,
        clock=clock,
    )


async def fetch_and_reconcile(
    uow_factory: ReconcileWorkFactory,
    http: httpx.AsyncClient,
    settings: Settings,
    day: date,
    *,
    now: datetime,
    status_query: StatusQuery | None = None,
    actor: str = SYSTEM,
    clock: Clock | None = None,
) -> NightResult:
    """The nightly job (``nightly.reconcile_night``) on the configured statement and report
    endpoints: fetch, import, reconcile the day once. Safe to run twice for the same day;
    StatementUnavailable without the treasury statement (the daily job is then retried)."""
    wired = night_sources(http, settings, settlement_sources(settings))
    return await nightly.reconcile_night(
        uow_factory,
        wired.statements,
        wired.reports,
        day,
        read_statement=wired.read_statement,
        config=match_config(settings),
        now=now,
        actor=actor,
        status_query=status_query,
        clock=clock,
    )

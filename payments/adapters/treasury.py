"""The treasury statement source and the reconciliation's configuration.

The statement is fetched with httpx from ``PAYMENTS_TREASURY_STATEMENT_URL`` (``GET
?date=YYYY-MM-DD&format=csv|camt``, bearer token) and streamed to a file: a national day is a
hundred megabytes, which must not sit in memory next to the matching.
"""

from __future__ import annotations

import json
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

import httpx

from payments.domain.errors import PaymentsError
from payments.domain.schedule import parse_local_time
from payments.ledger.chart import HOME_CURRENCY
from payments.reconcile.camt import read_camt
from payments.reconcile.csv_format import DEFAULT_MAPPING, CsvMapping, read_csv
from payments.reconcile.matching import MatchConfig
from payments.reconcile.statements import StatementReader
from payments.services.ports import StatusQuery, UnitOfWorkFactory
from payments.services.reconcile_day import DayResult, reconcile_day
from payments.services.reconcile_import import import_statement
from payments.services.reconcile_write import SYSTEM
from payments.settings import Settings

FORMATS = ("csv", "camt")


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
        data = json.loads(text)
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
        self, http: httpx.AsyncClient, url: str, token: str | None, *, timeout_seconds: int = 120
    ) -> None:
        self._http = http
        self._url = url
        self._token = token
        self._timeout_seconds = timeout_seconds

    async def fetch(self, day: date, fmt: str, destination: Path) -> Path:
        """Download the statement of ``day`` to ``destination``; StatementUnavailable when the
        endpoint cannot be reached or does not answer 200."""
        if not self._url:
            raise StatementUnavailable("PAYMENTS_TREASURY_STATEMENT_URL is not set")
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        params = {"date": day.isoformat(), "format": fmt}
        try:
            async with self._http.stream(
                "GET", self._url, params=params, headers=headers, timeout=self._timeout_seconds
            ) as response:
                if response.status_code != 200:
                    raise StatementUnavailable(
                        f"the treasury answered {response.status_code} for {day.isoformat()}"
                    )
                with destination.open("wb") as out:
                    async for chunk in response.aiter_bytes(1 << 20):
                        out.write(chunk)
        except httpx.HTTPError as exc:
            raise StatementUnavailable(f"the treasury endpoint failed: {exc!r}") from exc
        return destination


async def fetch_and_reconcile(
    uow_factory: UnitOfWorkFactory,
    http: httpx.AsyncClient,
    settings: Settings,
    day: date,
    *,
    now: datetime,
    status_query: StatusQuery | None = None,
    actor: str = SYSTEM,
) -> DayResult:
    """The nightly job: fetch the day's statement, import it (the same file again imports
    nothing), reconcile the day. Safe to run twice for the same day."""
    fmt = settings.statement_format
    source = TreasuryStatementSource(
        http, settings.statement_url, settings.treasury_statement_token
    )
    mapping = csv_mapping(settings)
    with tempfile.TemporaryDirectory(prefix="statement-") as folder:
        path = await source.fetch(day, fmt, Path(folder) / f"statement-{day.isoformat()}.{fmt}")
        await import_statement(
            uow_factory,
            statement_reader(path, fmt, mapping),
            business_date=day,
            actor=actor,
            now=now,
        )
    return await reconcile_day(
        uow_factory,
        day,
        now=now,
        config=match_config(settings),
        actor=actor,
        status_query=status_query,
    )

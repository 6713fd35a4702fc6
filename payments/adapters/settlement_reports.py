"""The providers' settlement reports, fetched for the nightly three-way check.

Each provider serves its report of a Vietnam day at a configured URL (``GET ?date=YYYY-MM-DD``,
bearer token when one is set), in its layout (``payments/reconcile/settlements.py``); in sandbox
mode the simulators serve theirs (``/sandbox/vnpay/settlement``, ``/sandbox/momo/settlement``).
Every report is streamed to a file, parsed and imported (once per content, so a rerun stores
nothing new). A report that cannot be had never stops the night: the treasury side is
reconciled without it, the outcome says why it is missing, and a rerun of the day once the
report is there fills the provider side.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path

import httpx

from payments.adapters.downloads import DownloadFailed, download
from payments.reconcile.settlements import read_settlement
from payments.reconcile.statements import StatementError
from payments.services.ports import UnitOfWorkFactory
from payments.services.reconcile_import import Clock, Imported, import_settlement
from payments.settings import Settings

TIMEOUT_SECONDS = 120  # per read; the whole file has downloads.DEADLINE_MS


@dataclass(frozen=True)
class SettlementSource:
    provider: str
    url: str  # empty: not configured, nothing fetched
    token: str | None = None

    @property
    def variable(self) -> str:
        return f"PAYMENTS_{self.provider.upper()}_SETTLEMENT_URL"


def settlement_sources(settings: Settings) -> list[SettlementSource]:
    """The providers whose settlement report the nightly job fetches.

    VietQR has none: a VietQR payment is a bank transfer straight into the treasury's
    collection account, with no intermediary remitting it later, so the treasury statement is
    already the bank's own record of it (a VietQR report can still be imported from a file with
    ``payments reconcile --settlement F --provider vietqr``)."""
    return [
        SettlementSource("vnpay", settings.vnpay.settlement_url, settings.vnpay.settlement_token),
        SettlementSource("momo", settings.momo.settlement_url, settings.momo.settlement_token),
    ]


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


async def fetch_settlement_report(
    uow_factory: UnitOfWorkFactory,
    http: httpx.AsyncClient,
    source: SettlementSource,
    day: date,
    folder: Path,
    *,
    now: datetime,
    actor: str,
    max_bytes: int,
    clock: Clock | None = None,
) -> ReportOutcome:
    """Fetch, parse and import ``source``'s report of ``day`` (at most ``max_bytes``); never
    raises for a report that cannot be had (the outcome says why), only for the database's
    own failures."""
    if not source.url:
        return ReportOutcome(source.provider, ReportStatus.SKIPPED, f"{source.variable} is not set")
    path = folder / f"{source.provider}-{day.isoformat()}.csv"
    try:
        await download(
            http,
            source.url,
            path,
            params={"date": day.isoformat()},
            token=source.token,
            timeout_seconds=TIMEOUT_SECONDS,
            max_bytes=max_bytes,
        )
        report = read_settlement(source.provider, path)
        imported = await import_settlement(
            uow_factory, report, business_date=day, actor=actor, now=now, clock=clock
        )
    except DownloadFailed as exc:
        reason = f"the {source.provider} settlement endpoint {exc.reason}"
        return ReportOutcome(source.provider, ReportStatus.FAILED, reason)
    except StatementError as exc:
        reason = f"the {source.provider} settlement report was refused: {exc.detail}"
        return ReportOutcome(source.provider, ReportStatus.FAILED, reason)
    except csv.Error as exc:  # not CSV at all (a NUL byte, an endless field)
        reason = f"the {source.provider} settlement report was refused: {exc}"
        return ReportOutcome(source.provider, ReportStatus.FAILED, reason)
    finally:
        path.unlink(missing_ok=True)  # a report is large; the next one needs the room
    return ReportOutcome.of(source.provider, imported)


async def fetch_settlement_reports(
    uow_factory: UnitOfWorkFactory,
    http: httpx.AsyncClient,
    sources: Sequence[SettlementSource],
    day: date,
    folder: Path,
    *,
    now: datetime,
    actor: str,
    max_bytes: int,
    clock: Clock | None = None,
) -> list[ReportOutcome]:
    """Every source's report of ``day``, one after the other (each one's outcome, in order)."""
    return [
        await fetch_settlement_report(
            uow_factory,
            http,
            source,
            day,
            folder,
            now=now,
            actor=actor,
            max_bytes=max_bytes,
            clock=clock,
        )
        for source in sources
    ]

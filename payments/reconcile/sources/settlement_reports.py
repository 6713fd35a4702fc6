"""The providers' settlement reports, fetched for the nightly three-way check.

Each provider serves its report of a Vietnam day at a configured URL (``GET ?date=YYYY-MM-DD``,
bearer token when one is set), in its layout (``reconcile/formats/settlements.py``); in sandbox
mode the simulators serve theirs (``/sandbox/vnpay/settlement``, ``/sandbox/momo/settlement``).
Every report is streamed to a file, parsed and imported (once per content, so a rerun stores
nothing new). A report that cannot be had never stops the night: the treasury side is
reconciled without it, the outcome says why it is missing, and a rerun of the day once the
report is there fills the provider side.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx

from payments.reconcile.ports import ReportSkipped, ReportUnavailable
from payments.reconcile.sources.downloads import DownloadFailed, download
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


class HttpReportSource:
    """A provider's settlement report endpoint: a ``ReportSource`` over HTTP."""

    def __init__(self, http: httpx.AsyncClient, source: SettlementSource, *, max_bytes: int):
        self._http = http
        self._source = source
        self._max_bytes = max_bytes

    @property
    def provider(self) -> str:
        return self._source.provider

    async def fetch(self, day: date, destination: Path) -> Path:
        source = self._source
        if not source.url:
            raise ReportSkipped(f"{source.variable} is not set")
        try:
            return await download(
                self._http,
                source.url,
                destination,
                params={"date": day.isoformat()},
                token=source.token,
                timeout_seconds=TIMEOUT_SECONDS,
                max_bytes=self._max_bytes,
            )
        except DownloadFailed as exc:
            raise ReportUnavailable(
                f"the {source.provider} settlement endpoint {exc.reason}"
            ) from exc

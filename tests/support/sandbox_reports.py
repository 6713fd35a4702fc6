"""Reading the sandbox providers' settlement reports over HTTP, on a clock fixed at ``NOW``
(so the simulators' "that day" cannot turn into the next one while a test runs)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone

import httpx

from payments.reconcile.formats.settlements import read_settlement

VIETNAM = timezone(timedelta(hours=7))
NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)  # the simulators date their captures by it


async def report(http: httpx.AsyncClient, provider: str, day: str) -> list[tuple[str, int]]:
    answer = await http.get(f"/sandbox/{provider}/settlement", params={"date": day})
    assert answer.status_code == 200, answer.text
    parsed = read_settlement(provider, io.BytesIO(answer.content))
    return [(line.payment_reference, line.amount) for line in parsed.require_clean()]

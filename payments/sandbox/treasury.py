"""Sandbox State Treasury, mounted only in sandbox mode: the statement of a day built from the
sandbox's succeeded payments, and the providers' settlement reports built from the simulators'
captures. In sandbox mode ``PAYMENTS_TREASURY_STATEMENT_URL`` points here by default, so the
nightly job and ``payments reconcile --fetch`` reconcile against it.

- ``GET /sandbox/treasury/statement?date=YYYY-MM-DD&format=csv|camt&inject=missing,late,...``:
  the switches (``payments/reconcile/rules/sandbox_day.py``) inject each discrepancy: ``missing``,
  ``amount_mismatch``, ``duplicate``, ``unknown``, ``late``, ``batch``. When
  ``PAYMENTS_TREASURY_STATEMENT_TOKEN`` is set the request must carry it as a bearer token.
- ``GET /sandbox/treasury/settlements/{provider}?date=YYYY-MM-DD``: that provider's settlement
  report (CSV, in the provider's layout). The payments the ``batch`` switch credits as one line
  carry its batch reference there, so that with the reports imported a CSV statement's batch
  line (reference, count and total only) matches them.

Both are the treasury's operations for its fault switches (``sandbox_faults``:
``/sandbox/treasury/faults``, operations ``statement`` and ``settlement``); a ``wrong``
statement is the one of the business day before, a ``wrong`` report the one of the day before.
"""

from __future__ import annotations

import hmac
import io
from dataclasses import dataclass, field
from datetime import date, timedelta

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from payments.http.requests import container
from payments.reconcile.formats.settlements import LAYOUTS, write_settlement
from payments.reconcile.formats.writers import camt053, csv_statement
from payments.reconcile.rules.calendar import DEFAULT_CALENDAR
from payments.reconcile.rules.sandbox_day import Discrepancy, sandbox_settlement, sandbox_statement
from payments.reconcile.usecases.day import captured_on
from payments.sandbox.faults import Faults, fault_routes

PREFIX = "/sandbox/treasury"
ACCOUNT = "7111-SANDBOX"
OPERATIONS = ("statement", "settlement")


@dataclass
class TreasurySimulator:
    """What the sandbox treasury keeps in memory: its fault switches (its files are built
    from the gateway's records on each request)."""

    faults: Faults = field(default_factory=lambda: Faults(OPERATIONS))


def _simulator(request: Request) -> TreasurySimulator:
    simulator: TreasurySimulator = request.app.state.treasury_simulator
    return simulator


def _bad(message: str, status: int = 400) -> Response:
    return PlainTextResponse(message + "\n", status_code=status)


def _day(request: Request) -> date | None:
    try:
        day = date.fromisoformat(request.query_params.get("date", ""))
    except ValueError:
        return None
    return day if date(2000, 1, 1) <= day <= date(2999, 12, 31) else None


def _authorised(request: Request) -> bool:
    token = container(request).settings.treasury_statement_token
    if not token:
        return True
    sent = request.headers.get("authorization", "").encode("utf-8", "replace")
    return hmac.compare_digest(sent, f"Bearer {token}".encode())


async def statement(request: Request) -> Response:
    return await _simulator(request).faults.run("statement", lambda o: _statement(request, o))


async def _statement(request: Request, other: bool) -> Response:
    if not _authorised(request):
        return _bad("a bearer token is required", 401)
    day = _day(request)
    if day is None:
        return _bad("date=YYYY-MM-DD is required")
    if other:  # the statement of another day than the one asked for
        day = DEFAULT_CALENDAR.add_business_days(day, -1)
    fmt = request.query_params.get("format", "csv")
    if fmt not in ("csv", "camt"):
        return _bad("format is csv or camt")
    try:
        inject = {
            Discrepancy(part.strip())
            for part in request.query_params.get("inject", "").split(",")
            if part.strip()
        }
    except ValueError:
        names = ", ".join(d.value for d in Discrepancy)
        return _bad(f"inject takes a comma-separated list of: {names}")
    uow = container(request).uow_factory
    previous = DEFAULT_CALENDAR.add_business_days(day, -1)
    lines = sandbox_statement(
        day,
        await captured_on(uow, day),
        inject=inject,
        previous_day=await captured_on(uow, previous) if Discrepancy.LATE in inject else (),
    )
    name = f"statement-{day.isoformat()}"
    if fmt == "csv":
        return StreamingResponse(
            iter(csv_statement(lines)),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    body = camt053(
        lines, statement_id=f"KBNN-SBX-{day:%Y%m%d}", account=ACCOUNT, currency="VND", day=day
    )
    return StreamingResponse(
        iter(body),
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{name}.xml"'},
    )


async def settlement(request: Request) -> Response:
    return await _simulator(request).faults.run("settlement", lambda o: _settlement(request, o))


async def _settlement(request: Request, other: bool) -> Response:
    provider = request.path_params["provider"]
    if provider not in LAYOUTS:
        return _bad(f"no such provider; one of {', '.join(LAYOUTS)}", 404)
    day = _day(request)
    if day is None:
        return _bad("date=YYYY-MM-DD is required")
    if other:  # the report of another day than the one asked for
        day -= timedelta(days=1)
    lines = sandbox_settlement(
        provider, day, await captured_on(container(request).uow_factory, day)
    )
    out = io.StringIO()
    # Built from the gateway's captures alone: it knows nothing of refunds, so it says
    # nothing about them (the older layout, without the kind column).
    write_settlement(provider, lines, out, lists_refunds=False)
    return PlainTextResponse(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{provider}-{day.isoformat()}.csv"'},
    )


routes = [
    Route(f"{PREFIX}/statement", statement, methods=["GET"]),
    Route(f"{PREFIX}/settlements/{{provider}}", settlement, methods=["GET"]),
    *fault_routes(PREFIX, "treasury_simulator"),
]

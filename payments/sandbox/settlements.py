"""The sandbox providers' own settlement reports (sandbox mode only).

``GET /sandbox/vnpay/settlement?date=YYYY-MM-DD`` and ``GET /sandbox/momo/settlement?date=``:
what each simulator says it captured on that Vietnam day, from its own records of orders paid
on its pages, and the refunds it paid out that day (its refund book's succeeded refunds, by
``paid_at``), in the provider's report layout (``payments/reconcile/formats/settlements.py``). The
gateway's records play no part, so in sandbox mode the provider side of the three-way check
is as independent as a real provider's file (the sandbox treasury's
``/sandbox/treasury/settlements/{provider}`` builds one from the gateway's captures instead).
Each report is the simulator's ``settlement`` operation for its fault switches
(``sandbox_faults``); a ``wrong`` one is the report of the day before.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from payments.reconcile.formats.settlements import LineKind, SettlementLine, write_settlement
from payments.sandbox.faults import Act
from payments.sandbox.momo import MomoSimulator
from payments.sandbox.refunds import RefundBook, RefundState
from payments.sandbox.vnpay import VnpaySimulator

VIETNAM = timezone(timedelta(hours=7))
VNPAY_PAID = "00"
MOMO_PAID = 0
SANDBOX_FEE = 0  # the simulators keep no fee


def _on(day: date, moment: datetime | None) -> bool:
    return moment is not None and moment.astimezone(VIETNAM).date() == day


def vnpay_lines(sim: VnpaySimulator, day: date) -> Iterator[SettlementLine]:
    paid = (
        o for o in sim.orders.values() if o.response_code == VNPAY_PAID and _on(day, o.pay_date)
    )
    number = 1
    for number, order in enumerate(sorted(paid, key=lambda o: o.txn_ref), start=2):
        yield SettlementLine(
            "vnpay", number, order.transaction_no, order.txn_ref, order.amount, SANDBOX_FEE,
            "VND", day,
        )  # fmt: skip
    yield from refund_lines("vnpay", sim.refunds, day, number + 1)


def momo_lines(sim: MomoSimulator, day: date) -> Iterator[SettlementLine]:
    paid = (o for o in sim.orders.values() if o.result_code == MOMO_PAID and _on(day, o.paid_at))
    number = 1
    for number, order in enumerate(sorted(paid, key=lambda o: o.order_id), start=2):
        yield SettlementLine(
            "momo", number, str(order.trans_id), order.order_id, order.amount, SANDBOX_FEE,
            "VND", day,
        )  # fmt: skip
    yield from refund_lines("momo", sim.refunds, day, number + 1)


def refund_lines(
    provider: str, book: RefundBook, day: date, first: int
) -> Iterator[SettlementLine]:
    """The refunds the simulator paid out on ``day``: its book's succeeded ones, by request
    id (the reference the gateway knows them by), after the captures."""
    paid = (
        r for r in book.refunds.values() if r.state is RefundState.SUCCEEDED and _on(day, r.paid_at)
    )
    for number, refund in enumerate(sorted(paid, key=lambda r: r.request_id), start=first):
        kind = LineKind.FULL_REFUND if refund.full else LineKind.REFUND
        yield SettlementLine(
            provider, number, refund.refund_no, refund.request_id, refund.amount, SANDBOX_FEE,
            "VND", day, None, kind,
        )  # fmt: skip


def _day(request: Request) -> date | None:
    try:
        return date.fromisoformat(request.query_params.get("date", ""))
    except ValueError:
        return None


def _report(provider: str, lines: Iterator[SettlementLine], day: date) -> Response:
    out = io.StringIO()
    write_settlement(provider, lines, out)
    return PlainTextResponse(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{provider}-{day.isoformat()}.csv"'},
    )


def _act(request: Request, provider: str, lines: Callable[[date], Iterator[SettlementLine]]) -> Act:
    async def act(other: bool) -> Response:
        day = _day(request)
        if day is None:
            return PlainTextResponse("date=YYYY-MM-DD is required", status_code=400)
        if other:  # the report of another day than the one asked for
            day -= timedelta(days=1)
        return _report(provider, lines(day), day)

    return act


async def vnpay_settlement(request: Request) -> Response:
    sim: VnpaySimulator = request.app.state.vnpay_simulator
    act = _act(request, "vnpay", lambda day: vnpay_lines(sim, day))
    return await sim.faults.run("settlement", act)


async def momo_settlement(request: Request) -> Response:
    sim: MomoSimulator = request.app.state.momo_simulator
    act = _act(request, "momo", lambda day: momo_lines(sim, day))
    return await sim.faults.run("settlement", act)


routes = [
    Route("/sandbox/vnpay/settlement", vnpay_settlement, methods=["GET"]),
    Route("/sandbox/momo/settlement", momo_settlement, methods=["GET"]),
]

"""What the sandbox providers refunded, and the tester's switches for the next refund.

Each simulator keeps a refund book in this process's memory. A refund request id seen before
gets the answer it got the first time (a retry is never a second refund). The switch is
one-shot: it applies to the next new refund request, then returns to ``normal``:

    fail     the provider refuses the refund (it is recorded as failed)
    timeout  the refund is made, but the answer comes only after ``seconds`` (default: past
             the client's 30 s timeout), so the caller sees a timeout
    drop     the request is lost: nothing is recorded and the answer is an empty HTTP 504
    pending  the refund is recorded as processing until settled (``/refunds/settle``)

``timeout`` and ``drop`` are the ``hang`` and ``lose`` faults of ``sandbox_faults`` (the late
answer waits through the simulator's ``faults.wait``), kept here because this switch applies
to the next *new* refund request, where a planned fault applies to the next call, a retry too.

Endpoints, under each simulator's prefix (``/sandbox/vnpay``, ``/sandbox/momo``):
``GET /refunds`` lists the book and the switch, ``POST /refunds/mode`` (form ``mode``,
``seconds``) sets the switch, ``POST /refunds/settle`` (form ``request_id``, ``outcome`` =
``success`` or ``failure``) finishes a pending refund. A refund paid out (succeeded) keeps
when (``paid_at``): the simulator's settlement report of that day lists it
(``sandbox_settlements``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from payments.http.requests import container

CLIENT_TIMEOUT_SECONDS = 30  # both providers' clients
MAX_SECONDS = 600


class RefundMode(StrEnum):
    NORMAL = "normal"
    FAIL = "fail"
    TIMEOUT = "timeout"
    DROP = "drop"
    PENDING = "pending"


class RefundState(StrEnum):
    SUCCEEDED = "succeeded"
    PENDING = "pending"
    FAILED = "failed"


@dataclass
class SimulatedRefund:
    request_id: str
    paid_ref: str  # the paid transaction: VNPay's vnp_TxnRef, MoMo's paid orderId
    amount: int  # VND
    full: bool
    state: RefundState
    refund_no: str  # the provider's number for the refund transaction
    created: str  # as the protocol carries it (VNPay: the request's vnp_CreateDate)
    # When the provider paid it out (succeeded): its settlement report lists it on that day.
    paid_at: datetime | None = None


@dataclass
class RefundBook:
    refunds: dict[str, SimulatedRefund] = field(default_factory=dict)  # by request id
    # Every answer given, refusals too, by request id: (what was asked, the answer).
    answers: dict[str, tuple[tuple[object, ...], dict[str, object]]] = field(default_factory=dict)
    mode: RefundMode = RefundMode.NORMAL
    timeout_seconds: int = CLIENT_TIMEOUT_SECONDS + 5

    def take_mode(self) -> RefundMode:
        mode, self.mode = self.mode, RefundMode.NORMAL
        return mode

    def of(self, paid_ref: str) -> list[SimulatedRefund]:
        return [refund for refund in self.refunds.values() if refund.paid_ref == paid_ref]

    def reserved(self, paid_ref: str) -> int:
        """What is refunded or being refunded: no longer available to refund."""
        return sum(r.amount for r in self.of(paid_ref) if r.state is not RefundState.FAILED)

    def replay(self, request_id: str, asked: tuple[object, ...]) -> dict[str, object] | None:
        """The first answer to this request id, if this is a retry of the same refund."""
        found = self.answers.get(request_id)
        return found[1] if found is not None and found[0] == asked else None

    def reused(self, request_id: str, asked: tuple[object, ...]) -> bool:
        """The id was used before for a different refund: a caller bug, refused."""
        found = self.answers.get(request_id)
        return found is not None and found[0] != asked

    def remember(
        self, request_id: str, asked: tuple[object, ...], answer: Mapping[str, object]
    ) -> None:
        self.answers[request_id] = (asked, dict(answer))


def book_of(request: Request, simulator: str) -> RefundBook:
    book: RefundBook = getattr(request.app.state, simulator).refunds
    return book


def _listing(book: RefundBook) -> dict[str, object]:
    return {
        "mode": book.mode.value,
        "timeout_seconds": book.timeout_seconds,
        "refunds": [
            {
                "request_id": r.request_id,
                "paid_ref": r.paid_ref,
                "amount": r.amount,
                "full": r.full,
                "state": r.state.value,
                "refund_no": r.refund_no,
                "paid_at": r.paid_at.isoformat() if r.paid_at else None,
            }
            for r in book.refunds.values()
        ],
    }


def switch_routes(prefix: str, simulator: str) -> list[BaseRoute]:
    """The sandbox-only refund endpoints of one simulator (``simulator``: its app.state name)."""

    async def listing(request: Request) -> Response:
        return JSONResponse(_listing(book_of(request, simulator)))

    async def set_mode(request: Request) -> Response:
        book = book_of(request, simulator)
        form = await request.form(max_files=0, max_fields=5)
        try:
            mode = RefundMode(str(form.get("mode", "")))
            seconds = int(str(form.get("seconds", "")) or book.timeout_seconds)
        except ValueError:
            return JSONResponse({"error": f"mode is one of {[m.value for m in RefundMode]}"}, 400)
        if not 0 <= seconds <= MAX_SECONDS:
            return JSONResponse({"error": f"seconds is between 0 and {MAX_SECONDS}"}, 400)
        book.mode, book.timeout_seconds = mode, seconds
        return JSONResponse(_listing(book))

    async def settle(request: Request) -> Response:
        book = book_of(request, simulator)
        form = await request.form(max_files=0, max_fields=5)
        refund = book.refunds.get(str(form.get("request_id", "")))
        outcome = {"success": RefundState.SUCCEEDED, "failure": RefundState.FAILED}.get(
            str(form.get("outcome", ""))
        )
        if refund is None or outcome is None or refund.state is not RefundState.PENDING:
            return JSONResponse({"error": "no pending refund with that id, or bad outcome"}, 400)
        refund.state = outcome
        if outcome is RefundState.SUCCEEDED:
            refund.paid_at = container(request).clock()
        return JSONResponse(_listing(book))

    return [
        Route(f"{prefix}/refunds", listing, methods=["GET"]),
        Route(f"{prefix}/refunds/mode", set_mode, methods=["POST"]),
        Route(f"{prefix}/refunds/settle", settle, methods=["POST"]),
    ]

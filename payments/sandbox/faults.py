"""Fault switches for the simulators' server-to-server operations (sandbox mode only).

Each simulator keeps one ``Faults`` in this process's memory: per operation (VNPay ``querydr``,
``refund``, ``settlement``; MoMo ``create``, ``query``, ``refund``, ``settlement``; the treasury
``statement``, ``settlement``) a first-in first-out plan of faults and a count of calls. Every call
of an operation is counted, whatever becomes of it, and takes the next planned fault, or
``normal`` once the plan is empty:

    normal       done and answered as the protocol says
    error        HTTP 500; not done
    acted_error  done, but the answer is HTTP 500
    garble       HTTP 200 with a body that is not JSON (nor CSV nor XML); not done
    slow         done and answered correctly, after ``seconds`` (default 5)
    hang         done, answered after ``seconds`` (default 600, past every client's timeout):
                 the caller times out
    lose         the request is lost on the way: nothing done, an empty HTTP 504
    wrong        done, answered validly (signed) but about another transaction, request or day

Waits go through ``Faults.wait`` (``asyncio.sleep``), which a test replaces, so no test sleeps:
a ``slow`` answer comes as soon as the test's wait returns, a ``hang`` never comes while the
test's wait holds, and the caller's own timeout fires.

Tests queue faults with ``simulator.faults.plan("refund", Fault.LOSE, Fault.ERROR)`` and read
``simulator.faults.calls["querydr"]``. Over HTTP, under each simulator's prefix:
``GET /faults`` (plan and counters as JSON), ``POST /faults`` (form or JSON: ``operation``,
``fault``, optional ``seconds`` and ``count``; a form's ``back`` path answers ``303`` to it, as
the simulator pages do) and ``POST /faults/reset`` (empties the plans, zeroes the counters).
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from payments.domain.errors import FieldProblem
from payments.http.problems import ApiError, validation_problems
from payments.http.requests import media_type, parse_json, read_body
from payments.sandbox.delivery import Wait

SLOW_SECONDS = 5
MAX_SECONDS = 600
HANG_SECONDS = MAX_SECONDS  # the providers' clients give up after 30 s, downloads after 120 s
MAX_COUNT = 100
MAX_BODY_BYTES = 4096
# A body cut short, as a proxy or a crashed provider may send under a 200: not JSON, and no
# statement or report reader takes it either.
GARBLED = b'{"sandbox": "answer cut short", "resu'


class Fault(StrEnum):
    NORMAL = "normal"
    ERROR = "error"
    ACTED_ERROR = "acted_error"
    GARBLE = "garble"
    SLOW = "slow"
    HANG = "hang"
    LOSE = "lose"
    WRONG = "wrong"


WAIT_SECONDS = {Fault.SLOW: SLOW_SECONDS, Fault.HANG: HANG_SECONDS}  # the faults that wait


@dataclass(frozen=True)
class Planned:
    fault: Fault
    seconds: int = 0  # how long a slow or hung answer waits


# Does the operation and answers it; True asks for an answer about another transaction.
Act = Callable[[bool], Awaitable[Response]]


def failed() -> Response:
    return PlainTextResponse("sandbox: internal server error\n", status_code=500)


def lost() -> Response:
    return Response(status_code=504)  # the provider never saw the request


def _garbled() -> Response:
    return Response(GARBLED, media_type="application/json")


NOT_DONE: dict[Fault, Callable[[], Response]] = {
    Fault.ERROR: failed,
    Fault.GARBLE: _garbled,
    Fault.LOSE: lost,
}


def _wall_clock() -> Wait:
    return asyncio.sleep


@dataclass
class Faults:
    operations: tuple[str, ...]
    plans: dict[str, deque[Planned]] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    wait: Wait = field(default_factory=_wall_clock)

    def plan(self, operation: str, *faults: Fault, seconds: int | None = None) -> None:
        """Queue ``faults``, in order, for the next calls of ``operation`` (``seconds``: how
        long each slow or hung one waits; the fault's default when None)."""
        if operation not in self.operations:
            raise ValueError(f"operation is one of {', '.join(self.operations)}")
        if seconds is not None and not 0 <= seconds <= MAX_SECONDS:
            raise ValueError(f"seconds is between 0 and {MAX_SECONDS}")
        queue = self.plans.setdefault(operation, deque())
        for fault in faults:
            wait = WAIT_SECONDS.get(fault)
            queue.append(
                Planned(fault, 0 if wait is None else wait if seconds is None else seconds)
            )

    def take(self, operation: str) -> Planned:
        """Count a call of ``operation`` and give it its fault."""
        self.calls[operation] += 1
        queue = self.plans.get(operation)
        return queue.popleft() if queue else Planned(Fault.NORMAL)

    def reset(self) -> None:
        self.plans.clear()
        self.calls.clear()

    def snapshot(self) -> dict[str, Any]:
        return {
            "operations": list(self.operations),
            "faults": [fault.value for fault in Fault],
            "plan": {
                op: [{"fault": p.fault.value, "seconds": p.seconds} for p in self.plans.get(op, ())]
                for op in self.operations
            },
            "calls": {op: self.calls[op] for op in self.operations},
        }

    async def run(self, operation: str, act: Act) -> Response:
        """One call of ``operation``: its fault decides whether ``act`` runs and what answers."""
        planned = self.take(operation)
        refuse = NOT_DONE.get(planned.fault)
        if refuse is not None:
            return refuse()
        answer = await act(planned.fault is Fault.WRONG)
        if planned.fault is Fault.ACTED_ERROR:
            return failed()
        if planned.fault in WAIT_SECONDS:
            await self.wait(planned.seconds)
        return answer


class FaultOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    operation: str
    fault: Fault
    seconds: int | None = Field(default=None, ge=0, le=MAX_SECONDS)
    count: int = Field(default=1, ge=1, le=MAX_COUNT)


def _invalid(field_name: str, message: str) -> ApiError:
    return ApiError(
        422, "invalid-request", "Invalid request", "the request has errors",
        [FieldProblem(field_name, message)],
    )  # fmt: skip


def _safe_back(prefix: str, back: str) -> str:
    # Only this simulator's own pages: the switch must not become an open redirect.
    if back.startswith(f"{prefix}/") and "//" not in back and "\\" not in back:
        return back
    raise _invalid("back", f"is a path under {prefix}/")


async def _order(request: Request, prefix: str) -> tuple[FaultOrder, str]:
    """The fault asked for, and the page to go back to ("" for a JSON answer)."""
    if media_type(request.headers.get("content-type")) == "application/json":
        return parse_json(await read_body(request, MAX_BODY_BYTES), FaultOrder), ""
    form = await request.form(max_files=0, max_fields=6)
    fields = {key: value for key, value in form.items() if isinstance(value, str) and value}
    back = fields.pop("back", "")
    try:
        order = FaultOrder.model_validate(fields)
    except ValidationError as exc:
        raise ApiError(
            422, "invalid-request", "Invalid request", "the request has errors",
            validation_problems(exc),
        ) from None  # fmt: skip
    return order, _safe_back(prefix, back) if back else ""


def page_section(request: Request, prefix: str, faults: Faults) -> dict[str, Any]:
    """What a simulator page's fault section shows (``templates/faults.html``)."""
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return {"action": f"{prefix}/faults", "back": back, **faults.snapshot()}


def fault_routes(prefix: str, simulator: str) -> list[BaseRoute]:
    """The fault endpoints of one simulator (``simulator``: its app.state name)."""

    def faults_of(request: Request) -> Faults:
        found: Faults = getattr(request.app.state, simulator).faults
        return found

    def answer(faults: Faults, back: str) -> Response:
        return RedirectResponse(back, status_code=303) if back else JSONResponse(faults.snapshot())

    async def listing(request: Request) -> Response:
        return JSONResponse(faults_of(request).snapshot())

    async def add(request: Request) -> Response:
        faults = faults_of(request)
        order, back = await _order(request, prefix)
        if order.operation not in faults.operations:
            raise _invalid("operation", f"is one of {', '.join(faults.operations)}")
        faults.plan(order.operation, *[order.fault] * order.count, seconds=order.seconds)
        return answer(faults, back)

    async def reset(request: Request) -> Response:
        faults = faults_of(request)
        form = await request.form(max_files=0, max_fields=2)
        back = str(form.get("back", ""))
        back = _safe_back(prefix, back) if back else ""
        faults.reset()
        return answer(faults, back)

    return [
        Route(f"{prefix}/faults", listing, methods=["GET"]),
        Route(f"{prefix}/faults", add, methods=["POST"]),
        Route(f"{prefix}/faults/reset", reset, methods=["POST"]),
    ]

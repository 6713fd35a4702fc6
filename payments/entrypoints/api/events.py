"""/v1/events: a portal's notifications, to poll instead of (or beside) receiving pushes,
with each event's delivery log and a way to ask for a redelivery.

Polling without gaps: events are listed oldest first after the cursor, and only once they
are ``PAYMENTS_EVENTS_SETTLE_SECONDS`` old. An event id is minted (time-ordered) before its
transaction commits, so a young event may still be invisible while a younger one is already
committed; a cursor that passed it would skip it forever. Holding the newest few seconds back
keeps the cursor behind every transaction still in flight (status changes commit in well
under that); the push notification, or ``GET /v1/events/{id}``, has them at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from payments.domain.access import Role
from payments.domain.errors import NotFound
from payments.domain.notifications import DeliveryAttempt, Notification, event_id_bound
from payments.domain.resources import iso
from payments.domain.text import text_problem
from payments.entrypoints.api.operations import Operation, api_route
from payments.http.requests import (
    aware,
    caller,
    container,
    decode_cursor,
    encode_cursor,
    query_model,
)
from payments.notifications import usecases as service
from payments.services.ports import EventFilter

READERS = (Role.PORTAL, Role.FINANCE, Role.TREASURY, Role.ADMIN)
REDELIVERERS = (Role.PORTAL, Role.ADMIN)
EventType = Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,16}\.[a-z_]{1,20}$")]


class EventQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: list[EventType] = Field(
        default_factory=list,
        description="Event types, e.g. payment.succeeded (repeat or comma-separate).",
    )
    payment_id: str | None = Field(default=None, max_length=40)
    created_from: datetime | None = None
    created_to: datetime | None = None
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=128)

    @field_validator("payment_id")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        problem = text_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value


class DeliveryStateOut(BaseModel):
    state: Literal["pending", "delivered", "failed", "no_target"]
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None


class EventOut(BaseModel):
    id: str
    object: Literal["event"]
    type: str
    created_at: datetime
    data: dict[str, Any] = Field(description="The resource as the API shows it at the time.")
    delivery: DeliveryStateOut


class EventPage(BaseModel):
    data: list[EventOut]
    has_more: bool
    next_cursor: str | None = Field(description="Pass back as cursor for the next events.")


class DeliveryOut(BaseModel):
    attempt: int
    started_at: datetime
    url: str
    outcome: Literal["delivered", "rejected", "timeout", "error", "blocked"]
    status_code: int | None
    latency_ms: int
    error: str | None


class DeliveryList(BaseModel):
    data: list[DeliveryOut]


def event_json(event: Notification) -> dict[str, Any]:
    body = event.envelope()
    body["delivery"] = {
        "state": event.state.value,
        "attempts": event.attempt_count,
        "next_attempt_at": iso(event.next_attempt_at) if event.next_attempt_at else None,
        "delivered_at": iso(event.delivered_at) if event.delivered_at else None,
    }
    return body


def delivery_json(attempt: DeliveryAttempt) -> dict[str, Any]:
    return {
        "attempt": attempt.attempt_no,
        "started_at": iso(attempt.started_at),
        "url": attempt.url,
        "outcome": attempt.outcome.value,
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "error": attempt.error,
    }


def _event_id(request: Request) -> str:
    event_id: str = request.path_params["event_id"]
    if text_problem(event_id) or len(event_id) > 64:
        raise NotFound(f"no event {event_id[:64]!r}")
    return event_id


async def list_events(request: Request) -> Response:
    who = await caller(request, *READERS)
    app = container(request)
    query = query_model(request, EventQuery, multi=frozenset({"type"}))
    flt = EventFilter(
        types=frozenset(query.type),
        payment_id=query.payment_id,
        created_from=aware(query.created_from, "created_from"),
        created_to=aware(query.created_to, "created_to"),
    )
    settle = timedelta(seconds=app.settings.events_settle_seconds)
    rows, has_more = await service.list_events(
        app.uow_factory,
        who,
        flt,
        after_id=decode_cursor(query.cursor) if query.cursor else None,
        settled_before=event_id_bound(app.clock() - settle),
        limit=query.limit,
    )
    # The cursor always moves to the last event returned, or stays where it was: a poller
    # keeps it and asks again later.
    if rows:
        cursor: str | None = encode_cursor(rows[-1].id)
    else:
        cursor = query.cursor
    return JSONResponse(
        {"data": [event_json(e) for e in rows], "has_more": has_more, "next_cursor": cursor}
    )


async def get_event(request: Request) -> Response:
    who = await caller(request, *READERS)
    app = container(request)
    event = await service.get_event(app.uow_factory, who, _event_id(request))
    return JSONResponse(event_json(event))


async def event_deliveries(request: Request) -> Response:
    who = await caller(request, *READERS)
    app = container(request)
    attempts = await service.event_deliveries(app.uow_factory, who, _event_id(request))
    return JSONResponse({"data": [delivery_json(a) for a in attempts]})


async def redeliver(request: Request) -> Response:
    who = await caller(request, *REDELIVERERS)
    app = container(request)
    event = await service.redeliver_event(
        app.uow_factory,
        who,
        _event_id(request),
        now=app.clock(),
        request_id=getattr(request.state, "request_id", None),
    )
    return JSONResponse(event_json(event), status_code=202)


_READ = tuple(r.value for r in READERS)

routes = [
    api_route(
        Operation(
            "get",
            "/v1/events",
            "List the agency's events, oldest first after the cursor",
            "events",
            _READ,
            response=EventPage,
            query=EventQuery,
            errors=(400, 401, 403),
        ),
        list_events,
    ),
    api_route(
        Operation(
            "get",
            "/v1/events/{event_id}",
            "Read an event and its delivery state",
            "events",
            _READ,
            response=EventOut,
            errors=(401, 403, 404),
        ),
        get_event,
    ),
    api_route(
        Operation(
            "get",
            "/v1/events/{event_id}/deliveries",
            "Every delivery attempt of an event",
            "events",
            _READ,
            response=DeliveryList,
            errors=(401, 403, 404),
        ),
        event_deliveries,
    ),
    api_route(
        Operation(
            "post",
            "/v1/events/{event_id}/redeliver",
            "Deliver an event again now (also after it failed for good)",
            "events",
            tuple(r.value for r in REDELIVERERS),
            response=EventOut,
            status=202,
            errors=(401, 403, 404),
        ),
        redeliver,
    ),
]

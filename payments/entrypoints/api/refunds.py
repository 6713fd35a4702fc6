"""/v1/refunds and /v1/payments/{id}/refunds: finance officers give money back.

Asking (and approving) answers after one try at the provider, so the officer sees a result
at once; whatever is left open (pending, unknown, a lost process) the periodic
``process_due_refunds`` settles.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, StrictInt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from payments.collection.usecases.payments import IdempotentRequest, fingerprint
from payments.domain.access import Caller, Role
from payments.domain.errors import FieldProblem, NotFound
from payments.domain.resources import iso
from payments.domain.text import text_problem
from payments.entrypoints.api import schemas
from payments.entrypoints.api.operations import Operation, api_route
from payments.entrypoints.api.presenters import payment_json
from payments.http.container import Container
from payments.http.pages import page_body
from payments.http.problems import ApiError
from payments.http.requests import (
    aware,
    caller,
    container,
    decode_cursor,
    optional_json_body,
    parse_json_body,
    query_model,
)
from payments.refunds.ports import RefundFilter
from payments.refunds.rules.lifecycle import Refund, RefundEvent, RefundStatus, RefundTotals
from payments.refunds.rules.resource import refund_resource
from payments.refunds.usecases import requests as service
from payments.refunds.usecases.execution import execute_refund
from payments.services.ports import StoredResponse
from payments.unit_of_work import WorkFactory

READERS = (Role.PORTAL, Role.FINANCE, Role.TREASURY, Role.ADMIN)
STAFF = (Role.FINANCE, Role.TREASURY, Role.ADMIN)
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")

RefundStatusName = Literal[
    "awaiting_approval",
    "approved",
    "processing",
    "pending",
    "unknown",
    "submitted",
    "succeeded",
    "failed",
    "rejected",
]


# --- request and response models ---------------------------------------------------------------


class CreateRefund(schemas.Strict):
    amount: StrictInt = Field(gt=0, le=10**15, description="Minor units (VND: whole đồng).")
    reason: schemas.Description
    expected_available: StrictInt | None = Field(
        default=None,
        ge=0,
        le=10**15,
        description="The available amount the officer saw; another answers 412.",
    )


class RefundDecision(schemas.Strict):
    note: schemas.Description | None = None


class RefundQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: list[RefundStatusName] = Field(default_factory=list)
    payment_id: str | None = Field(default=None, max_length=40)
    created_from: datetime | None = None
    created_to: datetime | None = None
    escalated: bool | None = Field(
        default=None,
        description="true: only refunds raised to people and still unsettled; false: never raised.",
    )
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=128)


class CandidateQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=128)


class TransferInstructionOut(BaseModel):
    from_bank_bin: str
    from_account_no: str
    amount: int
    reference: str
    description: str
    original_transfer_id: str


class ResolutionOut(BaseModel):
    outcome: Literal["succeeded", "failed"]
    provider_refund_id: str | None
    note: str
    proposed_by: str
    proposed_at: datetime


class RefundOut(BaseModel):
    id: str
    object: Literal["refund"]
    payment_id: str
    status: RefundStatusName
    amount: int
    currency: str
    reason: str
    provider: str
    attempt_id: str
    full: bool
    requested_by: str
    approved_by: str | None
    rejected_by: str | None
    decision_note: str | None
    provider_request_id: str
    provider_code: str | None
    provider_message: str | None
    provider_refund_id: str | None
    transfer_instruction: TransferInstructionOut | None
    next_action_at: datetime | None
    created_at: datetime
    updated_at: datetime
    settled_at: datetime | None
    escalated_at: datetime | None = Field(
        description="When the refund was raised to people: no certain answer from the provider "
        "by the end of the status-query ladder. Two finance officers may settle it by hand."
    )
    resolution: ResolutionOut | None = Field(
        description="A settlement by hand proposed by one finance officer, waiting for another."
    )


class RefundPage(BaseModel):
    data: list[RefundOut]
    has_more: bool
    next_cursor: str | None


class RefundSummaryOut(BaseModel):
    currency: str
    captured: int
    refunded: int = Field(description="Succeeded refunds.")
    in_flight: int = Field(description="Refunds not settled yet, awaiting approval included.")
    available: int = Field(description="captured - refunded - in_flight")


class PaymentRefundsOut(BaseModel):
    payment_id: str
    refunds: RefundSummaryOut
    data: list[RefundOut]


class CandidateOut(BaseModel):
    payment: schemas.PaymentOut
    refunds: RefundSummaryOut


class CandidatePage(BaseModel):
    data: list[CandidateOut]
    has_more: bool
    next_cursor: str | None


class RefundEventOut(BaseModel):
    id: int | None
    refund_id: str
    from_status: str | None
    to_status: str
    cause: str
    actor: str
    occurred_at: datetime
    detail: dict[str, Any]


class RefundEventList(BaseModel):
    data: list[RefundEventOut]


# --- presenters -------------------------------------------------------------------------------


def summary_json(sums: RefundTotals) -> dict[str, Any]:
    return {
        "currency": sums.currency,
        "captured": sums.captured,
        "refunded": sums.refunded,
        "in_flight": sums.in_flight,
        "available": sums.available,
    }


def event_json(event: RefundEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "refund_id": event.refund_id,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "cause": event.cause,
        "actor": event.actor,
        "occurred_at": iso(event.occurred_at),
        "detail": dict(event.detail),
    }


# --- handlers ---------------------------------------------------------------------------------


def _idempotency_key(request: Request) -> str:
    key = request.headers.get("idempotency-key")
    if key is None or not IDEMPOTENCY_KEY.fullmatch(key):
        raise ApiError(
            400,
            "idempotency-key-required" if key is None else "invalid-idempotency-key",
            "Idempotency-Key required" if key is None else "Invalid Idempotency-Key",
            "send an Idempotency-Key header: 1 to 255 visible ASCII characters, new per refund",
            [FieldProblem("Idempotency-Key", "1 to 255 visible ASCII characters")],
        )
    return key


def _payment_id(request: Request) -> str:
    payment_id: str = request.path_params["payment_id"]
    if text_problem(payment_id):
        raise NotFound(f"no payment {payment_id!r}")
    return payment_id


def refund_id_of(request: Request) -> str:
    refund_id: str = request.path_params["refund_id"]
    if text_problem(refund_id) or len(refund_id) > 40:
        raise NotFound(f"no refund {refund_id!r}")
    return refund_id


def _json(payload: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(payload, status_code=status, headers=headers)


def request_id_of(request: Request) -> str | None:
    found: str | None = getattr(request.state, "request_id", None)
    return found


async def _send_now(app: Container, refund: Refund) -> Refund:
    """One try at the provider right away; the periodic run owns whatever stays open."""
    if refund.status is not RefundStatus.APPROVED:
        return refund
    return await execute_refund(app.uow_factory, app.providers, refund.id, now=app.clock())


async def create_refund(request: Request) -> Response:
    who = await caller(request, Role.FINANCE)
    key = _idempotency_key(request)
    payment_id = _payment_id(request)
    body = await parse_json_body(request, CreateRefund)
    app = container(request)
    settings = app.settings

    def respond(refund: Refund) -> StoredResponse:
        return StoredResponse(201, json.dumps(refund_resource(refund)))

    asked = await service.request_refund(
        app.uow_factory,
        caller=who,
        payment_id=payment_id,
        amount=body.amount,
        reason=body.reason,
        expected_available=body.expected_available,
        idempotency=IdempotentRequest(
            key=key,
            fingerprint=fingerprint(
                "POST", f"/v1/payments/{payment_id}/refunds", body.model_dump(mode="json")
            ),
        ),
        policy=service.RefundPolicy(
            approval_threshold=settings.refund_approval_threshold,
            idempotency_ttl=timedelta(hours=settings.idempotency_ttl_hours),
        ),
        respond=respond,
        now=app.clock(),
        request_id=request_id_of(request),
    )
    headers = {"Idempotent-Replayed": "true" if asked.replayed else "false"}
    if asked.refund is not None:
        refund = await _send_now(app, asked.refund)
    else:
        # A replay names its refund; show it as it stands now (it may have settled since).
        refund_id = service.replayed_refund_id(asked.response)
        if refund_id is None:
            return Response(
                asked.response.body,
                status_code=asked.response.status_code,
                headers=headers,
                media_type="application/json",
            )
        refund = await service.get_refund(app.uow_factory, who, refund_id)
    headers["Location"] = f"/v1/refunds/{refund.id}"
    return _json(refund_resource(refund), asked.response.status_code, headers)


async def get_refund(request: Request) -> Response:
    who = await caller(request, *READERS)
    app = container(request)
    refund = await service.get_refund(app.uow_factory, who, refund_id_of(request))
    return _json(refund_resource(refund))


async def refund_events(request: Request) -> Response:
    who = await caller(request, *READERS)
    app = container(request)
    events = await service.refund_events(app.uow_factory, who, refund_id_of(request))
    return _json({"data": [event_json(event) for event in events]})


async def list_refunds(request: Request) -> Response:
    who = await caller(request, *READERS)
    app = container(request)
    query = query_model(request, RefundQuery, multi=frozenset({"status"}))
    payment_id = query.payment_id
    if payment_id is not None and text_problem(payment_id):
        payment_id = "-"  # storable, and no payment's id: matches nothing, like any unknown id
    flt = RefundFilter(
        statuses=frozenset(RefundStatus(s) for s in query.status),
        payment_id=payment_id,
        created_from=aware(query.created_from, "created_from"),
        created_to=aware(query.created_to, "created_to"),
        escalated=query.escalated,
    )
    before = decode_cursor(query.cursor) if query.cursor else None
    rows, has_more = await service.list_refunds(
        app.uow_factory, who, flt, before_id=before, limit=query.limit
    )
    last = rows[-1].id if rows else None
    return _json(page_body([refund_resource(r) for r in rows], has_more, last))


async def refund_candidates(request: Request) -> Response:
    who = await caller(request, *STAFF)
    app = container(request)
    query = query_model(request, CandidateQuery)
    before = decode_cursor(query.cursor) if query.cursor else None
    rows, has_more = await service.refund_candidates(
        app.uow_factory, who, before_id=before, limit=query.limit
    )
    data = [
        {
            "payment": payment_json(row.payment, app.settings.base_url),
            "refunds": summary_json(row.totals),
        }
        for row in rows
    ]
    return _json(page_body(data, has_more, rows[-1].payment.id if rows else None))


async def payment_refunds(request: Request) -> Response:
    who = await caller(request, *READERS)
    app = container(request)
    found = await service.payment_refunds(app.uow_factory, who, _payment_id(request))
    return _json(
        {
            "payment_id": found.payment.id,
            "refunds": summary_json(found.totals),
            "data": [refund_resource(r) for r in found.refunds],
        }
    )


async def _decision(request: Request) -> str | None:
    body = await optional_json_body(request, RefundDecision)
    return body.note if body is not None else None


class Decision(Protocol):
    """A person's decision on a refund, with an optional note (the service checks the rest)."""

    async def __call__(
        self,
        uow_factory: WorkFactory,
        caller: Caller,
        refund_id: str,
        *,
        note: str | None,
        now: datetime,
        request_id: str | None = None,
    ) -> Refund: ...


def decision_endpoint(
    decide: Decision, *roles: Role, send_now: bool = False
) -> Callable[[Request], Awaitable[Response]]:
    """approve, reject, confirm, transfer-failed: the same request shape, another decision."""

    async def endpoint(request: Request) -> Response:
        who = await caller(request, *roles)
        app = container(request)
        refund_id = refund_id_of(request)
        note = await _decision(request)
        refund = await decide(
            app.uow_factory,
            who,
            refund_id,
            note=note,
            now=app.clock(),
            request_id=request_id_of(request),
        )
        if send_now:  # approved: try the provider once right away, like a new refund
            refund = await _send_now(app, refund)
        return _json(refund_resource(refund))

    return endpoint


approve_refund = decision_endpoint(service.approve_refund, Role.FINANCE, send_now=True)
reject_refund = decision_endpoint(service.reject_refund, Role.FINANCE)
confirm_refund = decision_endpoint(service.confirm_refund, Role.FINANCE, Role.ADMIN)
fail_refund_transfer = decision_endpoint(service.fail_refund_transfer, Role.FINANCE, Role.ADMIN)


_READ = tuple(r.value for r in READERS)
_DECISION_ERRORS = (400, 401, 403, 404, 409, 413, 415, 422)

routes = [
    api_route(
        Operation(
            "post",
            "/v1/payments/{payment_id}/refunds",
            "Refund (part of) a paid payment",
            "refunds",
            ("finance",),
            request=CreateRefund,
            response=RefundOut,
            status=201,
            headers=(("Idempotency-Key", "Unique per new refund; a retry reuses it.", True),),
            errors=(400, 401, 403, 404, 409, 412, 413, 415, 422),
        ),
        create_refund,
    ),
    api_route(
        Operation(
            "get",
            "/v1/payments/{payment_id}/refunds",
            "A payment's refunds and its refund summary",
            "refunds",
            _READ,
            response=PaymentRefundsOut,
            errors=(401, 403, 404),
        ),
        payment_refunds,
    ),
    api_route(
        Operation(
            "get",
            "/v1/refunds",
            "List refunds, newest first",
            "refunds",
            _READ,
            response=RefundPage,
            query=RefundQuery,
            errors=(400, 401, 403),
        ),
        list_refunds,
    ),
    # Before /v1/refunds/{refund_id}, which would take "candidates" for an id.
    api_route(
        Operation(
            "get",
            "/v1/refunds/candidates",
            "Paid payments flagged late, for review or overpaid",
            "refunds",
            tuple(r.value for r in STAFF),
            response=CandidatePage,
            query=CandidateQuery,
            errors=(400, 401, 403),
        ),
        refund_candidates,
    ),
    api_route(
        Operation(
            "get",
            "/v1/refunds/{refund_id}",
            "Read a refund",
            "refunds",
            _READ,
            response=RefundOut,
            errors=(401, 403, 404),
        ),
        get_refund,
    ),
    api_route(
        Operation(
            "get",
            "/v1/refunds/{refund_id}/events",
            "A refund's transitions with their causes and actors",
            "refunds",
            _READ,
            response=RefundEventList,
            errors=(401, 403, 404),
        ),
        refund_events,
    ),
    api_route(
        Operation(
            "post",
            "/v1/refunds/{refund_id}/approve",
            "Approve a refund awaiting approval (another finance officer)",
            "refunds",
            ("finance",),
            request=RefundDecision,
            request_required=False,
            response=RefundOut,
            errors=_DECISION_ERRORS,
        ),
        approve_refund,
    ),
    api_route(
        Operation(
            "post",
            "/v1/refunds/{refund_id}/reject",
            "Reject a refund awaiting approval",
            "refunds",
            ("finance",),
            request=RefundDecision,
            request_required=False,
            response=RefundOut,
            errors=_DECISION_ERRORS,
        ),
        reject_refund,
    ),
    api_route(
        Operation(
            "post",
            "/v1/refunds/{refund_id}/confirm",
            "Confirm the outgoing transfer of a submitted (VietQR) refund",
            "refunds",
            ("finance", "admin"),
            request=RefundDecision,
            request_required=False,
            response=RefundOut,
            errors=_DECISION_ERRORS,
        ),
        confirm_refund,
    ),
    api_route(
        Operation(
            "post",
            "/v1/refunds/{refund_id}/transfer-failed",
            "Report that the outgoing transfer of a submitted (VietQR) refund failed "
            "(note required)",
            "refunds",
            ("finance", "admin"),
            request=RefundDecision,
            request_required=False,
            response=RefundOut,
            errors=_DECISION_ERRORS,
        ),
        fail_refund_transfer,
    ),
]

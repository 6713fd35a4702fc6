"""/v1/payments: create, read, list, cancel, events."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from payments.collection.usecases import payments as service
from payments.domain.access import Role
from payments.domain.budget import BudgetDestination
from payments.domain.errors import FieldProblem, NotFound
from payments.domain.payments import Payer, Payment, PaymentDraft, PaymentKind, PaymentStatus
from payments.domain.text import text_problem
from payments.entrypoints.api import schemas
from payments.entrypoints.api.operations import Operation, api_route
from payments.entrypoints.api.presenters import event_json, payment_detail_json, payment_json
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
from payments.services.ports import PaymentFilter, StoredResponse

READERS = (Role.PORTAL, Role.FINANCE, Role.TREASURY, Role.ADMIN)
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


class PaymentQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: str | None = Field(default=None, max_length=64)
    status: list[schemas.Status] = Field(default_factory=list)
    kind: schemas.Kind | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    left_for_review: bool = Field(
        default=False,
        description="Only payments with an open attempt left for review (its status query "
        "ladder ended without a final answer from the provider).",
    )
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=128)

    @field_validator("reference")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        # PostgreSQL refuses NUL in text: a reference no payment can have is a 400, not a 500.
        problem = text_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value


def _idempotency_key(request: Request) -> str:
    key = request.headers.get("idempotency-key")
    if key is None:
        raise ApiError(
            400,
            "idempotency-key-required",
            "Idempotency-Key required",
            "send an Idempotency-Key header (a unique value per new payment)",
            [FieldProblem("Idempotency-Key", "is required")],
        )
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise ApiError(
            400,
            "invalid-idempotency-key",
            "Invalid Idempotency-Key",
            "the Idempotency-Key must be 1 to 255 visible ASCII characters",
            [FieldProblem("Idempotency-Key", "1 to 255 visible ASCII characters")],
        )
    return key


def _draft(body: schemas.CreatePayment) -> PaymentDraft:
    return PaymentDraft(
        reference=body.reference,
        kind=PaymentKind(body.kind),
        amount=body.amount,
        currency=body.currency,
        description=body.description,
        payer=Payer(
            name=body.payer.name,
            id_number=body.payer.id_number,
            tax_code=body.payer.tax_code,
            email=body.payer.email,
            phone=body.payer.phone,
        ),
        budget=BudgetDestination(
            treasury_account=body.budget.treasury_account,
            treasury_code=body.budget.treasury_code,
            collecting_agency=body.budget.collecting_agency,
            chapter=body.budget.chapter,
            sub_item=body.budget.sub_item,
            area=body.budget.area,
        ),
        return_url=body.return_url,
        tax_code=body.tax_code,
        declaration_number=body.declaration_number,
        notify_url=body.notify_url,
        expires_at=body.expires_at,
        metadata=dict(body.metadata),
    )


def _payment_id(request: Request) -> str:
    """The path's payment id; one that cannot be stored (NUL, control characters) is unknown."""
    payment_id: str = request.path_params["payment_id"]
    if text_problem(payment_id):
        raise NotFound(f"no payment {payment_id!r}")
    return payment_id


def _json(payload: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(payload, status_code=status, headers=headers)


async def create_payment(request: Request) -> Response:
    who = await caller(request, Role.PORTAL)
    key = _idempotency_key(request)
    body = await parse_json_body(request, schemas.CreatePayment)
    app = container(request)
    settings = app.settings
    base_url = settings.base_url

    def respond(payment: Payment) -> StoredResponse:
        return StoredResponse(201, json.dumps(payment_json(payment, base_url)))

    created = await service.create_payment(
        app.uow_factory,
        caller=who,
        draft=_draft(body),
        idempotency=service.IdempotentRequest(
            key=key,
            fingerprint=service.fingerprint("POST", "/v1/payments", body.model_dump(mode="json")),
        ),
        limits=service.CreationLimits(
            max_amount=settings.max_amount,
            # Every agency pays through every configured provider: what they can take.
            currencies=app.providers.currencies,
            allow_plain_http=settings.sandbox,
            default_expiry=timedelta(minutes=settings.default_expiry_minutes),
            max_expiry=timedelta(minutes=settings.max_expiry_minutes),
            idempotency_ttl=timedelta(hours=settings.idempotency_ttl_hours),
        ),
        respond=respond,
        now=app.clock(),
        request_id=getattr(request.state, "request_id", None),
    )
    stored = created.response
    headers = {"Idempotent-Replayed": "true" if created.replayed else "false"}
    # A replay has only the stored answer to go by; a fresh creation knows its payment.
    payment_id = created.payment.id if created.payment else json.loads(stored.body).get("id")
    if payment_id:
        headers["Location"] = f"/v1/payments/{payment_id}"
    return Response(
        stored.body, status_code=stored.status_code, headers=headers, media_type="application/json"
    )


async def get_payment(request: Request) -> Response:
    who = await caller(request, *READERS)
    app = container(request)
    payment, attempts = await service.payment_with_attempts(
        app.uow_factory, who, _payment_id(request)
    )
    return _json(payment_detail_json(payment, attempts, app.settings.base_url))


async def list_payments(request: Request) -> Response:
    who = await caller(request, *READERS)
    app = container(request)
    query = query_model(request, PaymentQuery, multi=frozenset({"status"}))
    flt = PaymentFilter(
        reference=query.reference,
        statuses=frozenset(PaymentStatus(s) for s in query.status),
        kind=PaymentKind(query.kind) if query.kind else None,
        created_from=aware(query.created_from, "created_from"),
        created_to=aware(query.created_to, "created_to"),
        left_for_review=query.left_for_review,
    )
    before = decode_cursor(query.cursor) if query.cursor else None
    rows, has_more = await service.list_payments(
        app.uow_factory, who, flt, before_id=before, limit=query.limit
    )
    last = rows[-1].id if rows else None
    return _json(page_body([payment_json(p, app.settings.base_url) for p in rows], has_more, last))


async def cancel_payment(request: Request) -> Response:
    who = await caller(request, Role.PORTAL, Role.ADMIN)
    app = container(request)
    body = await optional_json_body(request, schemas.CancelPayment)
    reason = body.reason if body is not None else None
    payment = await service.cancel_payment(
        app.uow_factory,
        who,
        _payment_id(request),
        reason=reason,
        now=app.clock(),
        request_id=getattr(request.state, "request_id", None),
    )
    return _json(payment_json(payment, app.settings.base_url))


async def payment_events(request: Request) -> Response:
    who = await caller(request, *READERS)
    app = container(request)
    events = await service.payment_events(app.uow_factory, who, _payment_id(request))
    return _json({"data": [event_json(event) for event in events]})


READ_ROLES = ("portal", "finance", "treasury", "admin")
routes = [
    api_route(
        Operation(
            "post",
            "/v1/payments",
            "Create a payment request",
            "payments",
            ("portal",),
            request=schemas.CreatePayment,
            response=schemas.PaymentOut,
            status=201,
            headers=(("Idempotency-Key", "Unique per new payment; a retry reuses it.", True),),
            errors=(400, 401, 403, 409, 413, 415, 422),
        ),
        create_payment,
    ),
    api_route(
        Operation(
            "get",
            "/v1/payments",
            "List payments, newest first",
            "payments",
            READ_ROLES,
            response=schemas.PaymentPage,
            query=PaymentQuery,
            errors=(400, 401, 403),
        ),
        list_payments,
    ),
    api_route(
        Operation(
            "get",
            "/v1/payments/{payment_id}",
            "Read a payment, with its attempts",
            "payments",
            READ_ROLES,
            response=schemas.PaymentDetailOut,
            errors=(401, 403, 404),
        ),
        get_payment,
    ),
    api_route(
        Operation(
            "post",
            "/v1/payments/{payment_id}/cancel",
            "Cancel an unpaid payment",
            "payments",
            ("portal", "admin"),
            request=schemas.CancelPayment,
            request_required=False,
            response=schemas.PaymentOut,
            errors=(400, 401, 403, 404, 409, 422),
        ),
        cancel_payment,
    ),
    api_route(
        Operation(
            "get",
            "/v1/payments/{payment_id}/events",
            "A payment's transitions with their causes",
            "payments",
            READ_ROLES,
            response=schemas.PaymentEventList,
            errors=(401, 403, 404),
        ),
        payment_events,
    ),
]

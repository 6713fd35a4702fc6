"""/v1/refunds/{id}/resolution: two finance officers settle by hand a refund the provider would
not answer for certain (raised to people: ``GET /v1/refunds?escalated=true``).

``POST /v1/refunds/{id}/resolution`` proposes (``succeeded`` with the provider's refund number,
or ``failed``, and a note saying how the officer knows); ``.../resolution/confirm`` by another
officer applies it; ``.../resolution/decline`` by another officer drops it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from payments.domain.access import Role
from payments.entrypoints.api import schemas
from payments.entrypoints.api.operations import Operation, api_route
from payments.entrypoints.api.refunds import (
    RefundDecision,
    RefundOut,
    decision_endpoint,
    refund_id_of,
    request_id_of,
)
from payments.http.requests import caller, container, parse_json_body
from payments.refunds.rules.lifecycle import ResolutionOutcome
from payments.refunds.rules.resource import refund_resource
from payments.refunds.usecases import resolutions as service


class ProposeResolution(schemas.Strict):
    outcome: Literal["succeeded", "failed"]
    provider_refund_id: str | None = Field(
        default=None,
        max_length=64,
        description="The provider's own number for the refund; required when it succeeded.",
    )
    note: schemas.Description = Field(
        description="How the officer knows what the provider did (its portal, statement, desk)."
    )


async def propose(request: Request) -> Response:
    who = await caller(request, Role.FINANCE)
    refund_id = refund_id_of(request)
    body = await parse_json_body(request, ProposeResolution)
    app = container(request)
    refund = await service.propose_resolution(
        app.uow_factory,
        who,
        refund_id,
        outcome=ResolutionOutcome(body.outcome),
        provider_refund_id=body.provider_refund_id,
        note=body.note,
        now=app.clock(),
        request_id=request_id_of(request),
    )
    return JSONResponse(refund_resource(refund))


confirm = decision_endpoint(service.confirm_resolution, Role.FINANCE)
decline = decision_endpoint(service.decline_resolution, Role.FINANCE)

_ERRORS = (400, 401, 403, 404, 409, 413, 415, 422)

routes = [
    api_route(
        Operation(
            "post",
            "/v1/refunds/{refund_id}/resolution",
            "Propose how an unknown or pending refund ended at the provider (four eyes)",
            "refunds",
            ("finance",),
            request=ProposeResolution,
            response=RefundOut,
            errors=_ERRORS,
        ),
        propose,
    ),
    api_route(
        Operation(
            "post",
            "/v1/refunds/{refund_id}/resolution/confirm",
            "Confirm another officer's proposed settlement: the refund moves and is booked",
            "refunds",
            ("finance",),
            request=RefundDecision,
            request_required=False,
            response=RefundOut,
            errors=_ERRORS,
        ),
        confirm,
    ),
    api_route(
        Operation(
            "post",
            "/v1/refunds/{refund_id}/resolution/decline",
            "Decline another officer's proposed settlement",
            "refunds",
            ("finance",),
            request=RefundDecision,
            request_required=False,
            response=RefundOut,
            errors=_ERRORS,
        ),
        decline,
    ),
]

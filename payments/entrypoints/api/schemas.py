"""Request and response schemas. The same models validate requests and generate OpenAPI."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from payments.domain.text import normalise, text_problem


def _clean(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return normalise(value)


# Annotated aliases, spelled out so mypy sees plain str.
Name = Annotated[
    str, StringConstraints(strict=True, max_length=200), AfterValidator(_clean), Field(min_length=1)
]
Short = Annotated[
    str, StringConstraints(strict=True, max_length=64), AfterValidator(_clean), Field(min_length=1)
]
Code = Annotated[
    str, StringConstraints(strict=True, max_length=32), AfterValidator(_clean), Field(min_length=1)
]
Description = Annotated[
    str, StringConstraints(strict=True, max_length=500), AfterValidator(_clean), Field(min_length=1)
]
Url = Annotated[
    str,
    StringConstraints(strict=True, max_length=2000),
    AfterValidator(_clean),
    Field(min_length=1),
]
MetaKey = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")
]
MetaValue = Annotated[str, StringConstraints(strict=True, max_length=500), AfterValidator(_clean)]

Kind = Literal["fee", "charge", "tax", "customs_duty"]
Status = Literal["created", "pending", "succeeded", "failed", "cancelled", "expired"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PayerIn(Strict):
    name: Name = Field(description="Payer's full name as on the dossier.")
    id_number: Code | None = Field(default=None, description="Citizen ID or passport number.")
    tax_code: Code | None = Field(default=None, description="Payer's tax code (MST).")
    email: Url | None = None
    phone: Code | None = None


class BudgetIn(Strict):
    treasury_account: Code = Field(description="State Treasury account, e.g. 7111.")
    treasury_code: Code = Field(description="Code of the receiving treasury (KBNN).")
    collecting_agency: Code = Field(description="Code of the collecting authority.")
    chapter: Code = Field(description="Budget chapter code, 3 digits.")
    sub_item: Code = Field(description="Economic sub-item code (tieu muc), 4 digits.")
    area: Code | None = Field(default=None, description="Administrative area code.")


class CreatePayment(Strict):
    reference: Short = Field(description="The portal's dossier or voucher number.")
    kind: Kind
    amount: StrictInt = Field(description="Integer amount in minor units (VND has none).")
    currency: Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Z]{3}$")] = Field(
        default="VND",
        description=(
            "ISO 4217 code. Only a currency the agency's payment providers can take is accepted "
            "(today VND only); any other is refused with 422, the problem naming the accepted "
            "currencies."
        ),
    )
    description: Description
    payer: PayerIn
    budget: BudgetIn
    tax_code: Code | None = Field(default=None, description="Required for kind 'tax'.")
    declaration_number: Code | None = Field(
        default=None, description="Customs declaration number; required for 'customs_duty'."
    )
    return_url: Url = Field(description="Where the citizen's browser goes back to.")
    notify_url: Url | None = None
    expires_at: datetime | None = Field(
        default=None, description="RFC 3339 time with offset; default from configuration."
    )
    metadata: dict[MetaKey, MetaValue] = Field(
        default_factory=dict, max_length=20, description="Up to 20 short strings for the portal."
    )


class CancelPayment(Strict):
    reason: Description | None = None


class PayerOut(BaseModel):
    name: str
    id_number: str | None
    tax_code: str | None
    email: str | None
    phone: str | None


class BudgetOut(BaseModel):
    treasury_account: str
    treasury_code: str
    collecting_agency: str
    chapter: str
    sub_item: str
    area: str | None


class PaymentFlagsOut(BaseModel):
    late: bool = Field(
        description="Paid after the payment was cancelled or expired: money was taken anyway."
    )
    needs_review: bool = Field(
        description="A person should look at it (late, overpaid, or an odd callback)."
    )
    received_amount: int = Field(
        description="Minor units received so far; a bank transfer may arrive in parts."
    )
    overpaid_amount: int = Field(
        description="Minor units received beyond the amount: to be refunded to the payer."
    )


class PaymentOut(BaseModel):
    id: str
    object: Literal["payment"]
    status: Status
    reference: str
    kind: Kind
    amount: int
    currency: str
    description: str
    payer: PayerOut
    budget: BudgetOut
    tax_code: str | None
    declaration_number: str | None
    return_url: str
    notify_url: str | None
    metadata: dict[str, str]
    flags: PaymentFlagsOut
    checkout_url: str
    expires_at: datetime
    created_at: datetime
    updated_at: datetime


class AttemptOut(BaseModel):
    id: str
    provider: Literal["vnpay", "momo", "vietqr"]
    provider_ref: str = Field(
        description="What the provider knows the attempt by (vnp_TxnRef, MoMo orderId, the "
        "VietQR transfer reference)."
    )
    status: Literal["pending", "unknown", "succeeded", "failed", "duplicate_capture"] = Field(
        description="pending: the provider said 'later', or has not been asked yet; unknown: "
        "the provider left our question unanswered (timeout, 5xx, an unusable answer) and "
        "has said nothing else; only its own answer replaces it. duplicate_capture: paid "
        "after another attempt had succeeded (owed back to the payer)."
    )
    amount: int
    currency: str
    result_code: str | None = Field(description="The provider's own code, when it answered.")
    provider_txn_id: str | None
    query_count: int = Field(description="Status queries made so far.")
    next_query_at: datetime | None = Field(
        description="When the provider is asked next; null once settled or left for review."
    )
    left_for_review_at: datetime | None = Field(
        description="When the attempt, still open, reached the end of its query ladder: "
        "nobody asks the provider again, a person should look at it."
    )
    created_at: datetime
    updated_at: datetime


class PaymentDetailOut(PaymentOut):
    attempts: list[AttemptOut] = Field(description="Every provider try, oldest first.")


class PaymentPage(BaseModel):
    data: list[PaymentOut]
    has_more: bool
    next_cursor: str | None


class PaymentEventOut(BaseModel):
    id: int
    payment_id: str
    from_status: Status | None
    to_status: Status
    cause: str
    actor: str
    occurred_at: datetime
    detail: dict[str, object]


class PaymentEventList(BaseModel):
    data: list[PaymentEventOut]


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None
    request_id: str | None = None

"""/v1/reconciliation's request and response models: what the spec says and what is validated."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from payments.domain.access import Role
from payments.entrypoints.day_runs import FIRST_DAY, LAST_DAY
from payments.reconcile.rules.matching import Outcome

STAFF = (Role.TREASURY, Role.ADMIN)


AGENCY = r"^[A-Za-z0-9_.-]{1,32}$"


OutcomeName = Literal[
    "matched",
    "late",
    "amount_mismatch",
    "duplicate",
    "unknown_at_gateway",
    "missing_at_treasury",
    "ignored",
    "provider_missing",
    "provider_unknown",
    "provider_amount_mismatch",
    "provider_duplicate",
    "refund_matched",
    "refund_missing_at_provider",
    "refund_unknown_at_gateway",
    "refund_amount_mismatch",
    "refund_duplicate",
]


OUTCOME_COUNT = len(Outcome)


class RunsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    business_date: date | None = Field(default=None, ge=FIRST_DAY, le=LAST_DAY)
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=200)


class ItemsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: list[OutcomeName] = Field(default_factory=list, max_length=OUTCOME_COUNT)
    state: Literal["open", "resolved", "closed"] | None = None
    agency: str | None = Field(default=None, pattern=AGENCY)
    provider: Literal["vnpay", "momo", "vietqr"] | None = None
    treasury_code: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]{1,20}$")
    chapter: str | None = Field(default=None, pattern=r"^[0-9]{3}$")
    sub_item: str | None = Field(default=None, pattern=r"^[0-9]{4}$")
    payment_id: str | None = Field(default=None, pattern=r"^pay_[0-9A-Z]{26}$")
    refund_id: str | None = Field(default=None, pattern=r"^rfd_[0-9A-Z]{26}$")
    limit: int = Field(default=100, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=200)


class ExportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: list[OutcomeName] = Field(default_factory=list, max_length=OUTCOME_COUNT)
    state: Literal["open", "resolved", "closed"] | None = None
    agency: str | None = Field(default=None, pattern=AGENCY)
    provider: Literal["vnpay", "momo", "vietqr"] | None = None


class RunDay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    business_date: date = Field(
        ge=FIRST_DAY, le=LAST_DAY, description="The Vietnam business day to reconcile."
    )


class Resolve(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=2000, description="Why the item is explained.")


class OutcomeTotalOut(BaseModel):
    count: int
    gateway_amount: int
    treasury_amount: int


class RunOut(BaseModel):
    id: int
    business_date: date
    started_at: datetime
    finished_at: datetime
    actor: str
    statements: list[int]
    config: dict[str, Any]
    totals: dict[str, OutcomeTotalOut]
    item_count: int
    matched_gateway_total: int
    matched_treasury_total: int
    posted_payments: int = Field(description="Payments whose remittance the run posted.")
    posted_entries: int = Field(description="Ledger entries the run posted.")
    settled_payments: int = Field(
        description="Payments whose provider settlement the run booked from the report."
    )
    awaiting_settlement: int = Field(
        description="Payments the treasury confirmed whose remittance waits for their "
        "provider's settlement report."
    )


class RunPageOut(BaseModel):
    data: list[RunOut]
    has_more: bool
    next_cursor: str | None


class BreakdownOut(BaseModel):
    key: str | None
    outcome: OutcomeName
    count: int
    gateway_amount: int
    treasury_amount: int


class RunReportOut(RunOut):
    is_latest: bool
    by_agency: list[BreakdownOut]
    by_treasury_code: list[BreakdownOut]
    by_chapter: list[BreakdownOut]
    by_sub_item: list[BreakdownOut]
    by_provider: list[BreakdownOut]


class ItemOut(BaseModel):
    id: int
    run_id: int
    item_key: str | None = Field(description="Exceptions only: stable across reruns.")
    outcome: OutcomeName
    state: Literal["open", "resolved", "closed"]
    payment_id: str | None
    refund_id: str | None = Field(description="refund_* outcomes: the refund the item is about.")
    line_number: int | None
    currency: str
    gateway_amount: int | None
    treasury_amount: int | None
    reference: str | None
    batch_reference: str | None
    agency: str | None
    treasury_code: str | None
    chapter: str | None
    sub_item: str | None
    provider: str | None
    booking_date: date | None
    days_late: int | None
    note: str
    resolution_note: str | None
    resolved_by: str | None
    resolved_at: datetime | None


class ItemPageOut(BaseModel):
    data: list[ItemOut]
    has_more: bool
    next_cursor: str | None


class HistoryOut(BaseModel):
    run_id: int
    action: str
    actor: str
    note: str
    occurred_at: datetime


class ItemDetailOut(ItemOut):
    business_date: date
    history: list[HistoryOut]

"""The payment JSON the API answers with, against the published schemas (PaymentOut, and
PaymentDetailOut with its attempts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from payments.domain.attempts import Attempt, AttemptStatus, Provider
from payments.domain.budget import BudgetDestination
from payments.domain.payments import (
    Payer,
    Payment,
    PaymentDraft,
    PaymentFlags,
    PaymentKind,
    PaymentStatus,
)
from payments.entrypoints.api.presenters import payment_detail_json, payment_json
from payments.entrypoints.api.schemas import AttemptOut, PaymentDetailOut, PaymentOut

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def payment(flags: PaymentFlags) -> Payment:
    draft = PaymentDraft(
        reference="HS-1",
        kind=PaymentKind.FEE,
        amount=150_000,
        currency="VND",
        description="Le phi",
        payer=Payer(name="Nguyen Van A"),
        budget=BudgetDestination("7111", "0011", "1054321", "755", "2662"),
        return_url="https://portal.example.vn/back",
    )
    return Payment(
        id="pay_1",
        agency_id=1,
        draft=draft,
        status=PaymentStatus.SUCCEEDED,
        checkout_token="tok",
        expires_at=NOW + timedelta(hours=1),
        created_at=NOW,
        updated_at=NOW,
        flags=flags,
    )


def same_keys(data: dict[str, Any], model: type[BaseModel]) -> None:
    """Every key the presenter writes is in the schema and the other way round, nested too."""
    assert set(data) == set(model.model_fields), model.__name__
    for name, info in model.model_fields.items():
        nested = info.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            same_keys(data[name], nested)


def test_payment_json_matches_the_schema_field_for_field() -> None:
    data = payment_json(payment(PaymentFlags()), "https://pay.test")
    same_keys(data, PaymentOut)
    PaymentOut.model_validate(data)


def test_flags_tell_the_portal_what_needs_a_person() -> None:
    flags = PaymentFlags(
        late=True, needs_review=True, received_amount=200_000, overpaid_amount=50_000
    )
    data = payment_json(payment(flags), "https://pay.test")
    assert data["flags"] == {
        "late": True,
        "needs_review": True,
        "received_amount": 200_000,
        "overpaid_amount": 50_000,
    }
    plain = payment_json(payment(PaymentFlags()), "https://pay.test")["flags"]
    assert plain == {
        "late": False,
        "needs_review": False,
        "received_amount": 0,
        "overpaid_amount": 0,
    }


def test_the_detail_shows_each_attempt_and_whether_it_waits_for_people() -> None:
    left = Attempt(
        "att_1", "pay_1", Provider.MOMO, "att_1", "MOMO", 150_000, "VND", AttemptStatus.UNKNOWN,
        NOW, NOW + timedelta(hours=24), query_count=7, left_for_review_at=NOW + timedelta(hours=24),
    )  # fmt: skip
    data = payment_detail_json(payment(PaymentFlags()), [left], "https://pay.test")
    same_keys(data, PaymentDetailOut)
    same_keys(data["attempts"][0], AttemptOut)
    PaymentDetailOut.model_validate(data)
    shown = data["attempts"][0]
    assert (shown["status"], shown["next_query_at"], shown["left_for_review_at"]) == (
        "unknown",
        None,
        "2026-11-23T03:00:00Z",
    )

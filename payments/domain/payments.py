"""Payment requests: kinds, statuses, the transition table and the creation rules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from payments.domain import urls
from payments.domain.budget import BudgetDestination
from payments.domain.errors import FieldProblem, InvalidInput, InvalidTransition
from payments.domain.money import is_known_currency


class PaymentKind(StrEnum):
    FEE = "fee"
    CHARGE = "charge"
    TAX = "tax"
    CUSTOMS_DUTY = "customs_duty"


class PaymentStatus(StrEnum):
    CREATED = "created"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


S = PaymentStatus

# A failed attempt does not end the payment: the citizen may try another provider until
# expiry. A success after cancellation or expiry is money taken, so it is still recorded
# (and flagged by the service that applies it).
TRANSITIONS: Mapping[PaymentStatus, frozenset[PaymentStatus]] = {
    S.CREATED: frozenset({S.PENDING, S.CANCELLED, S.EXPIRED}),
    S.PENDING: frozenset({S.PENDING, S.SUCCEEDED, S.FAILED, S.CANCELLED, S.EXPIRED}),
    S.FAILED: frozenset({S.PENDING, S.SUCCEEDED, S.CANCELLED, S.EXPIRED}),
    S.CANCELLED: frozenset({S.SUCCEEDED}),
    S.EXPIRED: frozenset({S.SUCCEEDED}),
    S.SUCCEEDED: frozenset(),
}

# Statuses in which a payment still "holds" its reference: a second payment for the same
# dossier would risk charging the citizen twice.
HOLDS_REFERENCE = frozenset({S.CREATED, S.PENDING, S.FAILED, S.SUCCEEDED})
CANCELLABLE = frozenset({S.CREATED, S.PENDING, S.FAILED})
EXPIRABLE = frozenset({S.CREATED, S.PENDING, S.FAILED})


def check_transition(payment_id: str, current: PaymentStatus, wanted: PaymentStatus) -> None:
    if wanted not in TRANSITIONS[current]:
        raise InvalidTransition(payment_id, current.value, wanted.value)


@dataclass(frozen=True)
class Payer:
    name: str
    id_number: str | None = None
    tax_code: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class PaymentDraft:
    """What a portal asks for, after the shape of the request has been checked."""

    reference: str
    kind: PaymentKind
    amount: int
    currency: str
    description: str
    payer: Payer
    budget: BudgetDestination
    return_url: str
    tax_code: str | None = None
    declaration_number: str | None = None
    notify_url: str | None = None
    expires_at: datetime | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CreationRules:
    """The limits a draft is checked against; built from settings and the agency."""

    max_amount: int
    currencies: frozenset[str]  # what the agency's providers can take (ProviderRegistry)
    allowed_hosts: frozenset[str]
    allow_plain_http: bool
    now: datetime
    default_expiry: timedelta
    max_expiry: timedelta


@dataclass(frozen=True)
class PaymentFlags:
    """What a human should look at, and the money actually received (minor units)."""

    late: bool = False  # paid after it was cancelled or expired
    needs_review: bool = False
    received_amount: int = 0
    overpaid_amount: int = 0  # received beyond the amount asked: to be refunded


@dataclass(frozen=True)
class Payment:
    id: str
    agency_id: int
    draft: PaymentDraft
    status: PaymentStatus
    checkout_token: str
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    flags: PaymentFlags = field(default_factory=PaymentFlags)


TAX_CODE = re.compile(r"\d{10}(-\d{3})?")
DECLARATION_NUMBER = re.compile(r"\d{12}")
ID_NUMBER = re.compile(r"[0-9A-Za-z]{6,20}")
PHONE = re.compile(r"\+?\d{8,15}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def url_problem(url: str, rules: CreationRules) -> str | None:
    return urls.url_problem(url, rules.allowed_hosts, allow_plain_http=rules.allow_plain_http)


def currency_problem(currency: str, accepted: frozenset[str]) -> str | None:
    """Why a payment in ``currency`` cannot be taken by what takes ``accepted`` (a provider,
    or all the providers of an agency); None when it can. The message names what is accepted."""
    if currency in accepted:
        return None
    allowed = f"accepted currencies: {', '.join(sorted(accepted)) or 'none'}"
    if not is_known_currency(currency):
        return f"{currency!r} is not an ISO 4217 code ({allowed})"
    return f"{currency!r} is not accepted ({allowed})"


def validate_draft(draft: PaymentDraft, rules: CreationRules) -> datetime:
    """Check every business rule at once; return the effective expiry.

    Raises InvalidInput listing all problems, so a portal can fix a request in one go.
    """
    problems: list[FieldProblem] = []
    if draft.amount <= 0:
        problems.append(FieldProblem("amount", "must be a positive integer of minor units"))
    elif draft.amount > rules.max_amount:
        problems.append(FieldProblem("amount", f"must not exceed {rules.max_amount}"))
    problem = currency_problem(draft.currency, rules.currencies)
    if problem:
        problems.append(FieldProblem("currency", problem))
    problems.extend(draft.budget.problems())
    problems.extend(_kind_problems(draft))
    problems.extend(_payer_problems(draft.payer))
    problem = url_problem(draft.return_url, rules)
    if problem:
        problems.append(FieldProblem("return_url", problem))
    if draft.notify_url is not None:
        problem = url_problem(draft.notify_url, rules)
        if problem:
            problems.append(FieldProblem("notify_url", problem))
    expires_at = draft.expires_at or rules.now + rules.default_expiry
    if expires_at.tzinfo is None:
        problems.append(FieldProblem("expires_at", "must carry a time zone offset"))
    elif expires_at <= rules.now:
        problems.append(FieldProblem("expires_at", "must be in the future"))
    elif expires_at > rules.now + rules.max_expiry:
        problems.append(
            FieldProblem("expires_at", f"must be within {rules.max_expiry.days} days from now")
        )
    if problems:
        raise InvalidInput(problems)
    return expires_at


def _kind_problems(draft: PaymentDraft) -> list[FieldProblem]:
    found: list[FieldProblem] = []
    if draft.kind is PaymentKind.TAX and draft.tax_code is None:
        found.append(FieldProblem("tax_code", "is required for kind 'tax'"))
    if draft.tax_code is not None and not TAX_CODE.fullmatch(draft.tax_code):
        found.append(FieldProblem("tax_code", "must be 10 digits, or 10 digits-3 digits"))
    if draft.kind is PaymentKind.CUSTOMS_DUTY and draft.declaration_number is None:
        found.append(FieldProblem("declaration_number", "is required for kind 'customs_duty'"))
    if draft.declaration_number is not None and not DECLARATION_NUMBER.fullmatch(
        draft.declaration_number
    ):
        found.append(FieldProblem("declaration_number", "must be a 12-digit declaration number"))
    return found


def _payer_problems(payer: Payer) -> list[FieldProblem]:
    found: list[FieldProblem] = []
    if payer.id_number is not None and not ID_NUMBER.fullmatch(payer.id_number):
        found.append(FieldProblem("payer.id_number", "must be 6 to 20 letters or digits"))
    if payer.tax_code is not None and not TAX_CODE.fullmatch(payer.tax_code):
        found.append(FieldProblem("payer.tax_code", "must be 10 digits, or 10 digits-3 digits"))
    if payer.email is not None and not EMAIL.fullmatch(payer.email):
        found.append(FieldProblem("payer.email", "must be an email address"))
    if payer.phone is not None and not PHONE.fullmatch(payer.phone):
        found.append(FieldProblem("payer.phone", "must be 8 to 15 digits, optionally after +"))
    return found

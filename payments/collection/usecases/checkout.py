"""Checkout use cases: show a payment to its payer, start an attempt, apply what a provider says.

Each use case is one unit of work. Applying a provider outcome locks the payment row first, so
concurrent callbacks for one payment take turns; the attempt change, the payment transition,
its event, its ledger entry and the stored callback commit together or not at all. Starting an
attempt locks it too, so two choices posted at once cannot both start one.

Starting takes two steps around the provider call (no transaction stays open during it):
``start_attempt`` stores the attempt (or finds the open one to reuse), then ``record_start``
keeps the page the provider gave, or marks the attempt ``unknown`` when the provider did not
answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from payments.domain.access import Agency
from payments.domain.attempts import (
    DEFAULT_MAX_ATTEMPTS,
    OPEN_ATTEMPT,
    QUERYABLE,
    Attempt,
    AttemptStatus,
    Decision,
    Provider,
    ProviderOutcome,
    StartRefusal,
    Verdict,
    after_unanswered,
    choose_start,
    decide,
    new_attempt_id,
    next_query_at,
    provider_reference,
)
from payments.domain.callbacks import ProviderCallback
from payments.domain.errors import (
    AttemptRefused,
    CheckoutClosed,
    FieldProblem,
    InvalidInput,
    NotFound,
)
from payments.domain.events import PaymentEvent
from payments.domain.payments import Payment, PaymentStatus, check_transition, currency_problem
from payments.ledger import chart
from payments.ledger.entries import EntryDraft, credit, debit
from payments.ledger.posting import post_entry
from payments.services.outbox import publish_payment_status
from payments.services.ports import UnitOfWork, UnitOfWorkFactory

PAYABLE = frozenset({PaymentStatus.CREATED, PaymentStatus.PENDING, PaymentStatus.FAILED})


@dataclass(frozen=True)
class CheckoutView:
    payment: Payment
    agency: Agency
    attempts: tuple[Attempt, ...]
    # When the money was taken, as the provider said (its capture entry): the proof of payment.
    paid_at: datetime | None = None

    def payable(self, now: datetime) -> bool:
        return self.payment.status in PAYABLE and self.payment.expires_at > now


@dataclass(frozen=True)
class StartedAttempt:
    payment: Payment
    attempt: Attempt
    reused: bool = False  # the payer's open attempt, with the page it sent them to


REFUSALS = {
    StartRefusal.IN_PROGRESS: "an attempt at this provider is being started or checked",
    StartRefusal.TOO_MANY: "the payment has had as many attempts as it may",
    StartRefusal.UNCONFIRMED: "another attempt may still take the money: the payer must confirm",
    StartRefusal.TRANSFER_ONLY: "part of the amount came by bank transfer: the rest must too",
}


@dataclass(frozen=True)
class Applied:
    verdict: Verdict
    reason: str
    payment: Payment | None
    attempt: Attempt | None
    callback_id: int | None


async def checkout_view(uow_factory: UnitOfWorkFactory, token: str) -> CheckoutView:
    """What the checkout page shows; the token in the URL is the payer's only credential."""
    async with uow_factory() as uow:
        payment = await uow.payments.by_checkout_token(token)
        if payment is None:
            raise NotFound("no payment for this checkout link")
        agency = await uow.agencies.by_id(payment.agency_id)
        if agency is None:
            raise NotFound("no payment for this checkout link")
        attempts = await uow.attempts.for_payment(payment.id)
        paid_at = None
        if payment.status is PaymentStatus.SUCCEEDED:
            captured = await uow.ledger.entry_by_source_key(capture_key(payment.id))
            paid_at = captured.occurred_at if captured else None
    return CheckoutView(payment, agency, tuple(attempts), paid_at)


async def payment_by_id(uow_factory: UnitOfWorkFactory, payment_id: str) -> Payment:
    """For pages reached from a provider (return URLs), which carry no agency."""
    async with uow_factory() as uow:
        payment = await uow.payments.by_id(payment_id)
    if payment is None:
        raise NotFound(f"no payment {payment_id}")
    return payment


async def start_attempt(
    uow_factory: UnitOfWorkFactory,
    *,
    token: str,
    provider: Provider,
    merchant: str,
    currencies: frozenset[str],
    now: datetime,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    actor: str = "payer",
    confirmed: bool = False,
) -> StartedAttempt:
    """Open a new attempt at ``provider``, which takes ``currencies``; the payment becomes (or
    stays) ``pending``. A payment in a currency the provider cannot take is refused
    (InvalidInput on ``provider``) and nothing changes.

    The payer's open attempt at ``provider`` is reused (``reused``, nothing changes) while its
    page still works; one without a page yet, or one attempt beyond ``max_attempts``, is
    refused (AttemptRefused). So is a new attempt while another one the payer was sent to may
    still take the money, unless the payer ``confirmed`` it after being told, and one at a
    card or wallet provider once part of the amount came by transfer. The payment row is
    locked before its attempts are read, so concurrent choices take turns and see each other's
    attempt.
    """
    async with uow_factory() as uow:
        found = await uow.payments.by_checkout_token(token)
        if found is None:
            raise NotFound("no payment for this checkout link")
        payment = await uow.payments.by_id(found.id, lock=True)
        if payment is None:  # pragma: no cover - the row cannot vanish: payments are kept
            raise NotFound("no payment for this checkout link")
        if payment.status not in PAYABLE:
            raise CheckoutClosed(payment.id, payment.status.value)
        if payment.expires_at <= now:
            # The sweep has not caught up yet; the payer must not start paying regardless.
            raise CheckoutClosed(payment.id, PaymentStatus.EXPIRED.value)
        problem = currency_problem(payment.draft.currency, currencies)
        if problem:
            # Never a message in another currency: a provider would charge the amount as its own.
            raise InvalidInput([FieldProblem("provider", f"{provider} cannot take it: {problem}")])
        choice = choose_start(
            await uow.attempts.for_payment(payment.id),
            provider,
            now=now,
            max_attempts=max_attempts,
            received=payment.flags.received_amount,
            confirmed=confirmed,
        )
        if isinstance(choice, Attempt):
            return StartedAttempt(payment, choice, reused=True)
        if choice is not None:
            raise AttemptRefused(payment.id, choice.value, REFUSALS[choice])
        attempt_id = new_attempt_id(now)
        attempt = Attempt(
            id=attempt_id,
            payment_id=payment.id,
            provider=provider,
            provider_ref=provider_reference(provider, attempt_id),
            merchant=merchant,
            amount=payment.draft.amount,
            currency=payment.draft.currency,
            status=AttemptStatus.PENDING,
            created_at=now,
            updated_at=now,
            next_query_at=(
                next_query_at(now, payment.expires_at, after=now) if provider in QUERYABLE else None
            ),
        )
        await uow.attempts.add(attempt)
        updated = await move_payment(
            uow,
            payment,
            PaymentStatus.PENDING,
            cause=f"checkout.{provider}",
            actor=actor,
            now=now,
            detail={"attempt_id": attempt.id, "provider": provider.value},
        )
        await uow.commit()
    return StartedAttempt(updated, attempt)


async def record_start(
    uow_factory: UnitOfWorkFactory, attempt_id: str, redirect_url: str | None, *, now: datetime
) -> Attempt:
    """What the provider made of a new attempt: the page to send the payer to, or None when
    it did not answer (timeout, 5xx, an answer we cannot use), which leaves the attempt
    ``unknown`` until the provider itself says what became of it (the query ladder asks)."""
    async with uow_factory() as uow:
        return await _settle_question(uow, attempt_id, now, redirect_url=redirect_url)


async def record_unanswered(
    uow_factory: UnitOfWorkFactory, attempt_id: str, *, now: datetime
) -> Attempt:
    """A status query the provider left unanswered: ``unknown`` unless it said something
    about the attempt before (an unknown answer never overwrites a known one)."""
    async with uow_factory() as uow:
        return await _settle_question(uow, attempt_id, now, redirect_url=None)


async def _settle_question(
    uow: UnitOfWork, attempt_id: str, now: datetime, *, redirect_url: str | None
) -> Attempt:
    found = await uow.attempts.get(attempt_id)
    if found is None:
        raise NotFound(f"no attempt {attempt_id}")
    # Same lock order as applying an answer: a callback that came meanwhile has its say.
    await uow.payments.by_id(found.payment_id, lock=True)
    attempt = await uow.attempts.get(attempt_id)
    if attempt is None:  # pragma: no cover - rows are never deleted
        raise NotFound(f"no attempt {attempt_id}")
    if redirect_url is not None:
        changed = replace(attempt, redirect_url=redirect_url, updated_at=now)
    else:
        changed = replace(attempt, status=after_unanswered(attempt), updated_at=now)
        if changed.status is attempt.status:
            return attempt
    await uow.attempts.update(changed)
    await uow.commit()
    return changed


async def apply_provider_outcome(
    uow_factory: UnitOfWorkFactory,
    outcome: ProviderOutcome,
    *,
    callback: ProviderCallback | None,
    now: datetime,
) -> Applied:
    """Apply a verified provider message; store ``callback`` (its raw form) with the verdict.

    Safe to call any number of times with the same message: the second call changes nothing
    and posts nothing (the capture entry also carries a unique source key as a backstop).
    """
    async with uow_factory() as uow:
        found = await uow.attempts.by_provider_ref(outcome.provider, outcome.provider_ref)
        if found is None:
            callback_id = await keep_callback(
                uow, callback, None, Verdict.NOT_FOUND, "no such attempt"
            )
            await uow.commit()
            return Applied(Verdict.NOT_FOUND, "no such attempt", None, None, callback_id)
        # Lock order: payment row first, then read its attempts (no other writer can race).
        payment = await uow.payments.by_id(found.payment_id, lock=True)
        attempt = await uow.attempts.get(found.id)
        if payment is None or attempt is None:  # pragma: no cover - rows are never deleted
            raise NotFound(f"attempt {found.id} lost its payment")
        others = [a for a in await uow.attempts.for_payment(payment.id) if a.id != attempt.id]
        decision = decide(
            payment_status=payment.status,
            flags=payment.flags,
            attempt=attempt,
            outcome=outcome,
            other_attempt_succeeded=any(a.status is AttemptStatus.SUCCEEDED for a in others),
            other_attempt_open=any(a.status in OPEN_ATTEMPT for a in others),
        )
        if decision.verdict is Verdict.APPLIED:
            payment, attempt = await _apply(uow, payment, attempt, outcome, decision, now)
        callback_id = await keep_callback(
            uow, callback, attempt, decision.verdict, decision.reason, payment_id=payment.id
        )
        await uow.commit()
    return Applied(decision.verdict, decision.reason, payment, attempt, callback_id)


async def record_callback(
    uow_factory: UnitOfWorkFactory, callback: ProviderCallback
) -> ProviderCallback:
    """Keep a message that will not be applied (unverified, or a browser return) as it came,
    linked to its attempt and payment when its reference names one."""
    async with uow_factory() as uow:
        attempt = None
        if callback.provider_ref:
            attempt = await uow.attempts.by_provider_ref(callback.provider, callback.provider_ref)
        linked = replace(
            callback,
            attempt_id=attempt.id if attempt else None,
            payment_id=attempt.payment_id if attempt else None,
        )
        callback_id = await uow.callbacks.record(linked)
        await uow.commit()
    return replace(linked, id=callback_id)


def capture_key(payment_id: str) -> str:
    return f"payment:{payment_id}:captured"


def capture_entry(
    payment: Payment, agency_code: str, provider: Provider, occurred_at: datetime
) -> EntryDraft:
    """Payment succeeded: the provider owes us the money, we owe it to the budget."""
    amount, currency = payment.draft.amount, payment.draft.currency
    return EntryDraft(
        source_key=capture_key(payment.id),
        description=f"Payment {payment.id} captured by {provider}",
        occurred_at=occurred_at,
        legs=(
            debit(chart.provider_clearing(provider.value, currency), amount),
            credit(
                chart.budget_payable(agency_code, payment.draft.budget.sub_item, currency), amount
            ),
        ),
    )


def excess_entry(
    payment: Payment, provider: Provider, amount: int, event: str, occurred_at: datetime
) -> EntryDraft:
    """Money taken beyond what was asked (a second attempt, an overpaid transfer): the
    provider owes it to us and we owe it back to the payer. ``event`` names what took it."""
    currency = payment.draft.currency
    return EntryDraft(
        source_key=f"payment:{payment.id}:excess:{event}",
        description=f"Payment {payment.id}: {amount} received beyond the amount ({event})",
        occurred_at=occurred_at,
        legs=(
            debit(chart.provider_clearing(provider.value, currency), amount),
            credit(chart.refunds_payable(currency), amount),
        ),
    )


async def _apply(
    uow: UnitOfWork,
    payment: Payment,
    attempt: Attempt,
    outcome: ProviderOutcome,
    decision: Decision,
    now: datetime,
) -> tuple[Payment, Attempt]:
    final = decision.attempt_status not in OPEN_ATTEMPT
    attempt = replace(
        attempt,
        status=decision.attempt_status,
        result_code=outcome.result_code,
        provider_txn_id=outcome.provider_txn_id or attempt.provider_txn_id,
        updated_at=now,
        next_query_at=None if final else attempt.next_query_at,
        # The provider's final word settles what people were asked to look at.
        left_for_review_at=None if final else attempt.left_for_review_at,
    )
    await uow.attempts.update(attempt)
    detail: dict[str, Any] = {
        "attempt_id": attempt.id,
        "provider": attempt.provider.value,
        "result_code": outcome.result_code,
        "reason": decision.reason,
    }
    if decision.flags != payment.flags:
        await uow.payments.set_flags(payment.id, decision.flags, now)
        detail.update(late=decision.flags.late, needs_review=decision.flags.needs_review)
    cause = f"provider.{attempt.provider}.{decision.attempt_status}"
    updated = replace(payment, flags=decision.flags)
    if decision.changes_payment(payment.status) or decision.flags != payment.flags:
        updated = await move_payment(
            uow,
            updated,
            decision.payment_status,
            cause=cause,
            actor="provider",
            now=now,
            detail=detail,
        )
    occurred_at = outcome.occurred_at or now
    if decision.capture or decision.extra_capture:
        agency = await uow.agencies.by_id(payment.agency_id)
        if agency is None:  # pragma: no cover - agencies are never deleted
            raise NotFound(f"payment {payment.id} lost its agency")
        draft = (
            capture_entry(updated, agency.code, attempt.provider, occurred_at)
            if decision.capture
            else excess_entry(updated, attempt.provider, attempt.amount, attempt.id, occurred_at)
        )
        await post_entry(uow.ledger, draft, now=now)
    return updated, attempt


async def move_payment(
    uow: UnitOfWork,
    payment: Payment,
    status: PaymentStatus,
    *,
    cause: str,
    actor: str,
    now: datetime,
    detail: Mapping[str, Any],
) -> Payment:
    """Move the payment and record the event. A same-status move is recorded too (a new
    attempt while pending, a flag raised on a paid payment): every change has its cause."""
    before = payment.status
    if status is not before or status is PaymentStatus.PENDING:
        check_transition(payment.id, before, status)
    if status is not before:
        await uow.payments.set_status(payment.id, status, now)
    await uow.events.add(
        PaymentEvent(
            payment_id=payment.id,
            from_status=before.value,
            to_status=status.value,
            cause=cause,
            actor=actor,
            occurred_at=now,
            detail=dict(detail),
        )
    )
    moved = replace(payment, status=status, updated_at=now)
    if status is not before:
        await publish_payment_status(uow, moved, now)
    return moved


async def keep_callback(
    uow: UnitOfWork,
    callback: ProviderCallback | None,
    attempt: Attempt | None,
    verdict: Verdict,
    reason: str,
    *,
    payment_id: str | None = None,
) -> int | None:
    if callback is None:
        return None
    return await uow.callbacks.record(
        replace(
            callback,
            attempt_id=attempt.id if attempt else None,
            payment_id=payment_id,
            verdict=verdict,
            reason=reason,
        )
    )

"""Bank transfer credits (VietQR): match by reference, count each transfer once, apply.

One unit of work per credit: the credit row (unique per bank transfer id), the attempt and
payment changes, their event, the ledger entries and the stored callback commit together.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from payments.collection.usecases.checkout import (
    capture_entry,
    excess_entry,
    keep_callback,
    move_payment,
)
from payments.domain.attempts import AttemptStatus, Provider, Verdict
from payments.domain.callbacks import ProviderCallback
from payments.domain.credits import BankCredit, decide_credit
from payments.domain.errors import NotFound
from payments.domain.payments import Payment
from payments.ledger.posting import post_entry
from payments.services.ports import UnitOfWorkFactory


@dataclass(frozen=True)
class CreditApplied:
    verdict: Verdict
    reason: str
    payment: Payment | None


async def apply_bank_credit(
    uow_factory: UnitOfWorkFactory,
    credit: BankCredit,
    *,
    callback: ProviderCallback | None,
    now: datetime,
) -> CreditApplied:
    """Apply a verified credit notification. A credit whose reference names no attempt is
    kept, unmatched, for reconciliation; a transfer notified again changes nothing."""
    async with uow_factory() as uow:
        attempt = None
        if credit.reference:
            attempt = await uow.attempts.by_provider_ref(Provider.VIETQR, credit.reference)
        payment = await uow.payments.by_id(attempt.payment_id, lock=True) if attempt else None
        if attempt is not None:
            attempt = await uow.attempts.get(attempt.id)  # re-read under the payment's lock
        linked = replace(
            credit,
            attempt_id=attempt.id if attempt else None,
            payment_id=payment.id if payment else None,
        )
        if not await uow.credits.add(linked, now):
            await keep_callback(
                uow, callback, attempt, Verdict.DUPLICATE, "transfer already counted",
                payment_id=linked.payment_id,
            )  # fmt: skip
            await uow.commit()
            return CreditApplied(Verdict.DUPLICATE, "transfer already counted", payment)
        if attempt is None or payment is None:
            reason = "no attempt carries this reference: kept for reconciliation"
            await keep_callback(uow, callback, None, Verdict.NOT_FOUND, reason)
            await uow.commit()
            return CreditApplied(Verdict.NOT_FOUND, reason, None)
        others = [a for a in await uow.attempts.for_payment(payment.id) if a.id != attempt.id]
        decided = decide_credit(
            payment_status=payment.status,
            payment_amount=payment.draft.amount,
            flags=payment.flags,
            attempt=attempt,
            credit=credit,
            other_attempt_succeeded=any(a.status is AttemptStatus.SUCCEEDED for a in others),
        )
        decision = decided.decision
        if decision.attempt_status is not attempt.status:
            attempt = replace(
                attempt,
                status=decision.attempt_status,
                provider_txn_id=credit.transfer_id,
                result_code="credited",
                updated_at=now,
                next_query_at=None,
            )
            await uow.attempts.update(attempt)
        if decision.flags != payment.flags:
            await uow.payments.set_flags(payment.id, decision.flags, now)
        detail: dict[str, Any] = {
            "attempt_id": attempt.id,
            "provider": Provider.VIETQR.value,
            "transfer_id": credit.transfer_id,
            "amount": credit.amount,
            "received_amount": decision.flags.received_amount,
            "reason": decision.reason,
        }
        updated = await move_payment(
            uow,
            replace(payment, flags=decision.flags),
            decision.payment_status,
            cause=f"provider.vietqr.{decision.verdict}",
            actor="provider",
            now=now,
            detail=detail,
        )
        if decision.capture or decided.excess:
            agency = await uow.agencies.by_id(payment.agency_id)
            if agency is None:  # pragma: no cover - agencies are never deleted
                raise NotFound(f"payment {payment.id} lost its agency")
            if decision.capture:
                draft = capture_entry(updated, agency.code, Provider.VIETQR, credit.credited_at)
                await post_entry(uow.ledger, draft, now=now)
            if decided.excess:
                draft = excess_entry(
                    updated, Provider.VIETQR, decided.excess, credit.transfer_id, credit.credited_at
                )
                await post_entry(uow.ledger, draft, now=now)
        await keep_callback(
            uow, callback, attempt, decision.verdict, decision.reason, payment_id=payment.id
        )
        await uow.commit()
    return CreditApplied(decision.verdict, decision.reason, updated)

"""The frame every officer's decision on a refund runs in.

Approve, reject, confirm a transfer, report it failed, propose, confirm or decline a settlement
by hand: each is one transaction on the locked refund row, visible only to the refund's own
agency, audited in that same transaction. A decision that finds its work already done (the same
officer approving twice) returns the refund as it is and writes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from payments.domain.access import Caller, Role
from payments.domain.errors import NotFound, NotPermitted
from payments.domain.events import AuditEntry
from payments.refunds.ports import RefundWork, RefundWorkFactory
from payments.refunds.rules.lifecycle import Refund


@dataclass(frozen=True)
class Decided:
    """What a decision did: the refund after it, and the audit action it is recorded under
    (``None``: a repeat of what is already done, nothing written)."""

    refund: Refund
    action: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


Decision = Callable[[RefundWork, Refund], Awaitable[Decided]]


def require_officer(caller: Caller, *roles: Role) -> None:
    allowed = roles or (Role.FINANCE,)
    if caller.role not in allowed:
        names = ", ".join(r.value for r in allowed)
        raise NotPermitted(f"this action needs the role {names}; the key has {caller.role.value}")


async def decide(
    uow_factory: RefundWorkFactory,
    caller: Caller,
    refund_id: str,
    decision: Decision,
    *,
    now: datetime,
    request_id: str | None,
) -> Refund:
    """Run ``decision`` on the locked refund; audit and commit what it did."""
    async with uow_factory() as uow:
        refund = await visible_refund(uow, caller, refund_id, lock=True)
        decided = await decision(uow, refund)
        if decided.action is None:
            return decided.refund
        await audit_refund(
            uow, caller, decided.action, decided.refund, now, request_id, **decided.detail
        )
        await uow.commit()
    return decided.refund


async def visible_refund(
    uow: RefundWork, caller: Caller, refund_id: str, *, lock: bool = False
) -> Refund:
    refund = await uow.refunds.get(refund_id, lock=lock)
    if refund is None or refund.agency_id != caller.agency_id:
        # Another agency's refund answers exactly like a missing one.
        raise NotFound(f"no refund {refund_id}")
    return refund


async def audit_refund(
    uow: RefundWork,
    caller: Caller,
    action: str,
    refund: Refund,
    now: datetime,
    request_id: str | None,
    **detail: Any,
) -> None:
    await uow.audit.record(
        AuditEntry(
            action=action,
            actor=caller.actor,
            occurred_at=now,
            agency_id=caller.agency_id,
            target_type="refund",
            target_id=refund.id,
            detail={"payment_id": refund.payment_id, **detail},
            request_id=request_id,
        )
    )

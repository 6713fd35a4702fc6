"""Provider status queries after a day's run: treasury credits naming a payment we do not
know as succeeded (``unknown_at_gateway``) are asked about at their provider; a confirmed
success is applied like any provider answer (a recorded late success) and noted on the item.
"""

from __future__ import annotations

from datetime import datetime

from payments.domain.attempts import OPEN_ATTEMPT, QUERYABLE, Attempt, Provider, Result, Verdict
from payments.reconcile.matching import Outcome
from payments.services.checkout import apply_provider_outcome
from payments.services.ports import StatusQuery, UnitOfWork, UnitOfWorkFactory
from payments.services.reconcile_ports import HistoryEntry, ItemFilter, RunRecord
from payments.services.reconcile_write import SYSTEM


async def ask_providers(
    uow_factory: UnitOfWorkFactory, run: RunRecord, status_query: StatusQuery, now: datetime
) -> tuple[list[str], int]:
    """Unknown-at-gateway credits naming one of our attempts or payments: ask its provider;
    a confirmed success is applied (a recorded late success) and noted on the item."""
    confirmed: list[str] = []
    unanswered = 0
    after: int | None = None
    flt = ItemFilter(outcomes=frozenset({Outcome.UNKNOWN_AT_GATEWAY}))
    while True:
        async with uow_factory() as uow:
            page = await uow.reconciliation.items(run.id, flt, after_id=after, limit=500)
            asks = [(stored, await _open_attempts(uow, stored.item.reference)) for stored in page]
        if not page:
            break
        after = page[-1].id
        for stored, attempts in asks:
            for attempt in attempts:
                outcome = await status_query(attempt, now)
                if outcome is None:
                    unanswered += 1
                    continue
                if outcome.result is not Result.SUCCEEDED:
                    continue
                applied = await apply_provider_outcome(uow_factory, outcome, callback=None, now=now)
                if applied.verdict is not Verdict.APPLIED or applied.payment is None:
                    continue
                confirmed.append(applied.payment.id)
                note = (
                    (f"{stored.item.note}; " if stored.item.note else "")
                    + f"{attempt.provider.value} confirmed payment {applied.payment.id}: "
                    + ("recorded as a late success; rerun the day to match it")
                )
                async with uow_factory() as uow:
                    await uow.reconciliation.annotate(stored.id, note)
                    await uow.reconciliation.add_history(
                        [
                            HistoryEntry(
                                run.business_date,
                                stored.item_key or "",
                                run.id,
                                "provider_confirmed",
                                SYSTEM,
                                note,
                                now,
                            )
                        ]
                    )
                    await uow.commit()
    return confirmed, unanswered


async def _open_attempts(uow: UnitOfWork, reference: str | None) -> list[Attempt]:
    """The still-open attempts a line's reference names that a provider can be asked about."""
    if reference is None:
        return []
    if reference.startswith("att_"):
        found = await uow.attempts.get(reference)
        attempts = [found] if found is not None else []
    elif reference.startswith("pay_"):
        attempts = list(await uow.attempts.for_payment(reference))
    else:
        found = await uow.attempts.by_provider_ref(Provider.VIETQR, reference)
        attempts = [found] if found is not None else []
    return [a for a in attempts if a.status in OPEN_ATTEMPT and a.provider in QUERYABLE]

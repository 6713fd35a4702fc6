"""Ask providers about open attempts on a ladder (1 min, 5 min, 30 min, 2 h, then daily),
and always before the payment may expire.

Attempts are claimed (SKIP LOCKED) and their next query pushed out in one short transaction,
so several workers never ask about one attempt at once and no database transaction stays
open during a provider call. An answer is applied like a callback; an unknown answer (timeout,
5xx, unusable) changes no state: it only moves the attempt up the ladder.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from payments.domain.attempts import Attempt, next_query_at
from payments.domain.callbacks import VERIFIED, Channel, ProviderCallback
from payments.services.checkout import apply_provider_outcome
from payments.services.ports import StatusQuery, UnitOfWorkFactory


@dataclass(frozen=True)
class RequeryReport:
    asked: int
    answered: int
    unknown: int


async def claim_due_attempts(
    uow_factory: UnitOfWorkFactory, *, now: datetime, limit: int
) -> list[Attempt]:
    async with uow_factory() as uow:
        due = await uow.attempts.claim_due(now, limit)
        claimed = []
        for attempt in due:
            moved = replace(
                attempt,
                query_count=attempt.query_count + 1,
                next_query_at=next_query_at(now, attempt.query_count + 1),
            )
            await uow.attempts.update(moved)
            claimed.append(moved)
        await uow.commit()
    return claimed


async def requery_due_attempts(
    uow_factory: UnitOfWorkFactory, query: StatusQuery, *, now: datetime, limit: int = 100
) -> RequeryReport:
    answered = unknown = 0
    claimed = await claim_due_attempts(uow_factory, now=now, limit=limit)
    for attempt in claimed:
        outcome = await query(attempt, now)
        if outcome is None:
            unknown += 1
            continue
        answered += 1
        await apply_provider_outcome(
            uow_factory,
            outcome,
            callback=ProviderCallback(
                provider=attempt.provider,
                channel=Channel.QUERY,
                payload={"result": outcome.result.value, "result_code": outcome.result_code},
                received_at=now,
                verification=VERIFIED,
                provider_ref=attempt.provider_ref,
            ),
            now=now,
        )
    return RequeryReport(len(claimed), answered, unknown)

"""Ask providers about open attempts on a finite ladder counted from the attempt's start
(1 min, 5 min, 30 min, 2 h, 6 h, 24 h), and once when the payment expires, before the
expiry sweep (``attempts.query_schedule``).

Attempts are claimed (SKIP LOCKED) and their next query pushed out in one short transaction,
so several workers never ask about one attempt at once and no database transaction stays
open during a provider call. An answer is applied like a callback. An unknown answer (timeout,
5xx, unusable) makes an attempt the provider never talked about ``unknown`` and changes nothing
else. The claim of the ladder's last step leaves the attempt for review: nobody asks again
unless a provider's message settles it, and the API lists it for people.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from payments.collection.usecases.checkout import apply_provider_outcome, record_unanswered
from payments.domain.attempts import Attempt, next_query_at
from payments.domain.callbacks import VERIFIED, Channel, ProviderCallback
from payments.services.ports import StatusQuery, UnitOfWorkFactory


@dataclass(frozen=True)
class RequeryReport:
    asked: int
    answered: int
    unknown: int
    left_for_review: int = 0  # asked for the last time (an open answer leaves it for people)


async def claim_due_attempts(
    uow_factory: UnitOfWorkFactory, *, now: datetime, limit: int
) -> list[Attempt]:
    async with uow_factory() as uow:
        due = await uow.attempts.claim_due(now, limit)
        claimed = []
        for item in due:
            attempt = item.attempt
            upcoming = next_query_at(attempt.created_at, item.payment_expires_at, after=now)
            moved = replace(
                attempt,
                query_count=attempt.query_count + 1,
                next_query_at=upcoming,
                # Marked in the claim, so a crash during the last query still leaves it marked;
                # a final answer clears the mark.
                left_for_review_at=now if upcoming is None else attempt.left_for_review_at,
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
            await record_unanswered(uow_factory, attempt.id, now=now)
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
    last = sum(1 for attempt in claimed if attempt.next_query_at is None)
    return RequeryReport(len(claimed), answered, unknown, last)

"""Provider status queries after a day's run, the same for both sides: each still-open attempt
that a line unknown at the gateway (a treasury credit) or unknown to the gateway's books (a
provider's settlement line) names is asked about at its provider. A confirmed success is
applied like any provider answer; every answer labels the item (``unknown_lines``).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from payments.collection.usecases.checkout import apply_provider_outcome
from payments.domain.attempts import OPEN_ATTEMPT, QUERYABLE, Attempt, Provider, Result, Verdict
from payments.reconcile.ports import (
    HistoryEntry,
    ItemFilter,
    ReconcileWork,
    ReconcileWorkFactory,
    RunRecord,
    StoredItem,
)
from payments.reconcile.rules.matching import MatchItem
from payments.reconcile.rules.unknown_lines import (
    UNTIED,
    answer_note,
    asked_provider,
    confirmed_note,
    with_note,
)
from payments.reconcile.usecases.write import SYSTEM
from payments.services.ports import StatusQuery

PAGE = 500


class Label(NamedTuple):
    action: str  # the item's history: provider_confirmed, provider_answered
    note: str


class _Asking:
    """One run's questions: each attempt is asked once, however many lines name it (a
    treasury credit and a provider's line often name the same one)."""

    def __init__(
        self, uow_factory: ReconcileWorkFactory, query: StatusQuery, now: datetime
    ) -> None:
        self.uow_factory, self.query, self.now = uow_factory, query, now
        self.answers: dict[str, Label | None] = {}
        self.confirmed: list[str] = []
        self.unanswered = 0

    async def label(self, attempt: Attempt) -> Label | None:
        if attempt.id not in self.answers:
            self.answers[attempt.id] = await self._ask(attempt)
        return self.answers[attempt.id]

    async def _ask(self, attempt: Attempt) -> Label | None:
        outcome = await self.query(attempt, self.now)
        if outcome is None:
            self.unanswered += 1
            return None
        provider = attempt.provider.value
        if outcome.result is not Result.SUCCEEDED:
            return Label("provider_answered", answer_note(provider, attempt.id, outcome.result))
        applied = await apply_provider_outcome(
            self.uow_factory, outcome, callback=None, now=self.now
        )
        if applied.verdict is not Verdict.APPLIED or applied.payment is None:
            note = answer_note(provider, attempt.id, outcome.result, applied.reason)
            return Label("provider_answered", note)
        self.confirmed.append(applied.payment.id)
        late = applied.payment.flags.late
        return Label("provider_confirmed", confirmed_note(provider, applied.payment.id, late=late))


async def ask_providers(
    uow_factory: ReconcileWorkFactory, run: RunRecord, status_query: StatusQuery, now: datetime
) -> tuple[list[str], int]:
    """Ask about the open attempts the run's unknown lines name; the payments confirmed, and
    how many attempts got no answer."""
    asking = _Asking(uow_factory, status_query, now)
    after: int | None = None
    flt = ItemFilter(outcomes=UNTIED)
    while True:
        async with uow_factory() as uow:
            page = await uow.reconciliation.items(run.id, flt, after_id=after, limit=PAGE)
            asks = [(stored, await _open_attempts(uow, stored.item)) for stored in page]
        if not page:
            break
        after = page[-1].id
        for stored, attempts in asks:
            labels = [label for a in attempts if (label := await asking.label(a)) is not None]
            if labels:
                await _annotate(uow_factory, run, stored, labels, now)
    return asking.confirmed, asking.unanswered


async def _annotate(
    uow_factory: ReconcileWorkFactory,
    run: RunRecord,
    stored: StoredItem,
    labels: list[Label],
    now: datetime,
) -> None:
    note = stored.item.note
    for label in labels:
        note = with_note(note, label.note)
    key = stored.item_key or ""
    entries = [
        HistoryEntry(run.business_date, key, run.id, label.action, SYSTEM, label.note, now)
        for label in labels
    ]
    async with uow_factory() as uow:
        await uow.reconciliation.annotate(stored.id, note)
        await uow.reconciliation.add_history(entries)
        await uow.commit()


async def _open_attempts(uow: ReconcileWork, item: MatchItem) -> list[Attempt]:
    """The still-open attempts a line's reference names that a provider can be asked about."""
    reference = item.reference
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
    provider = asked_provider(item)
    return [
        a
        for a in attempts
        if a.status in OPEN_ATTEMPT
        and a.provider in QUERYABLE
        and (provider is None or a.provider.value == provider)
    ]

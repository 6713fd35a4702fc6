"""Remittance entries of a day's run. The treasury confirmed it received the money, so it is
no longer owed by us: Dr budget-payable:<agency>:<sub-item> / Cr collection-bank.

Money leaves the collection account only after it arrived there: a payment is remitted once
its provider's settlement is booked (``reconcile_settlements``). A payment the treasury
confirmed before that is recorded as confirmed with no entry, and its remittance posts in the
run that books its settlement (``post_awaiting``), so the collection account never reads
negative.

One entry covers up to ``REMITTANCE_CHUNK`` payments (legs summed per account), keyed by the
day and a digest of its payments; ``reconcile_remittances`` holds one row per payment (primary
key), so a payment is posted at most once whatever reruns happen. Posting a million payments
as a million entries would cost a million round trips through the single write path; a hundred
entries cost nothing next to the matching, and every invariant (balanced, unique source key,
the chain sealing them later) still holds because they go through ``post_entry``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date, datetime
from operator import attrgetter

from payments.ledger import chart
from payments.ledger.entries import EntryDraft, credit, debit
from payments.ledger.posting import post_entry
from payments.reconcile.ports import ReconcileWork, Remittance
from payments.reconcile.rules.matching import GatewayPayment, MatchItem, Outcome
from payments.reconcile.usecases.imports import Progress

REMITTANCE_CHUNK = 10_000  # payments per remittance ledger entry


_BY_PAYMENT_ID = attrgetter("payment_id")  # C-level key: a million items are sorted


def remittance_chunks(matched: Sequence[MatchItem]) -> list[list[MatchItem]]:
    """The items of the remittance entries: by payment id, ``REMITTANCE_CHUNK`` each. Every
    one names a payment (only those are remitted)."""
    ordered = sorted(matched, key=_BY_PAYMENT_ID)
    return [
        ordered[start : start + REMITTANCE_CHUNK]
        for start in range(0, len(ordered), REMITTANCE_CHUNK)
    ]


def remittance_draft(
    day: date, chunk: Sequence[MatchItem], occurred_at: datetime
) -> tuple[EntryDraft, list[str]]:
    """One remittance entry (legs summed per account) and the payments it covers; its source
    key is the day and a digest of those payments."""
    payable: dict[tuple[str, str, str], int] = {}
    get = payable.get
    for item in chunk:
        key = (item.agency or "", item.sub_item or "", item.currency)
        payable[key] = get(key, 0) + (item.gateway_amount or 0)
    bank: dict[str, int] = {}
    for (_, _, currency), amount in payable.items():
        bank[currency] = bank.get(currency, 0) + amount
    ids = [item.payment_id or "" for item in chunk]
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:40]
    legs = [
        debit(chart.budget_payable(agency, sub_item, currency), amount)
        for (agency, sub_item, currency), amount in sorted(payable.items())
    ]
    legs += [credit(chart.collection_bank(c), amount) for c, amount in sorted(bank.items())]
    draft = EntryDraft(
        source_key=f"remittance:{day.isoformat()}:{digest}",
        description=f"Remitted to the State Treasury: {len(chunk)} payment(s) "
        f"confirmed on the statement of {day.isoformat()}",
        occurred_at=occurred_at,
        legs=tuple(legs),
    )
    return draft, ids


def as_remitted(payment: GatewayPayment) -> MatchItem:
    """A payment whose remittance waited, as the item the remittance entry is drafted from."""
    return MatchItem(
        Outcome.MATCHED, payment.payment_id, None, payment.currency, payment.amount,
        payment.amount, payment.provider_ref, payment.batch_reference, payment.agency,
        payment.treasury_code, payment.chapter, payment.sub_item, payment.provider, None,
        None, "remittance released by the payment's settlement",
    )  # fmt: skip


async def post_remittances(
    uow: ReconcileWork,
    day: date,
    run_id: int,
    chunks: Sequence[Sequence[MatchItem]],
    now: datetime,
    progress: Progress,
    *,
    released: bool = False,
) -> None:
    """Post the remittance entries through the ledger's write path and record which payments
    each covers; each entry is drafted when its turn comes (not all hundred at once).
    ``released``: the payments were confirmed earlier and waited for their settlement (their
    rows get the entry).

    No worker thread here: a thread busy with Python holds the interpreter lock for up to
    its switch interval whenever a database answer arrives, which costs more than it saves
    on a loop of round trips."""
    repo = uow.reconciliation
    posted = 0
    for chunk in chunks:
        draft, ids = remittance_draft(day, chunk, now)
        posted_entry = await post_entry(uow.ledger, draft, now=now)
        if released:
            await repo.post_awaiting(posted_entry.entry.id, ids)
        else:
            await repo.add_remittances(Remittance("", day, run_id, posted_entry.entry.id), ids)
        posted += len(ids)
        progress("post", posted)

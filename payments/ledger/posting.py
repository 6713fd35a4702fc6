"""The one write path of the ledger: post an entry, reverse an entry.

Every service that moves money calls these with the store of its own unit of work, so the
entry commits or rolls back together with the business change it records. Nothing here
commits.

Guarantees (each pinned by tests in tests/unit/ledger and tests/integration/ledger):
- a draft that breaks a rule raises UnbalancedEntry before anything is written;
- a source key posts at most once: the same content again returns the original entry,
  different content raises SourceKeyConflict, also when two transactions race;
- an entry is reversed at most once, by its exact inverse (AlreadyReversed otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from payments.domain.errors import FieldProblem
from payments.ledger.entries import (
    Account,
    Entry,
    EntryDraft,
    draft_problems,
    reversal_draft,
    same_content,
)
from payments.ledger.errors import (
    AlreadyReversed,
    EntryNotFound,
    SourceKeyConflict,
    UnbalancedEntry,
)
from payments.ledger.ports import LedgerStore


@dataclass(frozen=True)
class Posted:
    entry: Entry
    replayed: bool


async def post_entry(store: LedgerStore, draft: EntryDraft, *, now: datetime) -> Posted:
    problems = draft_problems(draft)
    if problems:
        raise UnbalancedEntry(problems)
    codes = sorted({leg.account.code for leg in draft.legs})
    accounts = await store.accounts_by_code(codes)
    _check_account_definitions(draft, accounts)
    missing = [leg.account for leg in draft.legs if leg.account.code not in accounts]
    if missing:
        # Decide replays before creating anything, so a rejected post leaves no new accounts.
        earlier = await store.entry_by_source_key(draft.source_key)
        if earlier is not None:
            return _replay(draft, earlier)
        await store.open_accounts(list(dict.fromkeys(missing)), now)
        accounts = await store.accounts_by_code(codes)
        _check_account_definitions(draft, accounts)
    entry_id = await store.insert_entry(draft, accounts, now)
    if entry_id is None:
        return await _resolve_clash(store, draft)
    return Posted(_recorded(draft, entry_id, now), replayed=False)


async def reverse_entry(
    store: LedgerStore,
    entry_id: int,
    *,
    now: datetime,
    occurred_at: datetime | None = None,
    source_key: str | None = None,
    description: str | None = None,
) -> Posted:
    """Post the exact inverse of entry ``entry_id``.

    Without ``source_key`` the reversal is keyed ``reversal:<id>``, so asking twice returns
    the same reversal; a second reversal under another key raises AlreadyReversed.
    """
    original = await store.entry(entry_id)
    if original is None:
        raise EntryNotFound(entry_id)
    draft = reversal_draft(
        original,
        occurred_at=occurred_at or now,
        source_key=source_key,
        description=description,
    )
    earlier = await store.entry_by_source_key(draft.source_key)
    if earlier is not None:
        return _replay(draft, earlier)
    existing = await store.reversal_of(entry_id)
    if existing is not None:
        raise AlreadyReversed(entry_id, existing.id)
    return await post_entry(store, draft, now=now)


def _check_account_definitions(draft: EntryDraft, accounts: dict[str, Account]) -> None:
    problems = [
        FieldProblem(
            f"legs[{index}].account",
            f"{leg.account.code} is a {found.type} account in {found.currency}",
        )
        for index, leg in enumerate(draft.legs)
        if (found := accounts.get(leg.account.code)) is not None
        and (found.type, found.currency) != (leg.account.type, leg.account.currency)
    ]
    if problems:
        raise UnbalancedEntry(problems)


async def _resolve_clash(store: LedgerStore, draft: EntryDraft) -> Posted:
    earlier = await store.entry_by_source_key(draft.source_key)
    if earlier is not None:
        return _replay(draft, earlier)
    if draft.reversal_of is not None:
        existing = await store.reversal_of(draft.reversal_of)
        if existing is not None:
            raise AlreadyReversed(draft.reversal_of, existing.id)
    # The store promised a clash on one of the two keys; anything else is a store bug.
    raise RuntimeError(f"ledger store refused {draft.source_key!r} without a clash")


def _replay(draft: EntryDraft, earlier: Entry) -> Posted:
    if not same_content(draft, earlier):
        raise SourceKeyConflict(draft.source_key, earlier.id)
    return Posted(earlier, replayed=True)


def _recorded(draft: EntryDraft, entry_id: int, recorded_at: datetime) -> Entry:
    return Entry(
        id=entry_id,
        source_key=draft.source_key,
        description=draft.description,
        occurred_at=draft.occurred_at,
        recorded_at=recorded_at,
        legs=draft.legs,
        reversal_of=draft.reversal_of,
    )

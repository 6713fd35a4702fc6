"""The hash chain, no I/O (invariant 8): any change to a sealed entry changes its hash."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from payments.ledger.chain import GENESIS, entry_hash, extend_chain, link_hash
from payments.ledger.entries import Entry, EntryDraft, Leg
from tests.support.ledger_strategies import accounts_for, drafts

ACCOUNTS = accounts_for("c")
NOW = datetime(2026, 11, 22, tzinfo=UTC)


def stored(draft: EntryDraft, entry_id: int) -> Entry:
    return Entry(entry_id, draft.source_key, draft.description, draft.occurred_at, NOW, draft.legs)


@given(drafts(ACCOUNTS, "k"), st.data())
def test_every_field_is_covered_by_the_entry_hash(draft: EntryDraft, data: st.DataObject) -> None:
    entry = stored(draft, 1)
    leg = entry.legs[0]
    edits = [
        replace(entry, id=2),
        replace(entry, source_key="k2"),
        replace(entry, description=entry.description + "."),
        replace(entry, occurred_at=entry.occurred_at + timedelta(microseconds=1)),
        replace(entry, recorded_at=NOW + timedelta(seconds=1)),
        replace(entry, reversal_of=9),
        replace(entry, legs=(Leg(leg.account, leg.side, leg.amount + 1), *entry.legs[1:])),
        replace(entry, legs=(leg.inverse(), *entry.legs[1:])),
        replace(entry, legs=entry.legs[1:]),
    ]
    original = entry_hash(entry)
    assert all(entry_hash(edited) != original for edited in edits)
    shuffled = data.draw(st.permutations(entry.legs))
    assert entry_hash(replace(entry, legs=tuple(shuffled))) == original


@given(st.lists(drafts(ACCOUNTS, "k"), min_size=1, max_size=6), st.integers(0, 5))
def test_chain_extends_in_batches_to_the_same_head(batch: list[EntryDraft], cut: int) -> None:
    entries = [stored(draft, n + 1) for n, draft in enumerate(batch)]
    whole = extend_chain(None, entries)
    first = extend_chain(None, entries[:cut])
    rest = extend_chain(first[-1] if first else None, entries[cut:])
    assert first + rest == whole
    assert [link.position for link in whole] == list(range(1, len(entries) + 1))
    previous = GENESIS
    for link in whole:
        assert link.chain_hash == link_hash(previous, link.entry_hash)
        previous = link.chain_hash

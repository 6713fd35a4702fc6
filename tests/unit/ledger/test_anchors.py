"""Anchors, no I/O: how they read and print, and that a rewritten chain cannot meet one.

The last tests play the intruder on the in-memory store: edit a sealed entry, throw the
chain away and seal again. ``verify`` alone passes (the new chain is consistent with itself);
with the anchor written before, it fails and names the anchor.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.ledger import chart
from payments.ledger.anchors import (
    Anchor,
    InvalidAnchor,
    anchor_problem,
    head_anchor,
    looks_like_anchor,
    parse_anchor,
    parse_anchor_lines,
)
from payments.ledger.chain import GENESIS, ChainLink, extend_chain
from payments.ledger.entries import Entry, EntryDraft, credit, debit
from payments.ledger.posting import post_entry
from payments.ledger.verification import seal_journal, verify_ledger
from tests.support.ledger_strategies import accounts_for, drafts
from tests.unit.fake_ledger import FakeLedgerStore, LedgerData

H1 = "ab" * 32
H2 = "cd" * 32
AT = datetime(2026, 11, 23, 18, 0, 5, tzinfo=UTC)
ACCOUNTS = accounts_for("a")


def test_an_anchor_reads_and_prints_as_position_colon_hash() -> None:
    anchor = parse_anchor(f" 1064:{H1.upper()} ")
    assert anchor == Anchor(1064, H1)
    assert str(anchor) == f"1064:{H1}"
    assert looks_like_anchor(f"1064:{H1}")
    assert not looks_like_anchor("anchors.log")
    stamped = replace(anchor, anchored_at=AT)
    assert stamped.line() == f"2026-11-23T18:00:05Z 1064:{H1}"
    assert stamped.payload() == {
        "anchor": f"1064:{H1}",
        "position": 1064,
        "chain_hash": H1,
        "anchored_at": "2026-11-23T18:00:05Z",
    }
    # What a file line says comes back unchanged.
    assert parse_anchor_lines([stamped.line()], source="f") == [stamped]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1064",
        f"1064-{H1}",
        f"-1:{H1}",
        f"12:{H1[:-1]}",
        f"12:{H1}0",
        f"12:{'g' * 64}",
        f"x:{H1}",
    ],
)
def test_anything_else_is_not_an_anchor(text: str) -> None:
    with pytest.raises(InvalidAnchor):
        parse_anchor(text)


def test_position_zero_is_the_empty_chain_only() -> None:
    assert parse_anchor(f"0:{GENESIS}") == head_anchor(None)
    with pytest.raises(InvalidAnchor, match="empty chain"):
        parse_anchor(f"0:{H1}")


def test_an_anchor_file_keeps_every_line_and_names_a_bad_one() -> None:
    lines = [
        "# anchors of the production ledger\n",
        f"2026-11-22T18:00:03Z 900:{H1}\n",
        "\n",
        f"2026-11-23T01:00:03+07:00 1064:{H2}\n",
        f"12:{H1}\n",  # written by hand, no time
    ]
    anchors = parse_anchor_lines(lines, source="anchors.log")
    assert [(a.position, a.chain_hash, a.origin) for a in anchors] == [
        (900, H1, "anchors.log:2"),
        (1064, H2, "anchors.log:4"),
        (12, H1, "anchors.log:5"),
    ]
    assert anchors[1].anchored_at == datetime(2026, 11, 22, 18, 0, 3, tzinfo=UTC)
    assert anchors[2].anchored_at is None
    assert "anchors.log:4" in anchors[1].describe()
    for bad, why in [
        (f"yesterday 12:{H1}", "not an ISO 8601 time"),
        (f"2026-11-23T01:00:03 12:{H1}", "no time zone"),
        (f"2026-11-23T01:00:03Z 12 {H1}", "expected"),
        ("2026-11-23T01:00:03Z 12:abc", "is not <position>"),
    ]:
        with pytest.raises(InvalidAnchor, match=f"anchors.log:3: .*{why}"):
            parse_anchor_lines([lines[1], "", bad], source="anchors.log")


def test_an_anchor_holds_only_where_the_journal_still_reaches_it() -> None:
    anchor = Anchor(12, H1, AT, origin="anchors.log:7")
    assert anchor_problem(anchor, H1, 20) is None
    rewritten = anchor_problem(anchor, H2, 20)
    assert rewritten is not None
    assert rewritten.startswith(f"anchor 12:{H1} (anchors.log:7, anchored 2026-11-23T18:00:05Z)")
    assert f"now hashes to {H2} at position 12" in rewritten
    shorter = anchor_problem(anchor, None, 9)
    assert shorter is not None
    assert "the chain ends at position 9, before the anchored position 12" in shorter


def test_the_head_of_a_chain_is_its_anchor() -> None:
    link = ChainLink(7, 41, H2, H1)
    assert head_anchor(link, AT) == Anchor(7, H1, AT)
    assert str(head_anchor(None)) == f"0:{GENESIS}"


# --- verify with anchors, on the in-memory store ---------------------------------------------


def stored(draft: EntryDraft, entry_id: int) -> Entry:
    return Entry(entry_id, draft.source_key, draft.description, draft.occurred_at, AT, draft.legs)


@given(st.lists(drafts(ACCOUNTS, "k"), min_size=1, max_size=8), st.data())
def test_an_edit_before_the_anchor_breaks_it_and_one_after_does_not(
    batch: list[EntryDraft], data: st.DataObject
) -> None:
    entries = [stored(draft, n + 1) for n, draft in enumerate(batch)]
    chain = extend_chain(None, entries)
    at = data.draw(st.integers(1, len(chain)))
    anchor = head_anchor(chain[at - 1])
    victim = data.draw(st.integers(0, len(entries) - 1))
    edited = list(entries)
    edited[victim] = replace(entries[victim], description=entries[victim].description + ".")
    resealed = extend_chain(None, edited)  # the intruder's new, self-consistent chain
    reached = resealed[at - 1].chain_hash
    assert (anchor_problem(anchor, reached, len(resealed)) is None) == (victim >= at)


def payment(n: int) -> EntryDraft:
    return EntryDraft(
        source_key=f"payment:{n}",
        description="Payment succeeded",
        occurred_at=AT + timedelta(minutes=n),
        legs=(
            debit(chart.provider_clearing("vnpay"), 1_000 * (n + 1)),
            credit(chart.budget_payable("DVC", "2862"), 1_000 * (n + 1)),
        ),
    )


async def _sealed_ledger(count: int) -> tuple[FakeLedgerStore, Anchor]:
    store = FakeLedgerStore(LedgerData())
    for n in range(count):
        await post_entry(store, payment(n), now=AT)
    result = await seal_journal(store, now=AT, batch=100)
    return store, head_anchor(result.head, AT)


async def test_a_resealed_chain_passes_verify_but_not_the_anchor() -> None:
    store, anchor = await _sealed_ledger(4)
    assert anchor.position == 4
    sound = await verify_ledger(store, [anchor, head_anchor(None)])
    assert sound.ok, [str(p) for p in sound.problems]
    assert (sound.anchors_checked, sound.anchors_broken) == (2, 0)
    assert (sound.head_position, sound.head_hash) == (4, anchor.chain_hash)

    # The intruder: edit entry 2, drop the chain, queue everything again, seal.
    data = store.data
    data.entries[1] = replace(data.entries[1], description="nothing to see")
    data.chain.clear()
    data.unsealed.update(e.id for e in data.entries)
    await seal_journal(store, now=AT, batch=100)

    plain = await verify_ledger(store)
    assert plain.ok, [str(p) for p in plain.problems]
    anchored = await verify_ledger(store, [anchor])
    assert (anchored.anchors_checked, anchored.anchors_broken) == (1, 1)
    [problem] = anchored.problems
    assert str(problem).startswith(f"ledger: anchor {anchor} (anchored 2026-11-23T18:00:05Z)")
    assert "no longer holds" in str(problem)


async def test_an_anchor_beyond_a_shortened_chain_does_not_hold() -> None:
    store, anchor = await _sealed_ledger(3)
    store.data.chain[:] = store.data.chain[:2]  # the last link deleted, its entry requeued
    store.data.unsealed.add(store.data.entries[2].id)
    report = await verify_ledger(store, [anchor])
    assert report.anchors_broken == 1
    assert any("the chain ends at position 2" in str(p) for p in report.problems)

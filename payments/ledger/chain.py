"""The hash chain over the journal: what a seal stores and what ``verify`` recomputes.

Each sealed entry gets a link ``chain_hash = sha256(previous chain_hash || entry_hash)`` in
the order it was sealed (not its id order: under concurrency a lower id may commit later).
``entry_hash`` covers every stored field of the entry and its legs, so changing any of them
behind the application's back breaks the link of that entry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from payments.ledger.entries import Entry

GENESIS = "0" * 64


@dataclass(frozen=True)
class ChainLink:
    position: int
    entry_id: int
    entry_hash: str
    chain_hash: str


def entry_hash(entry: Entry) -> str:
    legs = sorted(
        [leg.account.code, leg.account.type.value, leg.currency, leg.side.value, leg.amount]
        for leg in entry.legs
    )
    canonical = json.dumps(
        {
            "id": entry.id,
            "source_key": entry.source_key,
            "description": entry.description,
            "occurred_at": entry.occurred_at.isoformat(),
            "recorded_at": entry.recorded_at.isoformat(),
            "reversal_of": entry.reversal_of,
            "legs": legs,
        },
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def link_hash(previous: str, entry_digest: str) -> str:
    return hashlib.sha256(f"{previous}{entry_digest}".encode()).hexdigest()


def extend_chain(head: ChainLink | None, entries: list[Entry]) -> list[ChainLink]:
    """Links for ``entries``, in the given order, continuing after ``head``."""
    previous = head.chain_hash if head else GENESIS
    position = head.position if head else 0
    links: list[ChainLink] = []
    for entry in entries:
        digest = entry_hash(entry)
        previous = link_hash(previous, digest)
        position += 1
        links.append(ChainLink(position, entry.id, digest, previous))
    return links

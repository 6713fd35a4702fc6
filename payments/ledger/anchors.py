"""Anchors: the chain's head written down where the database cannot reach it. No I/O.

Whoever can write to the database can edit an entry, delete the whole chain and seal the
journal again: the new chain is consistent with itself and ``verify`` alone cannot tell. An
anchor is the head of the chain at some moment, ``(position, chain hash)``, written as
``<position>:<hash>`` and kept outside the database (an append-only file, another service, an
operator's notebook). The journal, hashed again from genesis in chain order, must still reach
that hash at that position; any rewrite of what was sealed before the anchor breaks it.

An anchor file holds one anchor a line, ``<time> <position>:<hash>`` (the time in UTC, ISO
8601, optional when an operator writes lines by hand); blank lines and ``#`` comments are
skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from payments.ledger.chain import GENESIS, ChainLink

_ANCHOR = re.compile(r"(\d{1,18}):([0-9a-fA-F]{64})")


class InvalidAnchor(ValueError):
    """Text that is not an anchor, or an anchor file with a bad line (the message says which)."""


def utc_text(moment: datetime) -> str:
    """``2026-11-23T18:00:05Z``: UTC, to the second."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Anchor:
    position: int
    chain_hash: str
    anchored_at: datetime | None = None
    origin: str | None = field(default=None, compare=False)
    """Where it was read (``anchors.log:3``), for messages; None for one given directly."""

    def __post_init__(self) -> None:
        if self.position < 0:
            raise InvalidAnchor(f"position {self.position} is negative")
        if not re.fullmatch(r"[0-9a-f]{64}", self.chain_hash):
            raise InvalidAnchor("the hash must be 64 lowercase hexadecimal digits")
        if self.position == 0 and self.chain_hash != GENESIS:
            raise InvalidAnchor("position 0 is the empty chain: its hash is 64 zeros")

    def __str__(self) -> str:
        return f"{self.position}:{self.chain_hash}"

    def line(self) -> str:
        """The anchor as a line of an anchor file (without the newline)."""
        if self.anchored_at is None:
            return str(self)
        return f"{utc_text(self.anchored_at)} {self}"

    def payload(self) -> dict[str, object]:
        """What is posted to an anchor URL (JSON)."""
        return {
            "anchor": str(self),
            "position": self.position,
            "chain_hash": self.chain_hash,
            "anchored_at": utc_text(self.anchored_at) if self.anchored_at else None,
        }

    def describe(self) -> str:
        """``12:ab… (anchors.log:3, anchored 2026-11-23T18:00:05Z)``."""
        notes = [self.origin] if self.origin else []
        if self.anchored_at is not None:
            notes.append("anchored " + utc_text(self.anchored_at))
        return str(self) + (f" ({', '.join(notes)})" if notes else "")


def head_anchor(head: ChainLink | None, at: datetime | None = None) -> Anchor:
    """The anchor of a chain whose last link is ``head`` (None: the empty chain, ``0:000…``)."""
    if head is None:
        return Anchor(0, GENESIS, at)
    return Anchor(head.position, head.chain_hash, at)


def looks_like_anchor(text: str) -> bool:
    return _ANCHOR.fullmatch(text.strip()) is not None


def parse_anchor(
    text: str, *, anchored_at: datetime | None = None, origin: str | None = None
) -> Anchor:
    """``<position>:<hash>`` (the hash in either case)."""
    found = _ANCHOR.fullmatch(text.strip())
    if found is None:
        raise InvalidAnchor(f"{text.strip()[:80]!r} is not <position>:<64 hex digits>")
    return Anchor(int(found[1]), found[2].lower(), anchored_at, origin)


def parse_anchor_lines(lines: Iterable[str], *, source: str) -> list[Anchor]:
    """Every anchor of an anchor file, in file order; a bad line raises, naming its number."""
    anchors: list[Anchor] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        origin = f"{source}:{number}"
        *stamp, value = text.split()
        try:
            if len(stamp) > 1:
                raise InvalidAnchor("expected '<time> <position>:<hash>'")
            at = _parse_time(stamp[0]) if stamp else None
            anchors.append(parse_anchor(value, anchored_at=at, origin=origin))
        except InvalidAnchor as bad:
            raise InvalidAnchor(f"{origin}: {bad}") from None
    return anchors


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidAnchor(f"{text[:40]!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise InvalidAnchor(f"{text[:40]!r} has no time zone")
    return moment.astimezone(UTC)


def anchor_problem(anchor: Anchor, reached: str | None, chain_length: int) -> str | None:
    """Why ``anchor`` no longer holds, or None when it does.

    ``reached`` is the hash the journal's entries, folded in chain order from genesis, give
    at ``anchor.position`` (None when the chain is shorter); ``chain_length`` its last position.
    """
    if reached is None:
        return (
            f"anchor {anchor.describe()} no longer holds: the chain ends at position "
            f"{chain_length}, before the anchored position {anchor.position}"
        )
    if reached != anchor.chain_hash:
        return (
            f"anchor {anchor.describe()} no longer holds: the journal now hashes to "
            f"{reached} at position {anchor.position}"
        )
    return None

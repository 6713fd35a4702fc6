"""Identifiers: time-ordered, prefixed, URL-safe.

Payment ids sort by creation time (ULID layout: 48-bit milliseconds + 80 random bits in
Crockford base32), so keyset pagination on the id is stable and cheap.
"""

from __future__ import annotations

import secrets
from datetime import datetime

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _base32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_ulid(now: datetime) -> str:
    return _base32(_millis(now), 10) + _base32(secrets.randbits(80), 16)


def _millis(now: datetime) -> int:
    # timestamp() goes through float; integer arithmetic keeps every millisecond exact.
    epoch_delta = now - datetime(1970, 1, 1, tzinfo=now.tzinfo)
    return (
        epoch_delta.days * 86_400 + epoch_delta.seconds
    ) * 1000 + epoch_delta.microseconds // 1000


PAYMENT_ID_PREFIX = "pay_"


def new_payment_id(now: datetime) -> str:
    return PAYMENT_ID_PREFIX + new_ulid(now)


def id_bound(prefix: str, moment: datetime) -> str:
    """The smallest time-ordered id with ``prefix`` minted at ``moment`` or later: an id
    sorting below it is older, so ``id >= id_bound(...)`` is a range on the primary key."""
    return prefix + _base32(_millis(moment), 10)


def id_window(
    prefix: str, start: datetime | None, end: datetime | None
) -> tuple[str | None, str | None]:
    """Bounds on time-ordered ids for ``start <= minted < end``: ``(low, high)`` with every id
    minted in the window ``>= low`` and ``< high`` (None: no bound). The ids only narrow a
    range scan on the key; the caller keeps its exact time condition, since an id carries
    milliseconds. A moment outside the ids' range (before 1970, past year 10889) bounds
    nothing."""

    def bound(moment: datetime | None, extra_ms: int) -> str | None:
        if moment is None:
            return None
        millis = _millis(moment) + extra_ms
        return prefix + _base32(millis, 10) if 0 <= millis < 32**10 else None

    # high: an id minted before ``end`` has at most end's millisecond.
    return bound(start, 0), bound(end, 1)


def new_checkout_token() -> str:
    """Unguessable capability carried by the checkout URL (192 bits)."""
    return secrets.token_urlsafe(24)


def new_request_id() -> str:
    return secrets.token_hex(8)

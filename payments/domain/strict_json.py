"""JSON as a payment system must read it: an object that names a key twice is refused.

The standard library and pydantic keep the last of two equal keys, so ``{"amount": 150000,
"amount": 1}`` would read as 1 VND while a proxy, a log or a signature check in front of us read
150000. Every JSON the gateway takes in (API bodies, provider callbacks and answers, statement
mappings) is read through ``loads``.
"""

from __future__ import annotations

import json
from typing import Any


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(f"the key {key!r} appears twice in one object")
        self.key = key


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise DuplicateKey(key)
        found[key] = value
    return found


class TooDeep(ValueError):
    def __init__(self) -> None:
        super().__init__("the JSON nests deeper than any request we take")


def loads(text: str | bytes) -> Any:
    """``json.loads``, refusing duplicate keys (DuplicateKey) at any depth, and nesting deep
    enough to exhaust the parser's recursion (TooDeep): both are ValueErrors, like the
    parser's own JSONDecodeError, so a caller handles one exception for "not usable JSON"."""
    try:
        return json.loads(text, object_pairs_hook=_unique)
    except RecursionError:
        raise TooDeep() from None

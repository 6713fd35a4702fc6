"""Text hygiene for anything a caller sends us.

PostgreSQL refuses NUL, JSON may carry lone surrogates, and invisible control and format
characters make references that look equal but are not, or text that displays in another
order: refuse them all before they reach storage; keep text NFC.
"""

from __future__ import annotations

import unicodedata


def text_problem(value: str) -> str | None:
    """Return why ``value`` is unacceptable as stored text, or None when it is fine.

    Besides control characters, the format characters (Unicode category Cf) are refused: the
    zero-width ones make "HS-\u200b123" a reference apart from "HS-123" that reads the same,
    and the bidirectional controls (U+202A-U+202E, U+2066-U+2069) make a description display
    in another order than it was written. Vietnamese needs none of them."""
    for char in value:
        category = unicodedata.category(char)
        if category == "Cs":
            return "contains an invalid unicode surrogate"
        if category == "Cc" and char not in "\t\n\r":
            return "contains a control character"
        if category == "Cf":
            return f"contains an invisible or direction-changing character (U+{ord(char):04X})"
    return None


def normalise(value: str) -> str:
    """NFC so that composed and decomposed Vietnamese letters compare equal."""
    return unicodedata.normalize("NFC", value).strip()

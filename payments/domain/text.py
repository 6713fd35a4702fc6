"""Text hygiene for anything a caller sends us.

PostgreSQL refuses NUL, JSON may carry lone surrogates, and invisible control characters
make references that look equal but are not: refuse them all before they reach storage.
"""

from __future__ import annotations

import unicodedata


def text_problem(value: str) -> str | None:
    """Return why ``value`` is unacceptable as stored text, or None when it is fine."""
    for char in value:
        category = unicodedata.category(char)
        if category == "Cs":
            return "contains an invalid unicode surrogate"
        if category == "Cc" and char not in "\t\n\r":
            return "contains a control character"
    return None


def normalise(value: str) -> str:
    """NFC so that composed and decomposed Vietnamese letters compare equal."""
    return unicodedata.normalize("NFC", value).strip()

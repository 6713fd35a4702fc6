"""Vietnamese free text folded to plain ASCII for provider fields.

Banks and gateways strip diacritics from transfer descriptions and order info on their own, and
the two sides of a signature must hash the same bytes, so we fold first and sign what we send.
"""

from __future__ import annotations

import unicodedata

# NFD does not decompose these letters: they are distinct letters, not accented ones.
_SPECIAL = str.maketrans({"đ": "d", "Đ": "D", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L"})


def fold_to_ascii(text: str, *, allowed_punctuation: str = " ") -> str:
    """Drop diacritics, turn every other character outside letters, digits and
    ``allowed_punctuation`` into a space, and collapse runs of spaces."""
    decomposed = unicodedata.normalize("NFD", text.translate(_SPECIAL))
    kept: list[str] = []
    for char in decomposed:
        if unicodedata.combining(char):
            continue
        if char.isascii() and (char.isalnum() or char in allowed_punctuation):
            kept.append(char)
        else:
            kept.append(" ")
    return " ".join("".join(kept).split())

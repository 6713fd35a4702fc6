"""Finding the gateway's reference in what a bank kept of it."""

from __future__ import annotations

import pytest

from payments.reconcile.formats.statements import LineError, StatementError, extract_reference

ULID = "01JNZ8Q4J5K6M7N8P9QRSTVWXY"


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        ((f"pay_{ULID}",), f"pay_{ULID}"),
        ((None, f"NOP LE PHI pay_{ULID.lower()} HA NOI"), f"pay_{ULID}"),
        ((f"PAY{ULID}",), f"pay_{ULID}"),
        ((f"thanh toan PAY-{ULID}",), f"pay_{ULID}"),
        ((f"att_{ULID}",), f"att_{ULID}"),
        (("CK PFABCDEFGHJK den KBNN",), "PFABCDEFGHJK"),
        (("", "no reference here"), None),
        ((f"REPAY{ULID}",), None),  # inside a word: not ours
        ((f"pay_{ULID}X",), None),  # one character too many
    ],
)
def test_extract_reference(texts: tuple[str | None, ...], expected: str | None) -> None:
    assert extract_reference(*texts) == expected


def test_first_text_wins() -> None:
    other = "01JNZ8Q4J5K6M7N8P9QRSTVWXZ"
    assert extract_reference(f"pay_{ULID}", f"pay_{other}") == f"pay_{ULID}"


def test_statement_error_lists_lines_as_problems() -> None:
    errors = [LineError(n, "bad amount") for n in range(2, 30)]
    error = StatementError.from_line_errors(errors)
    assert error.detail.startswith("28 malformed line(s): line 2: bad amount; line 3:")
    assert error.detail.endswith("(and 8 more)")
    assert len(error.problems) == 28
    assert error.problems[0].field == "line 2"

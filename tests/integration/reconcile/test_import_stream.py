"""A statement streams into storage while it is parsed (PostgreSQL: one COPY fed by the
parser). A file that turns out bad after thousands of good lines have gone out must still
store nothing, leave the connection usable, and say what was wrong."""

from __future__ import annotations

import pytest

from payments.reconcile.formats.statements import StatementError
from payments.unit_of_work import WorkFactory
from tests.support.reconcile_days import DAY, csv_line, import_csv, statement

GOOD = 20_000  # about 1.5 MB of lines: several COPY messages have been sent before the end


def good_lines(count: int) -> list[str]:
    return [csv_line(f"pay_{n:026d}", 1_000 + n, bank_reference=f"KB{n:08d}") for n in range(count)]


async def test_bytes_that_are_not_text_late_in_the_file_store_nothing(
    uow_factory: WorkFactory,
) -> None:
    content = statement(*good_lines(GOOD)) + b"2025-03-12,100,VND,credit,,\xff\xfe,x\n"
    with pytest.raises(StatementError) as caught:
        await import_csv(uow_factory, content)
    assert str(caught.value.detail).startswith(f"line {GOOD + 2}: not utf-8")
    async with uow_factory() as tx:
        assert await tx.reconciliation.statements_for(DAY, "treasury") == []
    # The same connections take the next import: the aborted stream left nothing behind.
    imported = await import_csv(uow_factory, statement(*good_lines(3)))
    assert imported.created
    assert imported.statement.line_count == 3
    assert imported.statement.credit_total == 1_000 + 1_001 + 1_002


async def test_a_bad_line_late_in_the_file_stores_nothing_and_lists_every_bad_line(
    uow_factory: WorkFactory,
) -> None:
    lines = good_lines(GOOD)
    lines[GOOD // 2] = "2025-03-12,abc,VND,credit,,x,y\n"
    lines.append("2025-13-40,100,VND,credit,,x,y\n")
    with pytest.raises(StatementError) as caught:
        await import_csv(uow_factory, statement(*lines))
    assert [e.line_number for e in caught.value.line_errors] == [GOOD // 2 + 2, GOOD + 2]
    async with uow_factory() as tx:
        assert await tx.reconciliation.statements_for(DAY, "treasury") == []
        assert await tx.reconciliation.lines_of([1, 2, 3]) == []


async def test_a_large_good_file_is_stored_line_for_line(uow_factory: WorkFactory) -> None:
    imported = await import_csv(uow_factory, statement(*good_lines(GOOD)))
    assert imported.statement.line_count == GOOD
    assert imported.statement.credit_total == sum(1_000 + n for n in range(GOOD))
    async with uow_factory() as tx:
        lines = await tx.reconciliation.lines_of([imported.statement.id])
    assert [line.line_number for line in lines] == list(range(2, GOOD + 2))
    assert [line.amount for line in lines] == [1_000 + n for n in range(GOOD)]
    assert lines[-1].payment_reference == f"pay_{GOOD - 1:026d}"

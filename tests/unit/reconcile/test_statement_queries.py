"""The imported statements as staff list them: newest first, by day and source, in pages;
a refused import lists nothing; an unknown id is NotFound."""

from __future__ import annotations

import io

import pytest

from payments.domain.errors import NotFound
from payments.reconcile.formats.settlements import read_settlement
from payments.reconcile.formats.statements import StatementError
from payments.reconcile.usecases.imports import import_settlement
from payments.reconcile.usecases.reports import list_statements, statement_detail
from tests.support.reconcile_days import DAY, NIGHT, csv_line, import_csv, next_day, statement
from tests.unit.fakes import FakeUnitOfWorkFactory


async def test_statements_newest_first_filtered_and_paged() -> None:
    uow = FakeUnitOfWorkFactory()
    first = await import_csv(uow, statement(csv_line("a")))
    later = await import_csv(uow, statement(csv_line("b")), next_day(DAY))
    report = read_settlement(
        "momo",
        io.BytesIO(b"orderId,transId,amount,fee,settlementDate\nx,1,150000,900,2025-03-12\n"),
    )
    settled = await import_settlement(uow, report, business_date=DAY, actor="ops", now=NIGHT)
    with pytest.raises(StatementError):
        await import_csv(uow, statement("2025-03-12,-1,VND,credit,,x,y\n"))
    ids = [first.statement.id, later.statement.id, settled.statement.id]

    assert [s.id for s in await list_statements(uow)] == ids[::-1]
    assert [s.id for s in await list_statements(uow, business_date=DAY)] == [ids[2], ids[0]]
    assert [s.id for s in await list_statements(uow, source="treasury")] == [ids[1], ids[0]]
    assert [s.id for s in await list_statements(uow, source="momo", business_date=DAY)] == [ids[2]]
    assert [s.id for s in await list_statements(uow, before_id=ids[2], limit=1)] == [ids[1]]

    one = await statement_detail(uow, ids[2])
    assert (one.source, one.line_count, one.credit_total, one.debit_total) == (
        "momo",
        1,
        150_000,
        900,
    )
    async with uow() as tx:
        found = tx.reconciliation.statement_by_content
        assert await found("momo", DAY, one.content_hash) == one
        assert await found("momo", next_day(DAY), one.content_hash) is None
        assert await found("vnpay", DAY, one.content_hash) is None
        assert await found("momo", DAY, "0" * 64) is None
    with pytest.raises(NotFound):
        await statement_detail(uow, 99)

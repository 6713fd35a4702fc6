"""The unit of work's repositories: made on first use, bound to the connection in use."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from payments.collection.storage.hot_path import PgPayments
from payments.collection.storage.payments import SqlPayments
from payments.unit_of_work import SqlUnitOfWork


async def test_a_repository_is_kept_for_one_transaction_and_made_again_for_the_next(
    engine: AsyncEngine,
) -> None:
    uow = SqlUnitOfWork(engine)
    with pytest.raises(RuntimeError, match="outside 'async with'"):
        _ = uow.payments
    async with uow:
        first = uow.payments
        assert uow.payments is first
        expected = PgPayments if engine.dialect.name == "postgresql" else SqlPayments
        assert type(first) is expected
    async with uow:  # the same object entered again: a new connection, new repositories
        again = uow.payments
        assert again is not first
        assert await again.by_id("pay_none") is None  # works on the new connection
    # After exit its repositories are gone with the connection: no stale one is handed out.
    with pytest.raises(RuntimeError, match="outside 'async with'"):
        _ = uow.payments

"""The database itself refuses what the ledger forbids, even from raw SQL.

These tests bypass the write path entirely. On SQLite, legs go in before their entry row (the
order the entry's insert trigger expects); on PostgreSQL the deferred checks run at commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from payments.adapters.db.types import UtcDateTime

NOW = "2026-11-22 03:00:00"
NOW_PARAM = bindparam("now", datetime(2026, 11, 22, 3, 0, tzinfo=UTC), type_=UtcDateTime)
Leg = tuple[int, str, str, int]  # account id, currency, side, amount


async def _accounts(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO ledger_accounts (id, code, type, currency, name, created_at) VALUES "
                "(1, 'clearing:vnpay', 'asset', 'VND', 'c', :now),"
                "(2, 'budget-payable:DVC:2862', 'liability', 'VND', 'b', :now),"
                "(3, 'clearing:vnpay:USD', 'asset', 'USD', 'u', :now)"
            ).bindparams(NOW_PARAM)
        )


async def _raw_entry(
    conn: AsyncConnection,
    entry_id: int,
    legs: Sequence[Leg],
    *,
    source_key: str | None = None,
    reversal_of: int | None = None,
) -> None:
    entry = text(
        "INSERT INTO ledger_entries "
        "(id, source_key, description, occurred_at, recorded_at, reversal_of) "
        "VALUES (:id, :key, 'raw', :now, :now, :reversal_of)"
    ).bindparams(NOW_PARAM)
    params = {
        "id": entry_id,
        "key": source_key or f"raw-{entry_id}",
        "reversal_of": reversal_of,
    }
    legs_sql = text(
        "INSERT INTO ledger_postings (entry_id, account_id, currency, side, amount) "
        "VALUES (:entry, :account, :currency, :side, :amount)"
    )
    rows = [
        {"entry": entry_id, "account": acc, "currency": cur, "side": side, "amount": amount}
        for acc, cur, side, amount in legs
    ]
    if conn.dialect.name == "postgresql":
        await conn.execute(entry, params)
        await conn.execute(legs_sql, rows)
    else:
        await conn.execute(legs_sql, rows)
        await conn.execute(entry, params)


BALANCED: list[Leg] = [(1, "VND", "debit", 100), (2, "VND", "credit", 100)]


@pytest.fixture
async def seeded(engine: AsyncEngine) -> AsyncEngine:
    await _accounts(engine)
    async with engine.begin() as conn:
        await _raw_entry(conn, 1, BALANCED)
    return engine


async def _refused(engine: AsyncEngine, sql: str, match: str) -> None:
    with pytest.raises(DBAPIError, match=match):
        async with engine.begin() as conn:
            await conn.execute(text(sql))


async def test_balanced_raw_entry_is_accepted(seeded: AsyncEngine) -> None:
    async with seeded.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM ledger_postings")) == 2


@pytest.mark.parametrize(
    ("legs", "match"),
    [
        ([(1, "VND", "debit", 100), (2, "VND", "credit", 99)], "balance"),
        ([(1, "VND", "debit", 100)], "balance|two legs"),
        ([(1, "VND", "debit", 100), (2, "VND", "credit", 100), (3, "USD", "debit", 5)], "balance"),
        ([(1, "VND", "debit", 0), (2, "VND", "credit", 0)], "amount_positive"),
        ([(1, "VND", "debit", -5), (2, "VND", "credit", -5)], "amount_positive"),
        ([(1, "VND", "debit", 100), (3, "USD", "credit", 100)], "balance"),
        ([(1, "USD", "debit", 100), (2, "USD", "credit", 100)], "FOREIGN KEY|which holds VND"),
    ],
    ids=[
        "unbalanced",
        "one-leg",
        "unbalanced-2nd-currency",
        "zero",
        "negative",
        "mixed-currencies",
        "leg-currency-not-account",
    ],
)
async def test_database_refuses_a_bad_entry(
    seeded: AsyncEngine, legs: list[Leg], match: str
) -> None:
    with pytest.raises(DBAPIError, match=match):
        async with seeded.begin() as conn:
            await _raw_entry(conn, 2, legs)
    async with seeded.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM ledger_entries")) == 1


async def test_legs_cannot_be_added_to_a_written_entry(seeded: AsyncEngine) -> None:
    await _refused(
        seeded,
        "INSERT INTO ledger_postings (entry_id, account_id, currency, side, amount) "
        "VALUES (1, 1, 'VND', 'debit', 5)",
        "balance|already written",
    )


async def test_entry_without_legs_is_refused(seeded: AsyncEngine) -> None:
    await _refused(
        seeded,
        "INSERT INTO ledger_entries (id, source_key, description, occurred_at, recorded_at) "
        f"VALUES (7, 'empty', 'no legs', '{NOW}', '{NOW}')",
        "two legs|leg\\(s\\)",
    )


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_postings SET amount = 1000 WHERE entry_id = 1",
        "DELETE FROM ledger_postings WHERE entry_id = 1",
        "UPDATE ledger_entries SET description = 'edited' WHERE id = 1",
        "DELETE FROM ledger_entries WHERE id = 1",
        "DELETE FROM ledger_accounts WHERE id = 1",
        "UPDATE ledger_accounts SET currency = 'USD' WHERE id = 1",
    ],
)
async def test_journal_rows_are_immutable(seeded: AsyncEngine, sql: str) -> None:
    await _refused(seeded, sql, "not allowed|keeps its code")


async def test_an_account_may_be_renamed(seeded: AsyncEngine) -> None:
    async with seeded.begin() as conn:
        await conn.execute(text("UPDATE ledger_accounts SET name = 'VNPay' WHERE id = 1"))


@pytest.mark.postgres_only
async def test_truncate_is_refused(seeded: AsyncEngine) -> None:
    await _refused(seeded, "TRUNCATE ledger_postings", "not allowed")


async def test_source_key_is_unique(seeded: AsyncEngine) -> None:
    with pytest.raises(DBAPIError, match=r"UNIQUE|unique"):
        async with seeded.begin() as conn:
            await _raw_entry(conn, 2, BALANCED, source_key="raw-1")


async def test_an_entry_is_reversed_at_most_once(seeded: AsyncEngine) -> None:
    inverse: list[Leg] = [(1, "VND", "credit", 100), (2, "VND", "debit", 100)]
    async with seeded.begin() as conn:
        await _raw_entry(conn, 2, inverse, reversal_of=1)
    with pytest.raises(DBAPIError, match=r"UNIQUE|unique"):
        async with seeded.begin() as conn:
            await _raw_entry(conn, 3, inverse, reversal_of=1)

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

from payments.db.types import UtcDateTime

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
    if conn.dialect.name == "postgresql":
        await _entry_row(conn, entry_id, source_key=source_key, reversal_of=reversal_of)
        await _legs(conn, entry_id, legs)
    else:
        await _legs(conn, entry_id, legs)
        await _entry_row(conn, entry_id, source_key=source_key, reversal_of=reversal_of)


async def _entry_row(
    conn: AsyncConnection,
    entry_id: int,
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
    await conn.execute(entry, params)


async def _legs(conn: AsyncConnection, entry_id: int, legs: Sequence[Leg]) -> None:
    legs_sql = text(
        "INSERT INTO ledger_postings (entry_id, account_id, currency, side, amount) "
        "VALUES (:entry, :account, :currency, :side, :amount)"
    )
    rows = [
        {"entry": entry_id, "account": acc, "currency": cur, "side": side, "amount": amount}
        for acc, cur, side, amount in legs
    ]
    await conn.execute(legs_sql, rows)


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
    async with seeded.connect() as conn:
        renamed = await conn.execute(text("SELECT code, name FROM ledger_accounts WHERE id = 1"))
        assert renamed.one() == ("clearing:vnpay", "VNPay")


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


# Migration 0011: the ways in that the UPDATE and DELETE triggers alone left open.

SEAL = "0" * 64
FORGED = "f" * 64
GUARD = "not allowed|keeps its code|already written|never replaced|at the head"


async def _link(conn: AsyncConnection, position: int, entry_id: int) -> None:
    await conn.execute(
        text(
            "INSERT INTO ledger_chain (position, entry_id, entry_hash, chain_hash, sealed_at) "
            "VALUES (:position, :entry, :hash, :hash, :now)"
        ).bindparams(NOW_PARAM),
        {"position": position, "entry": entry_id, "hash": SEAL},
    )


@pytest.fixture
async def sealed(seeded: AsyncEngine) -> AsyncEngine:
    """Entry 1 (postings 1 and 2) with its chain link at position 1."""
    async with seeded.begin() as conn:
        await _link(conn, 1, 1)
    return seeded


async def _rows(engine: AsyncEngine) -> list[tuple[object, ...]]:
    """Every guarded row: what a refused statement must leave as it was."""
    queries = (
        "SELECT id, code, type, currency, name FROM ledger_accounts ORDER BY id",
        "SELECT id, source_key, description, reversal_of FROM ledger_entries ORDER BY id",
        "SELECT id, entry_id, account_id, currency, side, amount FROM ledger_postings ORDER BY id",
        "SELECT position, entry_id, entry_hash, chain_hash FROM ledger_chain ORDER BY position",
    )
    async with engine.connect() as conn:
        return [tuple(row) for query in queries for row in await conn.execute(text(query))]


async def _refused_unchanged(engine: AsyncEngine, statements: Sequence[str], match: str) -> None:
    """The statements, in one transaction, are refused and change nothing."""
    before = await _rows(engine)
    with pytest.raises(DBAPIError, match=match):
        await _in_one_transaction(engine, statements)
    assert await _rows(engine) == before


async def _in_one_transaction(engine: AsyncEngine, statements: Sequence[str]) -> None:
    async with engine.begin() as conn:
        for sql in statements:
            await conn.execute(text(sql))


PAIR_FOR_ENTRY_1 = (
    "INSERT INTO ledger_postings (entry_id, account_id, currency, side, amount) "
    "VALUES (1, 1, 'VND', 'debit', 5), (1, 2, 'VND', 'credit', 5)"
)


async def test_a_balanced_pair_cannot_join_a_written_entry(seeded: AsyncEngine) -> None:
    # PostgreSQL used to commit this: entry 1 still balances, so the deferred check passed,
    # and with the entry unsealed ``verify`` had nothing to compare it with.
    await _refused_unchanged(seeded, [PAIR_FOR_ENTRY_1], "already written")


async def test_writing_an_entry_does_not_open_another(seeded: AsyncEngine) -> None:
    before = await _rows(seeded)
    with pytest.raises(DBAPIError, match="already written"):
        async with seeded.begin() as conn:
            await _entry_then_pair_for_entry_1(conn)
    assert await _rows(seeded) == before


async def _entry_then_pair_for_entry_1(conn: AsyncConnection) -> None:
    await _raw_entry(conn, 2, BALANCED)
    await conn.execute(text(PAIR_FOR_ENTRY_1))


@pytest.mark.postgres_only
async def test_legs_go_in_after_their_entry_on_postgresql(seeded: AsyncEngine) -> None:
    # Legs first would let them wait for another transaction to commit that entry id.
    with pytest.raises(DBAPIError, match="goes in after its entry"):
        async with seeded.begin() as conn:
            await _legs_then_entry(conn, 2)


async def _legs_then_entry(conn: AsyncConnection, entry_id: int) -> None:
    await _legs(conn, entry_id, BALANCED)
    await _entry_row(conn, entry_id)


@pytest.mark.postgres_only
async def test_an_entry_written_in_a_savepoint_takes_its_legs(seeded: AsyncEngine) -> None:
    async with seeded.begin() as conn:
        async with conn.begin_nested():
            await _entry_row(conn, 2)
        async with conn.begin_nested():
            await _legs(conn, 2, BALANCED)
        await _entry_row(conn, 3)
        async with conn.begin_nested():
            await _legs(conn, 3, BALANCED)
    async with seeded.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM ledger_postings")) == 6


# ON CONFLICT .. DO UPDATE: PostgreSQL's upsert, which SQLite also speaks.
UPSERTS = {
    "entry": "INSERT INTO ledger_entries (id, source_key, description, occurred_at, recorded_at) "
    f"VALUES (1, 'raw-1', 'edited', '{NOW}', '{NOW}') "
    "ON CONFLICT (id) DO UPDATE SET description = excluded.description",
    "posting": "INSERT INTO ledger_postings (id, entry_id, account_id, currency, side, amount) "
    "VALUES (1, 1, 1, 'VND', 'debit', 1) ON CONFLICT (id) DO UPDATE SET amount = excluded.amount",
    "account": "INSERT INTO ledger_accounts (id, code, type, currency, name, created_at) "
    f"VALUES (2, 'budget-payable:BTC:2862', 'liability', 'VND', 'b', '{NOW}') "
    "ON CONFLICT (id) DO UPDATE SET code = excluded.code",
    "chain-link": "INSERT INTO ledger_chain (position, entry_id, entry_hash, chain_hash, "
    f"sealed_at) VALUES (1, 1, '{FORGED}', '{FORGED}', '{NOW}') "
    "ON CONFLICT (position) DO UPDATE SET chain_hash = excluded.chain_hash",
}


@pytest.mark.parametrize("table", list(UPSERTS))
async def test_an_upsert_cannot_change_a_row(sealed: AsyncEngine, table: str) -> None:
    await _refused_unchanged(sealed, [UPSERTS[table]], GUARD)


# INSERT OR REPLACE / REPLACE INTO: SQLite deletes the row holding the key without firing
# its delete triggers. Each case did commit before 0011.
REPLACES = {
    # The entry's own legs still balance, so its insert trigger let it through.
    "entry": [
        "{verb} ledger_entries (id, source_key, description, occurred_at, recorded_at) "
        f"VALUES (1, 'raw-1', 'edited', '{NOW}', '{NOW}')"
    ],
    # Entry 1's legs moved to a new entry for 1 dong: entry 1 is left without legs.
    "posting": [
        "{verb} ledger_postings (id, entry_id, account_id, currency, side, amount) "
        "VALUES (1, 2, 1, 'VND', 'debit', 1), (2, 2, 2, 'VND', 'credit', 1)",
        "INSERT INTO ledger_entries (id, source_key, description, occurred_at, recorded_at) "
        f"VALUES (2, 'raw-2', 'moved', '{NOW}', '{NOW}')",
    ],
    # The agency's payable account now names another agency.
    "account": [
        "{verb} ledger_accounts (id, code, type, currency, name, created_at) "
        f"VALUES (2, 'budget-payable:BTC:2862', 'liability', 'VND', 'b', '{NOW}')"
    ],
    # Position 2 is the head's next, but entry 1 is sealed at position 1: that link goes.
    "chain-link": [
        "{verb} ledger_chain (position, entry_id, entry_hash, chain_hash, sealed_at) "
        f"VALUES (2, 1, '{FORGED}', '{FORGED}', '{NOW}')"
    ],
}


@pytest.mark.sqlite_only  # a conflict clause of SQLite's own
@pytest.mark.parametrize("verb", ["INSERT OR REPLACE INTO", "REPLACE INTO"])
@pytest.mark.parametrize("table", list(REPLACES))
async def test_sqlite_replace_cannot_rewrite_a_row(
    sealed: AsyncEngine, table: str, verb: str
) -> None:
    statements = [sql.replace("{verb}", verb) for sql in REPLACES[table]]
    await _refused_unchanged(sealed, statements, "never replaced")


UPDATES_OR_REPLACE = {
    "entry": "UPDATE OR REPLACE ledger_entries SET description = 'edited' WHERE id = 1",
    "posting": "UPDATE OR REPLACE ledger_postings SET amount = 1 WHERE entry_id = 1",
    # Taking account 1's code would REPLACE account 1 away.
    "account": "UPDATE OR REPLACE ledger_accounts SET code = 'clearing:vnpay' WHERE id = 2",
    "chain-link": f"UPDATE OR REPLACE ledger_chain SET chain_hash = '{FORGED}' WHERE position = 1",
}


@pytest.mark.sqlite_only  # a conflict clause of SQLite's own
@pytest.mark.parametrize("table", list(UPDATES_OR_REPLACE))
async def test_sqlite_update_or_replace_cannot_rewrite_a_row(
    sealed: AsyncEngine, table: str
) -> None:
    await _refused_unchanged(sealed, [UPDATES_OR_REPLACE[table]], "not allowed|keeps its code")


@pytest.mark.parametrize(
    "sql",
    [
        f"UPDATE ledger_chain SET chain_hash = '{FORGED}' WHERE position = 1",
        "DELETE FROM ledger_chain WHERE position = 1",
    ],
)
async def test_chain_links_are_immutable(sealed: AsyncEngine, sql: str) -> None:
    await _refused_unchanged(sealed, [sql], "not allowed")


@pytest.mark.postgres_only
async def test_the_chain_cannot_be_truncated(sealed: AsyncEngine) -> None:
    await _refused_unchanged(sealed, ["TRUNCATE ledger_chain"], "not allowed")


async def test_a_chain_link_goes_only_at_the_head(sealed: AsyncEngine) -> None:
    async with sealed.begin() as conn:
        await _raw_entry(conn, 2, BALANCED)
    with pytest.raises(DBAPIError, match="at the head"):
        async with sealed.begin() as conn:
            await _link(conn, 3, 2)
    async with sealed.begin() as conn:
        await _link(conn, 2, 2)
    async with sealed.connect() as conn:
        assert await conn.scalar(text("SELECT max(position) FROM ledger_chain")) == 2

"""Sealing benchmark: the time of one seal batch as the already-sealed journal grows.

Run:  python -m bench.ledger_seal [--sizes 0,200000,400000] [--batch 500] [--rounds 5]
      (PAYMENTS_BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test)

It creates a throw-away PostgreSQL database and migrates it. For each size it bulk-loads
sealed entries up to that many (two legs each, chain rows included; loaded with triggers
off, since only their number matters here), then, round after round, posts ``--batch`` fresh
entries through the real write path and times one seal of them two ways on the same data:
the anti-join the store used before the sealing queue (rolled back) and the queue (committed).
It prints the median of each and drops the database. Before: grows with the journal; now: flat.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg
from sqlalchemy import exists, select

from bench.ledger_hot_account import admin, database_url
from payments.adapters.db.engine import make_engine
from payments.adapters.db.migrations import upgrade_to_head
from payments.ledger import chart
from payments.ledger.entries import Entry, EntryDraft, credit, debit
from payments.ledger.posting import post_entry
from payments.ledger.sql_store import SqlLedgerStore
from payments.ledger.tables import ledger_chain, ledger_entries
from payments.ledger.verification import seal_journal
from payments.unit_of_work import SqlUnitOfWorkFactory

CLEARING = chart.provider_clearing("vnpay")
PAYABLE = chart.budget_payable("DVC", "2862")


class AntiJoinStore(SqlLedgerStore):
    """The store as it was before the queue: the next batch by anti-join over the journal."""

    async def unsealed_entries(self, limit: int) -> Sequence[Entry]:
        e, c = ledger_entries.c, ledger_chain.c
        sealed = exists().where(c.entry_id == e.id)
        query = select(ledger_entries).where(~sealed).order_by(e.id).limit(limit)
        return await self._load(query)


async def _post(uow_factory: SqlUnitOfWorkFactory, count: int, run: str) -> None:
    now = datetime.now(UTC)
    async with uow_factory() as uow:
        for n in range(count):
            draft = EntryDraft(
                source_key=f"fresh-{run}-{n}",
                description="Payment succeeded",
                occurred_at=now,
                legs=(debit(CLEARING, 150_000), credit(PAYABLE, 150_000)),
            )
            await post_entry(uow.ledger, draft, now=now)
        await uow.commit()


async def _seal_all(uow_factory: SqlUnitOfWorkFactory) -> None:
    while True:
        async with uow_factory() as uow:
            result = await seal_journal(uow.ledger, now=datetime.now(UTC), batch=5_000)
            await uow.commit()
        if not result.sealed:
            return


async def _grow(db: str, uow_factory: SqlUnitOfWorkFactory, target: int) -> None:
    """Bulk-load sealed entries until the journal holds ``target`` of them."""
    await _seal_all(uow_factory)
    conn = await asyncpg.connect(database_url(db))
    try:
        have = await conn.fetchval("SELECT count(*) FROM ledger_entries")
        if have >= target:
            return
        first = await conn.fetchval("SELECT coalesce(max(id), 0) + 1 FROM ledger_entries")
        position = await conn.fetchval("SELECT coalesce(max(position), 0) FROM ledger_chain")
        ids = await conn.fetch(
            "SELECT id, code FROM ledger_accounts WHERE code = ANY($1::text[])",
            [CLEARING.code, PAYABLE.code],
        )
        account = {row["code"]: row["id"] for row in ids}
        last = first + target - have - 1
        async with conn.transaction():
            # Only the size of the journal matters to the seal: no triggers, no real hashes.
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(
                "INSERT INTO ledger_entries (id, source_key, description, occurred_at, "
                "recorded_at) SELECT g, 'bulk-' || g, 'Payment succeeded', now(), now() "
                "FROM generate_series($1::bigint, $2::bigint) g",
                first,
                last,
            )
            for account_id, side in (
                (account[CLEARING.code], "debit"),
                (account[PAYABLE.code], "credit"),
            ):
                await conn.execute(
                    "INSERT INTO ledger_postings (entry_id, account_id, currency, side, amount) "
                    "SELECT g, $3, 'VND', $4, 150000 "
                    "FROM generate_series($1::bigint, $2::bigint) g",
                    first,
                    last,
                    account_id,
                    side,
                )
            await conn.execute(
                "INSERT INTO ledger_chain (position, entry_id, entry_hash, chain_hash, sealed_at) "
                "SELECT $3 + g - $1 + 1, g, repeat('0', 64), repeat('0', 64), now() "
                "FROM generate_series($1::bigint, $2::bigint) g",
                first,
                last,
                position,
            )
            await conn.execute(
                "SELECT setval(pg_get_serial_sequence('ledger_entries', 'id'), $1)", last
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def _timed_seal(uow_factory: SqlUnitOfWorkFactory, *, anti_join: bool, batch: int) -> float:
    async with uow_factory() as uow:
        store = AntiJoinStore(uow.connection) if anti_join else uow.ledger
        started = time.perf_counter()
        result = await seal_journal(store, now=datetime.now(UTC), batch=batch)
        elapsed = time.perf_counter() - started
        assert result.sealed == batch, result
        if not anti_join:
            await uow.commit()
    return elapsed


async def _run(sizes: list[int], batch: int, rounds: int) -> list[tuple[int, float, float]]:
    db = f"ledger_seal_bench_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{db}"')
    engine = make_engine(database_url(db, "postgresql+asyncpg"), pool_size=2)
    try:
        await asyncio.to_thread(upgrade_to_head, database_url(db, "postgresql+asyncpg"))
        uow_factory = SqlUnitOfWorkFactory(engine)
        await _post(uow_factory, 1, "accounts")  # opens the two accounts the bulk load uses
        rows = []
        for size in sizes:
            await _grow(db, uow_factory, size)
            before, now = [], []
            for round_number in range(rounds):
                await _post(uow_factory, batch, f"{size}-{round_number}")
                before.append(await _timed_seal(uow_factory, anti_join=True, batch=batch))
                now.append(await _timed_seal(uow_factory, anti_join=False, batch=batch))
            row = (size, statistics.median(before), statistics.median(now))
            print(
                f"{size:>9} sealed: anti-join {row[1] * 1000:8.1f} ms   "
                f"queue {row[2] * 1000:8.1f} ms",
                flush=True,
            )
            rows.append(row)
        return rows
    finally:
        await engine.dispose()
        await admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="0,200000,400000", help="sealed entries, ascending")
    parser.add_argument("--batch", type=int, default=500, help="entries per seal")
    parser.add_argument("--rounds", type=int, default=5, help="median of this many seals")
    options = parser.parse_args()
    sizes = [int(size) for size in options.sizes.split(",")]
    rows = asyncio.run(_run(sizes, options.batch, options.rounds))
    print(f"\n{'sealed':>9} {'anti-join ms':>13} {'queue ms':>9}   (one seal of {options.batch})")
    for size, before, now in rows:
        print(f"{size:>9} {before * 1000:>13.1f} {now * 1000:>9.1f}")


if __name__ == "__main__":
    main()

"""The LedgerStore on SQLAlchemy Core, for PostgreSQL and SQLite, inside a caller's transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import BigInteger, Select, case, cast, delete, exists, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from payments.ledger.chain import ChainLink
from payments.ledger.entries import (
    Account,
    AccountSpec,
    AccountType,
    Entry,
    EntryDraft,
    Leg,
    Side,
)
from payments.ledger.ports import AccountFilter, AccountTotals
from payments.ledger.tables import (
    ledger_accounts,
    ledger_chain,
    ledger_entries,
    ledger_postings,
    ledger_unsealed,
)

# Any constant will do: it only has to be the same for every sealer of this database.
_CHAIN_LOCK_KEY = 0x6C6564676572
_LOAD_BATCH = 500

a, e, p, c = ledger_accounts.c, ledger_entries.c, ledger_postings.c, ledger_chain.c
u = ledger_unsealed.c


def _account(row: Any) -> Account:
    return Account(
        id=row.id,
        code=row.code,
        type=AccountType(row.type),
        currency=row.currency,
        name=row.name,
        created_at=row.created_at,
    )


# Accounts never change code, type or currency and are never deleted (the database refuses
# it), so a committed account read once can be kept for the life of the engine: the hot path
# then skips one query per entry. Keyed weakly by engine, so test databases don't mix.
_ACCOUNTS: WeakKeyDictionary[Engine, dict[str, Account]] = WeakKeyDictionary()


class SqlLedgerStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._postgres = conn.dialect.name == "postgresql"
        self._known = _ACCOUNTS.setdefault(conn.sync_engine, {})
        # Accounts opened by this transaction are not cached: it may still roll back.
        self._opened: set[str] = set()

    def _insert(self, table: Any) -> Any:
        return postgresql.insert(table) if self._postgres else sqlite.insert(table)

    async def accounts_by_code(self, codes: Sequence[str]) -> dict[str, Account]:
        found = {code: self._known[code] for code in codes if code in self._known}
        missing = [code for code in codes if code not in found]
        if missing:
            rows = await self._conn.execute(select(ledger_accounts).where(a.code.in_(missing)))
            for row in rows:
                account = _account(row)
                found[account.code] = account
                if account.code not in self._opened:
                    self._known[account.code] = account
        return found

    async def open_accounts(self, specs: Sequence[AccountSpec], now: datetime) -> None:
        rows = [
            {
                "code": s.code,
                "type": s.type.value,
                "currency": s.currency,
                "name": s.name or s.code,
                "created_at": now,
            }
            for s in specs
        ]
        self._opened.update(s.code for s in specs)
        # PostgreSQL: a racing opener's row is skipped. SQLite: the caller found these
        # missing under BEGIN IMMEDIATE, so none clashes (0011's trigger refuses a clash).
        await self._conn.execute(self._insert(ledger_accounts).on_conflict_do_nothing(), rows)

    async def list_accounts(
        self, flt: AccountFilter, *, after_code: str | None, limit: int
    ) -> Sequence[Account]:
        query = select(ledger_accounts).order_by(a.code).limit(limit)
        if flt.type is not None:
            query = query.where(a.type == flt.type.value)
        if flt.currency is not None:
            query = query.where(a.currency == flt.currency)
        if flt.code_prefix:
            query = query.where(a.code.startswith(flt.code_prefix, autoescape=True))
        if after_code is not None:
            query = query.where(a.code > after_code)
        return [_account(row) for row in await self._conn.execute(query)]

    async def insert_entry(
        self, draft: EntryDraft, accounts: dict[str, Account], recorded_at: datetime
    ) -> int | None:
        entry_row = {
            "source_key": draft.source_key,
            "description": draft.description,
            "occurred_at": draft.occurred_at,
            "recorded_at": recorded_at,
            "reversal_of": draft.reversal_of,
        }
        if self._postgres:
            # DO NOTHING on either unique key: a racing duplicate waits for the first
            # transaction, then sees its row, without aborting ours.
            inserted = await self._conn.execute(
                postgresql.insert(ledger_entries)
                .values(entry_row)
                .on_conflict_do_nothing()
                .returning(e.id)
            )
            entry_id = inserted.scalar_one_or_none()
            if entry_id is None:
                return None
            await self._insert_legs(entry_id, draft, accounts)
            await self._queue_for_sealing(entry_id)
            return int(entry_id)
        # SQLite: this transaction holds the write lock (BEGIN IMMEDIATE), so checking first
        # is race-free. Legs go in before the entry row, whose trigger checks them.
        clash = e.source_key == draft.source_key
        if draft.reversal_of is not None:
            clash = clash | (e.reversal_of == draft.reversal_of)
        if await self._conn.scalar(select(exists().where(clash))):
            return None
        entry_id = int(await self._conn.scalar(select(func.coalesce(func.max(e.id), 0) + 1)) or 1)
        await self._insert_legs(entry_id, draft, accounts)
        await self._conn.execute(insert(ledger_entries).values(id=entry_id, **entry_row))
        await self._queue_for_sealing(entry_id)
        return entry_id

    async def _queue_for_sealing(self, entry_id: int) -> None:
        # Same transaction as the entry: the queue row is visible exactly when the entry is.
        await self._conn.execute(insert(ledger_unsealed).values(entry_id=entry_id))

    async def _insert_legs(
        self, entry_id: int, draft: EntryDraft, accounts: dict[str, Account]
    ) -> None:
        await self._conn.execute(
            insert(ledger_postings),
            [
                {
                    "entry_id": entry_id,
                    "account_id": accounts[leg.account.code].id,
                    "currency": leg.currency,
                    "side": leg.side.value,
                    "amount": leg.amount,
                }
                for leg in draft.legs
            ],
        )

    async def entry(self, entry_id: int) -> Entry | None:
        found = await self._load(select(ledger_entries).where(e.id == entry_id))
        return found[0] if found else None

    async def entry_by_source_key(self, source_key: str) -> Entry | None:
        found = await self._load(select(ledger_entries).where(e.source_key == source_key))
        return found[0] if found else None

    async def reversal_of(self, entry_id: int) -> Entry | None:
        found = await self._load(select(ledger_entries).where(e.reversal_of == entry_id))
        return found[0] if found else None

    async def entries_after(self, after_id: int, limit: int) -> Sequence[Entry]:
        query = select(ledger_entries).where(e.id > after_id).order_by(e.id).limit(limit)
        return await self._load(query)

    async def unsealed_entries(self, limit: int) -> Sequence[Entry]:
        # The oldest queued ids, not an anti-join over the journal. The chain probe (one
        # unique-index lookup per row) only matters if a queue row outlived its seal, which
        # ``verify`` reports: sealing then carries on instead of failing on a duplicate link.
        sealed = exists().where(c.entry_id == u.entry_id)
        queued = select(u.entry_id).where(~sealed).order_by(u.entry_id).limit(limit).subquery()
        query = (
            select(ledger_entries)
            .join_from(ledger_entries, queued, queued.c.entry_id == e.id)
            .order_by(e.id)
        )
        return await self._load(query)

    async def queued_after(self, after_id: int, limit: int) -> Sequence[int]:
        rows = await self._conn.execute(
            select(u.entry_id).where(u.entry_id > after_id).order_by(u.entry_id).limit(limit)
        )
        return [int(row.entry_id) for row in rows]

    async def unsealed_count(self) -> int:
        # The queue holds only what no seal took yet: a handful of rows while sealing runs.
        return int(await self._conn.scalar(select(func.count()).select_from(ledger_unsealed)) or 0)

    async def _load(self, query: Select[Any]) -> list[Entry]:
        """Entries with their legs; a leg carries the currency stored on the posting itself,
        so a leg that left its account's currency shows up in ``verify``."""
        heads = list(await self._conn.execute(query))
        legs: dict[int, list[Leg]] = {row.id: [] for row in heads}
        for start in range(0, len(heads), _LOAD_BATCH):
            ids = [row.id for row in heads[start : start + _LOAD_BATCH]]
            rows = await self._conn.execute(
                select(p.entry_id, p.side, p.amount, p.currency, a.code, a.type)
                .join_from(ledger_postings, ledger_accounts, a.id == p.account_id)
                .where(p.entry_id.in_(ids))
                .order_by(p.entry_id, p.id)
            )
            for row in rows:
                spec = AccountSpec(row.code, AccountType(row.type), row.currency)
                legs[row.entry_id].append(Leg(spec, Side(row.side), row.amount))
        return [
            Entry(
                id=row.id,
                source_key=row.source_key,
                description=row.description,
                occurred_at=row.occurred_at,
                recorded_at=row.recorded_at,
                legs=tuple(legs[row.id]),
                reversal_of=row.reversal_of,
            )
            for row in heads
        ]

    async def totals(
        self, *, as_of: datetime | None, account_ids: Sequence[int] | None = None
    ) -> Sequence[AccountTotals]:
        def summed(side: Side) -> Any:
            # PostgreSQL sums BIGINT into NUMERIC; cast back so Python sees an int.
            picked = case((p.side == side.value, p.amount), else_=0)
            return cast(func.coalesce(func.sum(picked), 0), BigInteger).label(side.value)

        per_account = select(p.account_id, summed(Side.DEBIT), summed(Side.CREDIT)).group_by(
            p.account_id
        )
        if as_of is not None:
            per_account = per_account.join_from(
                ledger_postings, ledger_entries, e.id == p.entry_id
            ).where(e.occurred_at <= as_of)
        if account_ids is not None:
            per_account = per_account.where(p.account_id.in_(list(account_ids)))
        sums = per_account.subquery()
        query = (
            select(ledger_accounts, sums.c.debit, sums.c.credit)
            .join_from(ledger_accounts, sums, sums.c.account_id == a.id, isouter=True)
            .order_by(a.code)
        )
        if account_ids is not None:
            query = query.where(a.id.in_(list(account_ids)))
        return [
            AccountTotals(_account(row), int(row.debit or 0), int(row.credit or 0))
            for row in await self._conn.execute(query)
        ]

    async def lock_chain(self) -> None:
        if self._postgres:
            await self._conn.execute(select(func.pg_advisory_xact_lock(_CHAIN_LOCK_KEY)))
        # SQLite: BEGIN IMMEDIATE already made this transaction the only writer.

    async def chain_head(self) -> ChainLink | None:
        row = (
            await self._conn.execute(select(ledger_chain).order_by(c.position.desc()).limit(1))
        ).first()
        return (
            None
            if row is None
            else ChainLink(row.position, row.entry_id, row.entry_hash, row.chain_hash)
        )

    async def chain_after(self, after_position: int, limit: int) -> Sequence[ChainLink]:
        rows = await self._conn.execute(
            select(ledger_chain)
            .where(c.position > after_position)
            .order_by(c.position)
            .limit(limit)
        )
        return [ChainLink(r.position, r.entry_id, r.entry_hash, r.chain_hash) for r in rows]

    async def append_links(self, links: Sequence[ChainLink], sealed_at: datetime) -> None:
        if not links:
            return
        await self._conn.execute(
            insert(ledger_chain),
            [
                {
                    "position": link.position,
                    "entry_id": link.entry_id,
                    "entry_hash": link.entry_hash,
                    "chain_hash": link.chain_hash,
                    "sealed_at": sealed_at,
                }
                for link in links
            ],
        )
        sealed = [link.entry_id for link in links]
        for start in range(0, len(sealed), _LOAD_BATCH):
            await self._conn.execute(
                delete(ledger_unsealed).where(u.entry_id.in_(sealed[start : start + _LOAD_BATCH]))
            )


@asynccontextmanager
async def ledger_snapshot(engine: AsyncEngine) -> AsyncIterator[SqlLedgerStore]:
    """A read-only store on one consistent snapshot (PostgreSQL REPEATABLE READ), so
    ``verify`` sees no entry arrive halfway through. Nothing is ever committed."""
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        async with conn.begin():
            yield SqlLedgerStore(conn)
            await conn.rollback()

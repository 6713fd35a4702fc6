"""The reconciliation's storage on SQLAlchemy Core, with bulk paths for PostgreSQL.

A day at national scale is a million statement lines and a million items. On PostgreSQL they
go in with ``COPY`` (asyncpg's ``copy_records_to_table``) and the day's payments come out
through a bare asyncpg fetch, on the connection that carries the unit of work's transaction
(see ``pg_hot_path``): SQLAlchemy's per-row cost would otherwise dominate the run. SQLite goes
through ``executemany`` in chunks; it is the embedded default, not the national scale.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import date, datetime
from itertools import islice
from typing import Any

from sqlalchemy import and_, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from payments.adapters.db import tables as t
from payments.adapters.db.pg_hot_path import _driver
from payments.adapters.db.reconcile_tables import (
    reconcile_item_history,
    reconcile_items,
    reconcile_remittances,
    reconcile_runs,
    reconcile_settlement_lines,
    reconcile_statement_lines,
    reconcile_statements,
)
from payments.reconcile.matching import GatewayPayment, MatchItem, Outcome
from payments.reconcile.settlements import SettlementLine
from payments.reconcile.statements import (
    BookingStatus,
    Direction,
    StatementLine,
    Transaction,
)
from payments.services.reconcile_ports import (
    Breakdown,
    DayPayments,
    Dimension,
    HistoryEntry,
    ItemFilter,
    ItemRow,
    ItemState,
    NewStatement,
    OutcomeTotal,
    Remittance,
    Resolution,
    RunRecord,
    StoredItem,
    StoredStatement,
)

CHUNK = 5_000  # rows per executemany on SQLite
ADVISORY_SPACE = 0x5243  # "RC": the reconciliation's advisory locks, one per business day
FETCH_BATCH = 20_000  # rows per round trip of a PostgreSQL cursor
SHARED_AMOUNTS = 100_000  # distinct amounts kept as one int object each (fees repeat a lot)

_LINE_COLUMNS = (
    "statement_id",
    "line_number",
    "amount",
    "currency",
    "direction",
    "reversal",
    "status",
    "booking_date",
    "value_date",
    "bank_reference",
    "end_to_end_id",
    "remittance",
    "payment_reference",
    "batch_reference",
    "batch_count",
    "batch_total",
    "transactions",
)
_ITEM_COLUMNS = (
    "run_id",
    "item_key",
    "outcome",
    "payment_id",
    "line_number",
    "currency",
    "gateway_amount",
    "treasury_amount",
    "reference",
    "batch_reference",
    "agency",
    "treasury_code",
    "chapter",
    "sub_item",
    "provider",
    "booking_date",
    "days_late",
    "note",
    "state",
    "resolution_note",
    "resolved_by",
    "resolved_at",
)

_MATCH_COLUMNS = (
    "line_number",
    "amount",
    "currency",
    "direction",
    "reversal",
    "status",
    "booking_date",
    "value_date",
    "payment_reference",
    "batch_reference",
    "batch_count",
    "transactions",
)

# The six codes (agency, currency, treasury code, chapter, sub-item, provider) repeat across a
# day's million payments: they come as one text, split once per distinct value. Joined by the
# unit separator (cheap for the server); should a code ever contain that character, the load
# starts again with the codes as a JSON array (unambiguous, twice the server's work).
_CODE_COLUMNS = ("g.code", "p.currency", "p.treasury_code", "p.chapter", "p.sub_item", "a.provider")
_CODES_JOINED = " || chr(31) || ".join(_CODE_COLUMNS)
_CODES_JSON = f"json_build_array({', '.join(_CODE_COLUMNS)})::text"
# Payments whose successful attempt finished in a span: one row each (at most one attempt
# of a payment succeeds: uq_payment_attempts_one_success), with the day they were remitted.
_PAYMENTS_SQL = """
SELECT p.id, p.amount, a.updated_at, a.provider_ref, r.business_date, {codes}
FROM payment_attempts a
JOIN payments p ON p.id = a.payment_id
JOIN agencies g ON g.id = p.agency_id
LEFT JOIN reconcile_remittances r ON r.payment_id = p.id
WHERE a.status = 'succeeded' AND p.status = 'succeeded'
  AND a.updated_at >= $1 AND a.updated_at < $2
"""


def _transactions_json(line: StatementLine) -> list[dict[str, Any]] | None:
    if not line.transactions:
        return None
    return [tx._asdict() for tx in line.transactions]


def _line_record(statement_id: int, line: StatementLine) -> tuple[Any, ...]:
    return (
        statement_id,
        line.line_number,
        line.amount,
        line.currency,
        line.direction.value,
        line.reversal,
        line.status.value,
        line.booking_date,
        line.value_date,
        line.bank_reference,
        line.end_to_end_id,
        line.remittance,
        line.payment_reference,
        line.batch_reference,
        line.batch_count,
        line.batch_total,
    )


def _item_record(run_id: int, row: ItemRow) -> tuple[Any, ...]:
    item = row.item
    return (
        run_id,
        row.item_key,
        item.outcome.value,
        item.payment_id,
        item.line_number,
        item.currency,
        item.gateway_amount,
        item.treasury_amount,
        item.reference,
        item.batch_reference,
        item.agency,
        item.treasury_code,
        item.chapter,
        item.sub_item,
        item.provider,
        item.booking_date,
        item.days_late,
        item.note,
        row.state.value,
        row.resolution_note,
        row.resolved_by,
        row.resolved_at,
    )


def _statement(row: Any) -> StoredStatement:
    return StoredStatement(
        id=row.id,
        source=row.source,
        statement_id=row.statement_id,
        content_hash=row.content_hash,
        format=row.format,
        business_date=row.business_date,
        account=row.account,
        currency=row.currency,
        line_count=row.line_count,
        credit_total=row.credit_total,
        debit_total=row.debit_total,
        imported_at=row.imported_at,
        imported_by=row.imported_by,
    )


def _run(row: Any) -> RunRecord:
    return RunRecord(
        id=row.id,
        business_date=row.business_date,
        started_at=row.started_at,
        finished_at=row.finished_at,
        actor=row.actor,
        statements=tuple(row.statements),
        config=dict(row.config),
        totals={key: OutcomeTotal(**value) for key, value in row.totals.items()},
        item_count=row.item_count,
        matched_gateway_total=row.matched_gateway_total,
        matched_treasury_total=row.matched_treasury_total,
        posted_payments=row.posted_payments,
        posted_entries=row.posted_entries,
    )


def _item(row: Any) -> StoredItem:
    return StoredItem(
        id=row.id,
        run_id=row.run_id,
        item_key=row.item_key,
        item=MatchItem(*(row._mapping[name] for name in _ITEM_COLUMNS[2:18]))._replace(
            outcome=Outcome(row.outcome)
        ),
        state=ItemState(row.state),
        resolution_note=row.resolution_note,
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
    )


class SqlReconciliation:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._postgres = conn.dialect.name == "postgresql"

    async def lock_day(self, business_date: date) -> None:
        if self._postgres:
            await self._conn.execute(
                text("SELECT pg_advisory_xact_lock(:space, :day)"),
                {"space": ADVISORY_SPACE, "day": business_date.toordinal()},
            )
        # SQLite: the unit of work's write transaction already serialises writers.

    # --- statements ---------------------------------------------------------------------

    async def statement_by_hash(self, content_hash: str) -> StoredStatement | None:
        row = (
            await self._conn.execute(
                select(reconcile_statements).where(
                    reconcile_statements.c.content_hash == content_hash
                )
            )
        ).first()
        return _statement(row) if row is not None else None

    async def open_statement(
        self, source: str, business_date: date, imported_at: datetime, imported_by: str
    ) -> int:
        result = await self._conn.execute(
            insert(reconcile_statements)
            .values(
                source=source,
                statement_id="",
                content_hash=f"pending:{secrets.token_hex(16)}",
                format="csv",
                business_date=business_date,
                account="",
                currency="XXX",
                line_count=0,
                credit_total=0,
                debit_total=0,
                imported_at=imported_at,
                imported_by=imported_by,
            )
            .returning(reconcile_statements.c.id)
        )
        return int(result.scalar_one())

    async def complete_statement(self, statement_id: int, statement: NewStatement) -> None:
        header = statement.header
        await self._conn.execute(
            update(reconcile_statements)
            .where(reconcile_statements.c.id == statement_id)
            .values(
                statement_id=header.statement_id[:140],
                content_hash=header.content_hash,
                format=header.format.value,
                account=header.account[:64],
                currency=header.currency,
                line_count=header.line_count,
                credit_total=statement.credit_total,
                debit_total=statement.debit_total,
            )
        )

    async def add_lines(self, statement_id: int, lines: Iterable[StatementLine]) -> None:
        if self._postgres:
            driver = await _driver(self._conn)
            # One COPY fed by the caller's generator (the parser): asyncpg sends the records
            # as they come, so the server stores a part while the next is being parsed. The
            # line's fields are the table's columns, in order; only the batch details (rare)
            # need turning into JSON text.
            await driver.copy_records_to_table(
                "reconcile_statement_lines",
                records=(
                    (statement_id, *line[:15], _json_text(_transactions_json(line)))
                    if line.transactions
                    else (statement_id, *line[:15], None)
                    for line in lines
                ),
                columns=_LINE_COLUMNS,
            )
            return
        lines = iter(lines)
        while chunk := list(islice(lines, CHUNK)):
            rows = [
                dict(
                    zip(
                        _LINE_COLUMNS,
                        (*_line_record(statement_id, line), _transactions_json(line)),
                        strict=True,
                    )
                )
                for line in chunk
            ]
            await self._conn.execute(insert(reconcile_statement_lines), rows)

    async def add_settlement_lines(
        self, statement_id: int, lines: Sequence[SettlementLine]
    ) -> None:
        for start in range(0, len(lines), CHUNK):
            await self._conn.execute(
                insert(reconcile_settlement_lines),
                [
                    {"statement_id": statement_id, **line._asdict()}
                    for line in lines[start : start + CHUNK]
                ],
            )

    async def settlement_lines_of(self, statement_ids: Sequence[int]) -> list[SettlementLine]:
        if not statement_ids:
            return []
        c = reconcile_settlement_lines.c
        rows = await self._conn.execute(
            select(*(c[name] for name in SettlementLine._fields))
            .where(c.statement_id.in_(statement_ids))
            .order_by(c.statement_id, c.line_number)
        )
        return [SettlementLine(*row) for row in rows]

    async def statements_for(self, business_date: date, source: str) -> Sequence[StoredStatement]:
        s = reconcile_statements.c
        rows = await self._conn.execute(
            select(reconcile_statements)
            .where(s.business_date == business_date, s.source == source)
            .order_by(s.id)
        )
        return [_statement(row) for row in rows]

    async def lines_of(self, statement_ids: Sequence[int]) -> list[StatementLine]:
        """The lines as the matcher reads them: the free text (remittance, bank and end-to-end
        references) stays in storage, since the matcher only needs the payment reference it
        was reduced to; at a million lines that text is most of the memory."""
        if not statement_ids:
            return []
        if self._postgres:
            driver = await _driver(self._conn)
            # A server-side cursor: rows arrive in batches instead of one list of a million.
            batches = _pg_batches(
                driver,
                f"SELECT {', '.join(_MATCH_COLUMNS)} "  # noqa: S608 - fixed names
                "FROM reconcile_statement_lines WHERE statement_id = ANY($1::bigint[]) "
                "ORDER BY statement_id, line_number",
                list(statement_ids),
            )
        else:
            line = reconcile_statement_lines.c
            batches = _sa_batches(
                await self._conn.execute(
                    select(*(line[name] for name in _MATCH_COLUMNS))
                    .where(line.statement_id.in_(statement_ids))
                    .order_by(line.statement_id, line.line_number)
                )
            )
        shared: dict[Any, Any] = {}  # one object per distinct currency and date
        keep = shared.setdefault
        directions = {d.value: d for d in Direction}
        statuses = {s.value: s for s in BookingStatus}
        found = []
        async for batch in batches:
            for row in batch:
                raw = row[11]
                if isinstance(raw, str):
                    raw = json.loads(raw)
                found.append(
                    StatementLine(
                        row[0],
                        row[1],
                        keep(row[2], row[2]),
                        directions[row[3]],
                        bool(row[4]),
                        statuses[row[5]],
                        keep(row[6], row[6]),
                        keep(row[7], row[7]),
                        None,
                        None,
                        "",
                        row[8],
                        row[9],
                        row[10],
                        None,
                        tuple(Transaction(**tx) for tx in raw) if raw else (),
                    )
                )
        return found

    # --- payments -----------------------------------------------------------------------

    async def succeeded_payments(
        self, captured_from: datetime, captured_to: datetime
    ) -> DayPayments:
        found = DayPayments()
        payments, remitted = found.payments, found.remitted_on
        if self._postgres:
            await self._pg_payments(found, captured_from, captured_to)
            return found
        a, p, g, r = t.payment_attempts.c, t.payments.c, t.agencies.c, reconcile_remittances.c
        result = await self._conn.execute(
            select(
                p.id,
                g.code,
                p.amount,
                p.currency,
                p.treasury_code,
                p.chapter,
                p.sub_item,
                a.provider,
                a.updated_at,
                a.provider_ref,
                r.business_date,
            )
            .select_from(
                t.payment_attempts.join(t.payments, p.id == a.payment_id)
                .join(t.agencies, g.id == p.agency_id)
                .outerjoin(reconcile_remittances, r.payment_id == p.id)
            )
            .where(
                a.status == "succeeded",
                p.status == "succeeded",
                a.updated_at >= captured_from,
                a.updated_at < captured_to,
            )
        )
        batches = _sa_batches(result)
        # Codes repeat: one string object per distinct value, not a million copies.
        codes: dict[str, str] = {}
        keep = codes.setdefault
        amounts: dict[int, int] = {}
        append = payments.append
        async for batch in batches:
            for row in batch:
                pid, amount = row[0], row[2]
                amount = amounts.get(amount, amount)
                if len(amounts) < SHARED_AMOUNTS:
                    amounts.setdefault(amount, amount)
                append(
                    GatewayPayment(
                        pid,
                        keep(row[1], row[1]),
                        amount,
                        keep(row[3], row[3]),
                        keep(row[4], row[4]),
                        keep(row[5], row[5]),
                        keep(row[6], row[6]),
                        keep(row[7], row[7]),
                        row[8],
                        row[9],
                    )
                )
                if row[10] is not None:
                    remitted[pid] = row[10]
        return found

    async def _pg_payments(
        self, found: DayPayments, captured_from: datetime, captured_to: datetime
    ) -> None:
        if not await self._pg_payments_as(found, captured_from, captured_to, joined=True):
            found.payments.clear()
            found.remitted_on.clear()
            await self._pg_payments_as(found, captured_from, captured_to, joined=False)

    async def _pg_payments_as(
        self, found: DayPayments, captured_from: datetime, captured_to: datetime, *, joined: bool
    ) -> bool:
        """False when a joined codes text does not split in six (the rows are still read to
        the end, so that the cursor closes cleanly)."""
        driver = await _driver(self._conn)
        sql = _PAYMENTS_SQL.format(codes=_CODES_JOINED if joined else _CODES_JSON)
        payments, remitted = found.payments, found.remitted_on
        append = payments.append
        profiles: dict[str, tuple[str, ...]] = {}  # codes text -> its six shared strings
        shared: dict[str, str] = {}  # one string object per distinct code
        keep = shared.setdefault
        amounts: dict[int, int] = {}
        new = tuple.__new__  # GatewayPayment(...) without its Python-level __new__ per row
        whole = True
        async for batch in _pg_batches(driver, sql, captured_from, captured_to):
            if not whole:
                continue
            for pid, paid, captured, ref, remitted_day, codes in batch:
                profile = profiles.get(codes)
                if profile is None:
                    parts = codes.split("\x1f") if joined else json.loads(codes)
                    if len(parts) != len(_CODE_COLUMNS):
                        whole = False
                        break
                    profile = profiles[codes] = tuple(keep(part, part) for part in parts)
                agency, currency, treasury_code, chapter, sub_item, provider = profile
                amount = amounts.get(paid)
                if amount is None:
                    amount = paid
                    if len(amounts) < SHARED_AMOUNTS:
                        amounts[paid] = paid
                append(
                    new(
                        GatewayPayment,
                        (
                            pid,
                            agency,
                            amount,
                            currency,
                            treasury_code,
                            chapter,
                            sub_item,
                            provider,
                            captured,
                            ref,
                            None,  # batch_reference: every field, no defaults here
                        ),
                    )
                )
                if remitted_day is not None:
                    remitted[pid] = remitted_day
        return whole

    # --- runs and items -----------------------------------------------------------------

    async def add_run(self, run: RunRecord) -> int:
        result = await self._conn.execute(
            insert(reconcile_runs)
            .values(
                business_date=run.business_date,
                started_at=run.started_at,
                finished_at=run.finished_at,
                actor=run.actor,
                statements=list(run.statements),
                config=run.config,
                totals={key: total.__dict__ for key, total in run.totals.items()},
                item_count=run.item_count,
                matched_gateway_total=run.matched_gateway_total,
                matched_treasury_total=run.matched_treasury_total,
                posted_payments=run.posted_payments,
                posted_entries=run.posted_entries,
            )
            .returning(reconcile_runs.c.id)
        )
        return int(result.scalar_one())

    async def add_items(self, run_id: int, rows: Iterable[ItemRow]) -> None:
        if self._postgres:
            driver = await _driver(self._conn)
            # One COPY fed by a generator: asyncpg encodes and sends the records as they come,
            # so the server stores a part while the next is being built (the rows of a day
            # are never all in memory at once, and no worker thread is needed).
            await driver.copy_records_to_table(
                "reconcile_items",
                # MatchItem's fields are the columns from outcome to note, in order.
                records=((run_id, r[0], *r[1], r[2], r[3], r[4], r[5]) for r in rows),
                columns=_ITEM_COLUMNS,
            )
            return
        rows = iter(rows)
        while chunk := list(islice(rows, CHUNK)):
            await self._conn.execute(
                insert(reconcile_items),
                [dict(zip(_ITEM_COLUMNS, _item_record(run_id, row), strict=True)) for row in chunk],
            )

    async def add_history(self, entries: Iterable[HistoryEntry]) -> None:
        rows = [entry.__dict__ for entry in entries]
        for start in range(0, len(rows), CHUNK):
            await self._conn.execute(insert(reconcile_item_history), rows[start : start + CHUNK])

    async def add_remittances(self, remittance: Remittance, payment_ids: Sequence[str]) -> None:
        if not payment_ids:
            return
        day, run_id, entry = remittance.business_date, remittance.run_id, remittance.entry_id
        if self._postgres:
            driver = await _driver(self._conn)
            await driver.copy_records_to_table(
                "reconcile_remittances",
                records=[(pid, day, run_id, entry) for pid in payment_ids],
                columns=("payment_id", "business_date", "run_id", "entry_id"),
            )
            return
        for start in range(0, len(payment_ids), CHUNK):
            await self._conn.execute(
                insert(reconcile_remittances),
                [
                    {
                        "payment_id": pid,
                        "business_date": day,
                        "run_id": run_id,
                        "entry_id": entry,
                    }
                    for pid in payment_ids[start : start + CHUNK]
                ],
            )

    async def resolutions(self, run_id: int) -> dict[str, Resolution]:
        i = reconcile_items.c
        rows = await self._conn.execute(
            select(i.item_key, i.resolution_note, i.resolved_by, i.resolved_at).where(
                i.run_id == run_id,
                i.state == ItemState.RESOLVED.value,
                i.item_key.is_not(None),
            )
        )
        return {
            row.item_key: Resolution(row.resolution_note or "", row.resolved_by, row.resolved_at)
            for row in rows
        }

    async def latest_run(self, business_date: date) -> RunRecord | None:
        r = reconcile_runs.c
        row = (
            await self._conn.execute(
                select(reconcile_runs)
                .where(r.business_date == business_date)
                .order_by(r.id.desc())
                .limit(1)
            )
        ).first()
        return _run(row) if row is not None else None

    async def run(self, run_id: int) -> RunRecord | None:
        row = (
            await self._conn.execute(select(reconcile_runs).where(reconcile_runs.c.id == run_id))
        ).first()
        return _run(row) if row is not None else None

    async def runs(
        self, *, before_id: int | None, limit: int, business_date: date | None = None
    ) -> Sequence[RunRecord]:
        r = reconcile_runs.c
        query = select(reconcile_runs).order_by(r.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(r.id < before_id)
        if business_date is not None:
            query = query.where(r.business_date == business_date)
        return [_run(row) for row in await self._conn.execute(query)]

    async def items(
        self, run_id: int, flt: ItemFilter, *, after_id: int | None, limit: int
    ) -> Sequence[StoredItem]:
        i = reconcile_items.c
        conditions = [i.run_id == run_id]
        if after_id is not None:
            conditions.append(i.id > after_id)
        if flt.outcomes:
            conditions.append(i.outcome.in_(sorted(o.value for o in flt.outcomes)))
        if flt.state is not None:
            conditions.append(i.state == flt.state.value)
        for name in ("agency", "provider", "treasury_code", "chapter", "sub_item", "payment_id"):
            value = getattr(flt, name)
            if value is not None:
                conditions.append(i[name] == value)
        rows = await self._conn.execute(
            select(reconcile_items).where(and_(*conditions)).order_by(i.id).limit(limit)
        )
        return [_item(row) for row in rows]

    async def item(self, item_id: int, *, lock: bool = False) -> StoredItem | None:
        query = select(reconcile_items).where(reconcile_items.c.id == item_id)
        if lock and self._postgres:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        return _item(row) if row is not None else None

    async def resolve(self, item_id: int, resolution: Resolution) -> None:
        await self._conn.execute(
            update(reconcile_items)
            .where(reconcile_items.c.id == item_id)
            .values(
                state=ItemState.RESOLVED.value,
                resolution_note=resolution.note,
                resolved_by=resolution.actor,
                resolved_at=resolution.at,
            )
        )

    async def annotate(self, item_id: int, note: str) -> None:
        await self._conn.execute(
            update(reconcile_items).where(reconcile_items.c.id == item_id).values(note=note)
        )

    async def history(self, business_date: date, item_key: str) -> Sequence[HistoryEntry]:
        h = reconcile_item_history.c
        rows = await self._conn.execute(
            select(h.business_date, h.item_key, h.run_id, h.action, h.actor, h.note, h.occurred_at)
            .where(h.business_date == business_date, h.item_key == item_key)
            .order_by(h.id)
        )
        return [HistoryEntry(*row) for row in rows]

    async def breakdown(self, run_id: int, by: Dimension) -> Sequence[Breakdown]:
        i = reconcile_items.c
        key = i[by.value]
        rows = await self._conn.execute(
            select(
                key,
                i.outcome,
                func.count(),
                func.coalesce(func.sum(i.gateway_amount), 0),
                func.coalesce(func.sum(i.treasury_amount), 0),
            )
            .where(i.run_id == run_id)
            .group_by(key, i.outcome)
            .order_by(key, i.outcome)
        )
        return [
            Breakdown(row[0], Outcome(row[1]), int(row[2]), int(row[3]), int(row[4]))
            for row in rows
        ]


async def _pg_batches(driver: Any, query: str, *args: Any) -> AsyncIterator[list[Any]]:
    """A server-side cursor read in batches: never one list of a million records. The next
    batch is asked for before this one is handed out, so the server produces it while the
    caller turns this one into records."""
    cursor = await driver.cursor(query, *args)
    ahead = asyncio.ensure_future(cursor.fetch(FETCH_BATCH))
    try:
        while batch := await ahead:
            ahead = asyncio.ensure_future(cursor.fetch(FETCH_BATCH))
            await asyncio.sleep(0)  # the request goes out now, not after the caller's work
            yield batch
    finally:
        if not ahead.done():
            ahead.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await ahead


async def _sa_batches(result: Any) -> AsyncIterator[list[Any]]:
    yield list(result)


def _json_text(value: Any) -> str | None:
    # The engine's asyncpg codec for json/jsonb takes text, as SQLAlchemy's JSON type sends it.
    return None if value is None else json.dumps(value, ensure_ascii=False)

"""Statements and their lines in storage: the treasury's statements (streamed in, on
PostgreSQL as one ``COPY``, and read back as the matcher reads them) and the providers'
settlement reports.

A statement is known by (source, business day, content hash): the same bytes imported again
for that source and day store nothing new (``complete_statement`` returns the earlier one, also
when two imports of the same bytes race). Treasury statements of a day all count (a day may
come in parts); a provider's settlement report is superseded by a newer one of the same
provider and day (a corrected file), newer meaning completed later (``imported_at``, the
completion stamp, then the id), and a run reads only the newest (``latest_settlement_reports``).

An import's placeholder row (``open_statement``) is only ever seen inside the import's own
transaction: neither database shows an uncommitted row to another connection (and on SQLite
every transaction begins IMMEDIATE, so no other one even starts while an import writes). So the
listings need no filter for it; only the import's own queries (``statement_by_content`` after
its lines are in, for the ``superseded`` mark) can meet it, and ``_NEWER`` leaves it out.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from itertools import islice
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from payments.db.drivers import asyncpg_connection
from payments.reconcile.formats.settlements import LineKind, SettlementLine
from payments.reconcile.formats.statements import (
    BookingStatus,
    Direction,
    StatementLine,
    Transaction,
)
from payments.reconcile.ports import NewStatement, StoredStatement
from payments.reconcile.storage.batches import CHUNK, pg_batches, sa_batches
from payments.reconcile.storage.tables import (
    reconcile_settlement_lines,
    reconcile_statement_lines,
    reconcile_statements,
)
from payments.reconcile.usecases.imports import TREASURY

PENDING = "pending:"  # open_statement's content hash while the lines stream in

_S = reconcile_statements.c
_LATER = reconcile_statements.alias("later")
# A newer statement of the same source and day exists: completed later (``imported_at`` is
# stamped at completion; the id breaks a tie). For a settlement report that means superseded
# (a corrected file). Treasury statements of a day all count. The import's own placeholder,
# which its own transaction sees, is no statement yet.
_NEWER = exists().where(
    _LATER.c.source == _S.source,
    _LATER.c.business_date == _S.business_date,
    or_(
        _LATER.c.imported_at > _S.imported_at,
        and_(_LATER.c.imported_at == _S.imported_at, _LATER.c.id > _S.id),
    ),
    _LATER.c.content_hash.not_like(f"{PENDING}%"),
)
_SUPERSEDED: ColumnElement[bool] = and_(_S.source != TREASURY, _NEWER)
_STATEMENTS = select(reconcile_statements, _SUPERSEDED.label("superseded"))

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
        superseded=bool(row.superseded),
        lists_refunds=bool(row.lists_refunds),
    )


def _json_text(value: Any) -> str | None:
    # The engine's asyncpg codec for json/jsonb takes text, as SQLAlchemy's JSON type sends it.
    return None if value is None else json.dumps(value, ensure_ascii=False)


class SqlStatements:
    """Statements and their lines: a part of ``SqlReconciliation``, which sets the connection."""

    _conn: AsyncConnection
    _postgres: bool

    async def statement_by_content(
        self, source: str, business_date: date, content_hash: str
    ) -> StoredStatement | None:
        row = (
            await self._conn.execute(
                _STATEMENTS.where(
                    _S.source == source,
                    _S.business_date == business_date,
                    _S.content_hash == content_hash,
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
                content_hash=f"{PENDING}{secrets.token_hex(16)}",
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

    async def complete_statement(
        self, statement_id: int, statement: NewStatement
    ) -> StoredStatement | None:
        header = statement.header
        completing = (
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
                imported_at=statement.imported_at,
                lists_refunds=statement.lists_refunds,
            )
        )
        source = str(await self._conn.scalar(select(_S.source).where(_S.id == statement_id)))
        # The common repeat (imported before) is found by a read; only an import that
        # committed while this one ran reaches the unique index below.
        earlier = await self.statement_by_content(
            source, statement.business_date, header.content_hash
        )
        if earlier is not None:
            return earlier
        try:
            # A savepoint: the clash below leaves the transaction usable for reading the
            # earlier statement (the caller then rolls the whole import back).
            async with self._conn.begin_nested():
                await self._conn.execute(completing)
        except IntegrityError:
            # The same bytes for the source and day, committed by another import while this
            # one ran (PostgreSQL makes this UPDATE wait for it; on SQLite imports take turns).
            earlier = await self.statement_by_content(
                source, statement.business_date, header.content_hash
            )
            if earlier is None:  # another constraint: not a repeat
                raise
            return earlier
        return None

    async def add_lines(self, statement_id: int, lines: Iterable[StatementLine]) -> None:
        if self._postgres:
            driver = await asyncpg_connection(self._conn)
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
        kinds = {kind.value: kind for kind in LineKind}
        return [SettlementLine._make((*row[:-1], kinds[row[-1]])) for row in rows]

    async def statements_for(self, business_date: date, source: str) -> Sequence[StoredStatement]:
        rows = await self._conn.execute(
            _STATEMENTS.where(_S.business_date == business_date, _S.source == source).order_by(
                _S.id
            )
        )
        return [_statement(row) for row in rows]

    async def latest_settlement_reports(self, business_date: date) -> Sequence[StoredStatement]:
        rows = await self._conn.execute(
            _STATEMENTS.where(
                _S.business_date == business_date, _S.source != TREASURY, ~_NEWER
            ).order_by(_S.id)
        )
        return [_statement(row) for row in rows]

    async def statement(self, statement_id: int) -> StoredStatement | None:
        row = (await self._conn.execute(_STATEMENTS.where(_S.id == statement_id))).first()
        return _statement(row) if row is not None else None

    async def statements(
        self,
        *,
        before_id: int | None,
        limit: int,
        business_date: date | None = None,
        source: str | None = None,
    ) -> Sequence[StoredStatement]:
        s = _S
        query = _STATEMENTS
        if before_id is not None:
            query = query.where(s.id < before_id)
        if business_date is not None:
            query = query.where(s.business_date == business_date)
        if source is not None:
            query = query.where(s.source == source)
        rows = await self._conn.execute(query.order_by(s.id.desc()).limit(limit))
        return [_statement(row) for row in rows]

    async def lines_of(self, statement_ids: Sequence[int]) -> list[StatementLine]:
        """The lines as the matcher reads them: the free text (remittance, bank and end-to-end
        references) stays in storage, since the matcher only needs the payment reference it
        was reduced to; at a million lines that text is most of the memory."""
        if not statement_ids:
            return []
        if self._postgres:
            driver = await asyncpg_connection(self._conn)
            # A server-side cursor: rows arrive in batches instead of one list of a million.
            batches = pg_batches(
                driver,
                f"SELECT {', '.join(_MATCH_COLUMNS)} "  # noqa: S608 - fixed names
                "FROM reconcile_statement_lines WHERE statement_id = ANY($1::bigint[]) "
                "ORDER BY statement_id, line_number",
                list(statement_ids),
            )
        else:
            line = reconcile_statement_lines.c
            batches = sa_batches(
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

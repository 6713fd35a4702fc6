"""Status histories: a payment's and a refund's events are rows of one shape (what moved from
which status to which, why, by whom, when), each kind in its own table, written and read here."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, ClassVar, Protocol, TypeVar

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection


class _EventRecord(Protocol):
    """An event dataclass whose fields are its table's columns, one of them ``detail`` (JSON)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]


E = TypeVar("E", bound=_EventRecord)


async def append(conn: AsyncConnection, table: Table, event: E) -> None:
    """Store ``event``; the table's columns are the event's fields (its id is the table's)."""
    values = {f.name: getattr(event, f.name) for f in fields(event) if f.name != "id"}
    await conn.execute(insert(table), {**values, "detail": dict(values["detail"])})


async def history(
    conn: AsyncConnection, table: Table, kind: type[E], column: str, subject_id: str
) -> list[E]:
    """The events whose ``column`` is ``subject_id``, oldest first."""
    rows = await conn.execute(
        select(table).where(table.c[column] == subject_id).order_by(table.c.id)
    )
    return [kind(**{**row._asdict(), "detail": dict(row.detail)}) for row in rows]

"""Idempotency keys: claimed once per agency, answered again on a replay, in SQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from payments.adapters.db import tables as t
from payments.adapters.db.upsert import upsert_insert
from payments.services.ports import (
    IdempotencyRecord,
    StoredResponse,
)


async def claim_key(
    conn: AsyncConnection,
    *,
    agency_id: int,
    key: str,
    fingerprint: str,
    now: datetime,
    expires_at: datetime,
    response: StoredResponse | None,
) -> IdempotencyRecord | None:
    """Take the key (with the answer to keep, when known), or return the live record.

    A concurrent holder of the key makes this wait until it commits or rolls back.
    """
    r = t.idempotency_records
    stored = {
        "fingerprint": fingerprint,
        "response_status": response.status_code if response else None,
        "response_body": response.body if response else None,
        "created_at": now,
        "expires_at": expires_at,
    }
    inserted = await conn.execute(
        upsert_insert(conn, r)
        .on_conflict_do_nothing(index_elements=["agency_id", "key"])
        .returning(r.c.id),
        {"agency_id": agency_id, "key": key, **stored},
    )
    if inserted.first() is not None:
        return None
    where = and_(r.c.agency_id == agency_id, r.c.key == key)
    row = (await conn.execute(select(r).where(where).with_for_update())).one()
    if row.expires_at <= now:
        # An expired key is free again: take it over for this request.
        await conn.execute(update(r).where(where).values(**stored))
        return None
    earlier = (
        StoredResponse(row.response_status, row.response_body)
        if row.response_status is not None
        else None
    )
    return IdempotencyRecord(key=row.key, fingerprint=row.fingerprint, response=earlier)


class SqlIdempotency:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def claim(
        self, *, agency_id: int, key: str, fingerprint: str, now: datetime, expires_at: datetime
    ) -> IdempotencyRecord | None:
        return await claim_key(
            self._conn,
            agency_id=agency_id,
            key=key,
            fingerprint=fingerprint,
            now=now,
            expires_at=expires_at,
            response=None,
        )

    async def purge(self, now: datetime) -> int:
        r = t.idempotency_records
        result = await self._conn.execute(delete(r).where(r.c.expires_at <= now))
        return int(result.rowcount)

"""The append-only audit log, in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from payments.adapters.db import tables as t
from payments.domain.events import AuditEntry, AuditRecord
from payments.services.ports import (
    AuditFilter,
)


class SqlAuditLog:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def record(self, entry: AuditEntry) -> None:
        await self._conn.execute(
            insert(t.audit_log),
            {
                "occurred_at": entry.occurred_at,
                "actor": entry.actor,
                "agency_id": entry.agency_id,
                "action": entry.action,
                "target_type": entry.target_type,
                "target_id": entry.target_id,
                "detail": dict(entry.detail),
                "request_id": entry.request_id,
            },
        )

    async def page(
        self, flt: AuditFilter, *, before_id: int | None, limit: int
    ) -> Sequence[AuditRecord]:
        c, agencies = t.audit_log.c, t.agencies
        stmt: Select[Any] = select(t.audit_log, agencies.c.code.label("agency_code")).join_from(
            t.audit_log, agencies, agencies.c.id == c.agency_id, isouter=True
        )
        # Each filter is a plain condition on an indexed column (actor, action, target,
        # occurred_at), so the database pages by id without reading what it skips.
        if flt.actor is not None:
            stmt = stmt.where(c.actor == flt.actor)
        if flt.action is not None:
            stmt = stmt.where(c.action == flt.action)
        if flt.action_prefix is not None:
            stmt = stmt.where(c.action.startswith(flt.action_prefix, autoescape=True))
        if flt.target_type is not None:
            stmt = stmt.where(c.target_type == flt.target_type)
        if flt.target_id is not None:
            stmt = stmt.where(c.target_id == flt.target_id)
        if flt.occurred_from is not None:
            stmt = stmt.where(c.occurred_at >= flt.occurred_from)
        if flt.occurred_to is not None:
            stmt = stmt.where(c.occurred_at < flt.occurred_to)
        if before_id is not None:
            stmt = stmt.where(c.id < before_id)
        rows = await self._conn.execute(stmt.order_by(c.id.desc()).limit(limit))
        return [
            AuditRecord(
                id=int(row.id),
                entry=AuditEntry(
                    action=row.action,
                    actor=row.actor,
                    occurred_at=row.occurred_at,
                    agency_id=row.agency_id,
                    target_type=row.target_type,
                    target_id=row.target_id,
                    detail=row.detail,
                    request_id=row.request_id,
                ),
                agency_code=row.agency_code,
            )
            for row in rows
        ]

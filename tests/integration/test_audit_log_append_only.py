"""The audit log is append-only in the database itself, whoever writes: raw SQL may add a row
(the gateway's own writes go through the unit of work), never change or remove one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from payments.domain.events import AuditEntry
from payments.unit_of_work import SqlUnitOfWorkFactory

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
NOW = "2026-11-22 03:00:00"
ROWS = "SELECT id, actor, action, target_type, target_id FROM audit_log ORDER BY id"


@pytest.fixture
async def audited(uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine) -> AsyncEngine:
    """Two rows, written the way the gateway writes them."""
    async with uow_factory() as uow:
        for refund in ("r-1", "r-2"):
            await uow.audit.record(
                AuditEntry(
                    action="refund.approved",
                    actor="apikey:7",
                    occurred_at=T0,
                    target_type="refund",
                    target_id=refund,
                    detail={"note": "ok"},
                )
            )
        await uow.commit()
    return engine


async def _rows(engine: AsyncEngine) -> list[tuple[object, ...]]:
    async with engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(text(ROWS))]


async def _refused_unchanged(engine: AsyncEngine, sql: str, match: str) -> None:
    before = await _rows(engine)
    assert len(before) == 2
    with pytest.raises(DBAPIError, match=match):
        async with engine.begin() as conn:
            await conn.execute(text(sql))
    assert await _rows(engine) == before


async def test_rows_are_appended(audited: AsyncEngine) -> None:
    async with audited.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO audit_log (occurred_at, actor, action, detail) "
                f"VALUES ('{NOW}', 'operator', 'agency.created', '{{}}')"
            )
        )
    assert [row[1] for row in await _rows(audited)] == ["apikey:7", "apikey:7", "operator"]


async def test_update_is_refused(audited: AsyncEngine) -> None:
    await _refused_unchanged(
        audited, "UPDATE audit_log SET actor = 'someone-else' WHERE target_id = 'r-1'", "append"
    )


async def test_delete_is_refused(audited: AsyncEngine) -> None:
    await _refused_unchanged(audited, "DELETE FROM audit_log WHERE target_id = 'r-2'", "append")


async def test_delete_of_everything_is_refused(audited: AsyncEngine) -> None:
    await _refused_unchanged(audited, "DELETE FROM audit_log", "append")


@pytest.mark.postgres_only
async def test_truncate_is_refused(audited: AsyncEngine) -> None:
    await _refused_unchanged(audited, "TRUNCATE audit_log", "append")


async def test_an_upsert_is_refused(audited: AsyncEngine) -> None:
    await _refused_unchanged(
        audited,
        "INSERT INTO audit_log (id, occurred_at, actor, action, detail) "
        f"SELECT id, '{NOW}', 'someone-else', 'refund.rejected', '{{}}' FROM audit_log "
        "WHERE target_id = 'r-1' "
        "ON CONFLICT (id) DO UPDATE SET actor = excluded.actor, action = excluded.action",
        "append",
    )


@pytest.mark.sqlite_only  # a conflict clause of SQLite's own
@pytest.mark.parametrize("verb", ["INSERT OR REPLACE INTO", "REPLACE INTO"])
async def test_sqlite_replace_is_refused(audited: AsyncEngine, verb: str) -> None:
    await _refused_unchanged(
        audited,
        f"{verb} audit_log (id, occurred_at, actor, action, detail) "
        f"SELECT id, '{NOW}', 'someone-else', 'refund.rejected', '{{}}' FROM audit_log "
        "WHERE target_id = 'r-1'",
        "never replaced",
    )


@pytest.mark.sqlite_only  # a conflict clause of SQLite's own
async def test_sqlite_update_or_replace_is_refused(audited: AsyncEngine) -> None:
    # Taking the other row's id would REPLACE that row away.
    await _refused_unchanged(
        audited,
        "UPDATE OR REPLACE audit_log SET id = (SELECT max(id) FROM audit_log) "
        "WHERE target_id = 'r-1'",
        "append|not allowed",
    )

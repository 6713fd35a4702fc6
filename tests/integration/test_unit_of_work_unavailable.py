"""A unit of work that cannot get a connection, or SQLite's write lock, raises Unavailable (a
503 with Retry-After) only when that is a moment's wait: the database is down, full, or busy
writing. A configuration error (no such database, no such file) still raises as it is."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from payments.adapters.db.engine import make_engine
from payments.domain.errors import Unavailable
from payments.unit_of_work import SqlUnitOfWorkFactory


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: nothing listens there


async def test_sqlite_write_lock_held_past_busy_timeout_is_unavailable(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'locked.db'}"
    engine = make_engine(url, sqlite_busy_ms=200)
    uow = SqlUnitOfWorkFactory(engine)
    try:
        async with uow() as writer:  # BEGIN IMMEDIATE: holds the write lock
            await writer.connection.execute(text("CREATE TABLE t (x INTEGER)"))
            with pytest.raises(Unavailable) as caught:
                async with uow():
                    pytest.fail("a second writer got the lock")
            assert caught.value.retry_after_seconds >= 1
            assert isinstance(caught.value.__cause__, OperationalError)
            await writer.commit()
        async with uow() as after:  # the lock is free again, and the pool too
            assert (await after.connection.execute(text("SELECT count(*) FROM t"))).scalar() == 0
    finally:
        await engine.dispose()


async def test_sqlite_file_that_cannot_be_opened_is_not_unavailable(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'no.db'}")
    try:
        with pytest.raises(OperationalError, match="unable to open"):
            async with SqlUnitOfWorkFactory(engine)():
                pass
    finally:
        await engine.dispose()


async def test_postgresql_not_listening_is_unavailable() -> None:
    engine = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/payments")
    try:
        with pytest.raises(Unavailable) as caught:
            async with SqlUnitOfWorkFactory(engine)():
                pass
        assert isinstance(caught.value.__cause__, ConnectionRefusedError)
    finally:
        await engine.dispose()


@pytest.mark.postgres_only
async def test_postgresql_refusing_more_connections_is_unavailable(
    database_url: str, engine: AsyncEngine
) -> None:
    # A role allowed no connection gets too_many_connections (53300), as a full server does.
    role = f"payments_full_{uuid.uuid4().hex[:8]}"
    async with engine.connect() as admin:
        await admin.execute(text(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 0'))
        await admin.commit()
    full = make_engine(database_url.replace("://postgres@", f"://{role}@", 1))
    try:
        with pytest.raises(Unavailable) as caught:
            async with SqlUnitOfWorkFactory(full)():
                pass
        cause = caught.value.__cause__
        assert isinstance(cause, DBAPIError)
        assert getattr(cause.orig, "sqlstate", None) == "53300"
    finally:
        await full.dispose()
        async with engine.connect() as admin:
            await admin.execute(text(f'DROP ROLE "{role}"'))
            await admin.commit()


@pytest.mark.postgres_only
async def test_postgresql_unknown_database_is_not_unavailable(database_url: str) -> None:
    missing = make_engine(f"{database_url.rpartition('/')[0]}/no_such_db_{uuid.uuid4().hex[:8]}")
    try:
        with pytest.raises(DBAPIError) as caught:  # not Unavailable: a 500 to be looked at
            async with SqlUnitOfWorkFactory(missing)():
                pass
        assert getattr(caught.value.orig, "sqlstate", None) == "3D000"
    finally:
        await missing.dispose()

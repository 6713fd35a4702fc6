"""Throw-away databases for tests: PostgreSQL and SQLite, migrated once, cloned per test.

Each backend is migrated to head once per session into a template; every test that asks for
a database gets a fresh copy (PostgreSQL: CREATE DATABASE ... TEMPLATE; SQLite: a file copy),
so tests that commit, run concurrently or break things on purpose never see each other.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from payments.adapters.db.migrations import upgrade_to_head

POSTGRES_ADMIN_URL = os.environ.get(
    "PAYMENTS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def _blocking_admin(sql: str) -> None:
    """Run admin SQL from sync code that may itself be inside an event loop."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(asyncio.run, _admin(sql)).result()


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(POSTGRES_ADMIN_URL))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@dataclass
class PostgresTemplate:
    name: str

    @classmethod
    def create(cls) -> PostgresTemplate:
        name = f"payments_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        _blocking_admin(f'CREATE DATABASE "{name}"')
        upgrade_to_head(_with_database(POSTGRES_ADMIN_URL, name))
        return cls(name)

    async def clone(self) -> str:
        name = f"payments_t_{uuid.uuid4().hex[:12]}"
        await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.name}"')
        return _with_database(POSTGRES_ADMIN_URL, name).replace(
            "postgresql://", "postgresql+asyncpg://"
        )

    async def drop_clone(self, url: str) -> None:
        name = url.rpartition("/")[2]
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drop(self) -> None:
        _blocking_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@dataclass
class SqliteTemplate:
    path: Path

    @classmethod
    def create(cls, directory: Path) -> SqliteTemplate:
        path = directory / "template.db"
        upgrade_to_head(f"sqlite+aiosqlite:///{path}")
        return cls(path)

    async def clone(self) -> str:
        target = self.path.with_name(f"t_{uuid.uuid4().hex[:12]}.db")
        shutil.copyfile(self.path, target)
        return f"sqlite+aiosqlite:///{target}"

    async def drop_clone(self, url: str) -> None:
        path = Path(url.removeprefix("sqlite+aiosqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

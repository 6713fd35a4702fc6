"""Shared fixtures. Databases: ``--db sqlite``, ``--db postgresql`` or ``--db all`` (default).

Each test is marked with its tier, the folder it is in (``unit``, ``integration``, ``e2e``,
``browser``, ``interop``, ``conformance``), so ``scripts/test -m unit`` runs one tier.

A test that takes ``database_url`` (or anything built on it) runs once per selected backend.
Mark a test ``postgres_only`` when it needs PostgreSQL itself (raw triggers, row locks), and
``sqlite_only`` when it tests SQLite's own SQL (a conflict clause only SQLite has): the other
backend then does not generate it at all, rather than skipping it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from payments.adapters.db.engine import make_engine
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import Portal, api_client, make_portal
from tests.support.databases import PostgresTemplate, SqliteTemplate

BACKENDS = ("sqlite", "postgresql")
TESTS = Path(__file__).resolve().parent
# The folders under tests/ that hold a tier, each the name of its marker (in pyproject.toml).
TIERS = frozenset({"unit", "integration", "e2e", "browser", "interop", "conformance"})


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("sqlite", "postgresql", "all"),
        default="all",
        help="which databases the integration tests run on",
    )


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by the markers added here
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = item.path.resolve().relative_to(TESTS).parts[0]
        if folder in TIERS:
            item.add_marker(folder)


def selected_backends(config: pytest.Config) -> tuple[str, ...]:
    chosen = str(config.getoption("--db"))
    return BACKENDS if chosen == "all" else (chosen,)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        backends = selected_backends(metafunc.config)
        if metafunc.definition.get_closest_marker("postgres_only"):
            backends = tuple(b for b in backends if b == "postgresql")
        if metafunc.definition.get_closest_marker("sqlite_only"):
            backends = tuple(b for b in backends if b == "sqlite")
        metafunc.parametrize("backend", backends, scope="function")


@pytest.fixture(scope="session")
def postgres_template(request: pytest.FixtureRequest) -> Iterator[PostgresTemplate | None]:
    if "postgresql" not in selected_backends(request.config):
        yield None
        return
    template = PostgresTemplate.create()
    yield template
    template.drop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    return SqliteTemplate.create(Path(tmp_path_factory.mktemp("sqlite")))


@pytest.fixture
async def database_url(
    backend: str,
    request: pytest.FixtureRequest,
) -> AsyncIterator[str]:
    template: PostgresTemplate | SqliteTemplate | None
    if backend == "postgresql":
        template = request.getfixturevalue("postgres_template")
    else:
        template = request.getfixturevalue("sqlite_template")
    assert template is not None
    url = await template.clone()
    yield url
    await template.drop_clone(url)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url, pool_size=30)
    yield engine
    await engine.dispose()


@pytest.fixture
def uow_factory(engine: AsyncEngine) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(engine)


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(database_url) as http:
        yield http


@pytest.fixture
async def portal(uow_factory: SqlUnitOfWorkFactory) -> Portal:
    return await make_portal(uow_factory, datetime.now(UTC))

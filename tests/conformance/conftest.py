"""Every test here runs once per provider case (ids vnpay, momo, vietqr) and per database.

The tests share one database per backend (a clone of the migrated template, made on first use
and dropped at the end of the session) rather than a clone each: cloning PostgreSQL costs more
than most of these tests. Each test works on payments of its own, reads only what names them
and measures the ledger by difference, so none sees another's rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from payments.providers.interface import PaymentProvider
from tests.conformance.cases import CASES, ProviderCase
from tests.conformance.sandbox import TIMEOUT_SECONDS, Sandbox, open_sandbox
from tests.support.databases import PostgresTemplate, SqliteTemplate

Clone = tuple[PostgresTemplate | SqliteTemplate, str]


@pytest.fixture(scope="session")
async def shared_databases() -> AsyncIterator[dict[str, Clone]]:
    clones: dict[str, Clone] = {}
    yield clones
    for template, url in clones.values():
        await template.drop_clone(url)


@pytest.fixture
async def database_url(
    backend: str, request: pytest.FixtureRequest, shared_databases: dict[str, Clone]
) -> str:
    if backend not in shared_databases:
        template: PostgresTemplate | SqliteTemplate | None = request.getfixturevalue(
            "postgres_template" if backend == "postgresql" else "sqlite_template"
        )
        assert template is not None
        shared_databases[backend] = (template, await template.clone())
    return shared_databases[backend][1]


@pytest.fixture(params=CASES, ids=[case.id for case in CASES])
def case(request: pytest.FixtureRequest) -> ProviderCase:
    chosen: ProviderCase = request.param
    return chosen


@pytest.fixture
async def sandbox(database_url: str, case: ProviderCase) -> AsyncIterator[Sandbox]:
    async with open_sandbox(database_url) as opened:
        opened.install(case.provider(opened.container, timeout_seconds=TIMEOUT_SECONDS))
        yield opened


@pytest.fixture
def provider(sandbox: Sandbox, case: ProviderCase) -> PaymentProvider:
    """The module under test, as the gateway uses it."""
    found = sandbox.container.providers.get(case.name)
    assert found is not None
    return found

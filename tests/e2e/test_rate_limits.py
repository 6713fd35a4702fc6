"""Per-key rate limits over HTTP: two app instances (two web processes) on one database."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from click.testing import CliRunner
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from payments.adapters.db import tables as t
from payments.adapters.db.engine import make_engine
from payments.domain.access import Role
from payments.entrypoints.cli import cli
from payments.services.access import authenticate, create_api_key
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import Portal, api_client, payment_body
from tests.support.console_pages import signed_in

START = datetime(2026, 11, 22, 8, 15, 30, tzinfo=UTC)  # half a minute left in the window


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


async def _list(client: httpx.AsyncClient, key: str) -> httpx.Response:
    return await client.get("/v1/payments?limit=1", headers={"Authorization": f"Bearer {key}"})


async def _count(engine: AsyncEngine, table: Table) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def _key(
    uow_factory: SqlUnitOfWorkFactory, portal: Portal, role: Role, limit: int | None
) -> str:
    _, plain = await create_api_key(
        uow_factory,
        agency_code=portal.code,
        role=role,
        label=None,
        actor="test",
        now=START,
        rate_limit_per_minute=limit,
    )
    return plain


def _assert_rate_limited(response: httpx.Response, limit: int, reset: int) -> None:
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/rate-limited")
    assert problem["status"] == 429
    assert str(limit) in problem["detail"]
    assert response.headers["Retry-After"] == str(reset)
    assert response.headers["RateLimit-Limit"] == str(limit)
    assert response.headers["RateLimit-Remaining"] == "0"
    assert response.headers["RateLimit-Reset"] == str(reset)


async def test_two_processes_share_one_limit_and_the_next_minute_grants_again(
    database_url: str, portal: Portal
) -> None:
    clock = Clock(START)
    key = portal.keys[Role.FINANCE]
    async with (
        api_client(database_url, clock=clock, rate_limit_per_minute=100) as one,
        api_client(database_url, clock=clock, rate_limit_per_minute=100) as two,
    ):
        # Alternating, so each process leases (blocks of 2) and spends its share.
        answers = [await _list((one, two)[n % 2], key) for n in range(160)]
        statuses = [a.status_code for a in answers]
        assert statuses.count(200) == 100
        assert statuses.count(429) == 60
        for refused in (a for a in answers if a.status_code == 429):
            _assert_rate_limited(refused, limit=100, reset=30)
        # Another key of the same agency has its own budget.
        assert (await _list(one, portal.keys[Role.PORTAL])).status_code == 200

        clock.now = START + timedelta(seconds=30)  # the next minute
        assert (await _list(one, key)).status_code == 200
        assert (await _list(two, key)).status_code == 200


async def test_a_key_of_its_own_limit(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, portal: Portal
) -> None:
    three = await _key(uow_factory, portal, Role.PORTAL, 3)
    unlimited = await _key(uow_factory, portal, Role.PORTAL, 0)
    clock = Clock(START + timedelta(seconds=20))
    async with api_client(database_url, clock=clock, rate_limit_per_minute=5) as client:
        assert [(await _list(client, three)).status_code for _ in range(3)] == [200] * 3
        _assert_rate_limited(await _list(client, three), limit=3, reset=10)
        assert {(await _list(client, unlimited)).status_code for _ in range(20)} == {200}
        default = [(await _list(client, portal.keys[Role.ADMIN])).status_code for _ in range(6)]
        assert default == [200] * 5 + [429]


async def test_a_limit_of_zero_turns_limiting_off(
    database_url: str, engine: AsyncEngine, portal: Portal
) -> None:
    async with api_client(database_url, clock=Clock(START), rate_limit_per_minute=0) as client:
        answers = {(await _list(client, portal.keys[Role.PORTAL])).status_code for _ in range(30)}
    assert answers == {200}
    assert await _count(engine, t.rate_limit_windows) == 0


async def test_a_busy_key_asks_the_database_once_per_block(
    database_url: str, engine: AsyncEngine, portal: Portal
) -> None:
    async with api_client(database_url, clock=Clock(START)) as client:  # the default, 6000
        answers = {(await _list(client, portal.keys[Role.PORTAL])).status_code for _ in range(100)}
    assert answers == {200}
    async with engine.connect() as conn:
        used = (await conn.execute(select(t.rate_limit_windows.c.used))).scalars().all()
    assert used == [120]  # one lease of 120 tokens served all 100 requests


async def test_a_refused_creation_leaves_its_idempotency_key_unused(
    database_url: str, engine: AsyncEngine, portal: Portal
) -> None:
    clock = Clock(START)
    body = payment_body()
    headers = {**portal.auth(), "Idempotency-Key": "rate-limited-once"}
    async with api_client(database_url, clock=clock, rate_limit_per_minute=1) as client:
        assert (await _list(client, portal.keys[Role.PORTAL])).status_code == 200
        refused = await client.post("/v1/payments", json=body, headers=headers)
        _assert_rate_limited(refused, limit=1, reset=30)
        assert await _count(engine, t.idempotency_records) == 0
        assert await _count(engine, t.payments) == 0

        clock.now = START + timedelta(minutes=1)
        created = await client.post("/v1/payments", json=body, headers=headers)
        assert created.status_code == 201
        assert created.headers["Idempotent-Replayed"] == "false"
        replayed = await client.post("/v1/payments", json=body, headers=headers)
        assert replayed.status_code == 429  # the new minute's one request is spent
    assert await _count(engine, t.payments) == 1


async def test_openapi_documents_429_on_every_keyed_operation(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    keyed = 0
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            if operation.get("security"):
                keyed += 1
                assert "429" in operation["responses"], path
                assert "Retry-After" in operation["responses"]["429"]["headers"]
            else:
                assert "429" not in operation["responses"], path
    assert keyed > 20


def test_the_cli_gives_a_key_its_own_limit(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    env = {"PAYMENTS_DATABASE_URL": url}
    assert runner.invoke(cli, ["migrate"], env=env).exit_code == 0
    agency = ["agency", "create", "--code", "RL", "--name", "x", "--allowed-host", "a.vn"]
    assert runner.invoke(cli, agency, env=env).exit_code == 0
    create = ["apikey", "create", "--agency", "RL", "--role", "portal"]
    made = runner.invoke(cli, [*create, "--rate-limit", "30"], env=env)
    assert made.exit_code == 0, made.output
    negative = runner.invoke(cli, [*create, "--rate-limit", "-1"], env=env)
    assert negative.exit_code == 2
    plain_default = runner.invoke(cli, create, env=env).stdout.strip()

    async def limits() -> tuple[int | None, int | None]:
        engine = make_engine(url)
        try:
            own = await authenticate(SqlUnitOfWorkFactory(engine), made.stdout.strip())
            default = await authenticate(SqlUnitOfWorkFactory(engine), plain_default)
        finally:
            await engine.dispose()
        return own.rate_limit_per_minute, default.rate_limit_per_minute

    assert asyncio.run(limits()) == (30, None)


async def test_a_key_signed_in_to_the_console_keeps_its_own_limit_on_the_api(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, portal: Portal
) -> None:
    # The console resolves keys into the cache the API reads: what it caches must carry the
    # key's own limit, or the API would apply the default to that key until the entry expires.
    three = await _key(uow_factory, portal, Role.TREASURY, 3)
    clock = Clock(START + timedelta(seconds=20))
    async with api_client(database_url, clock=clock, rate_limit_per_minute=5) as client:
        assert (await signed_in(client, three)).status_code == 303
        assert (await client.get("/console/runs")).status_code == 200
        statuses = [(await _list(client, three)).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]

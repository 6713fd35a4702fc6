"""``run_on_own_loop``: the work runs on another thread, in another event loop, against the
same database through connections of its own; what it raises reaches the caller as raised;
an in-memory SQLite database (only the app's connection sees it) keeps the work on the app's
loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text

from payments.adapters.db.engine import make_engine
from payments.domain.errors import Conflict, Unavailable
from payments.entrypoints.own_loop import Resources, run_on_own_loop
from payments.http.container import Container
from payments.providers.interface import ProviderRegistry
from payments.services.access import create_agency
from payments.settings import Settings
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import BASE_URL


@asynccontextmanager
async def app_for(database_url: str, pool_timeout: int = 10) -> AsyncIterator[Container]:
    settings = Settings(database_url=database_url, base_url=BASE_URL, db_pool_timeout=pool_timeout)
    engine = make_engine(settings.database_url, pool_size=2)
    async with httpx.AsyncClient() as http:
        try:
            yield Container(
                settings=settings,
                engine=engine,
                uow_factory=SqlUnitOfWorkFactory(engine),
                http=http,
                providers=ProviderRegistry({}),
            )
        finally:
            await engine.dispose()


async def agencies(uow: SqlUnitOfWorkFactory) -> int:
    async with uow() as unit:
        return int(
            (await unit.connection.execute(text("SELECT count(*) FROM agencies"))).scalar_one()
        )


async def test_the_work_runs_elsewhere_and_its_errors_come_back_as_raised(
    database_url: str,
) -> None:
    here = (threading.get_ident(), asyncio.get_running_loop())
    refused = Conflict("taken")
    async with app_for(database_url) as app:
        await create_agency(
            app.uow_factory,
            code="OWN1",
            name="Seen from the other loop",
            allowed_hosts=["portal.example.vn"],
            actor="t",
            now=datetime.now(UTC),
        )
        expected = await agencies(app.uow_factory)
        assert expected >= 1

        async def work(own: Resources) -> tuple[int, asyncio.AbstractEventLoop, int]:
            assert own.uow_factory is not app.uow_factory
            assert own.providers is None  # not asked for
            return (
                threading.get_ident(),
                asyncio.get_running_loop(),
                await agencies(own.uow_factory),
            )

        thread, loop, counted = await run_on_own_loop(app, work)
        assert thread != here[0]
        assert loop is not here[1]
        assert counted == expected

        async def failing(own: Resources) -> None:
            await agencies(own.uow_factory)
            raise refused

        with pytest.raises(Conflict) as caught:
            await run_on_own_loop(app, failing)
        assert caught.value is refused


async def test_an_in_memory_database_keeps_the_work_on_the_apps_loop() -> None:
    async with app_for("sqlite+aiosqlite:///:memory:") as app:

        async def work(own: Resources) -> int:
            assert own.uow_factory is app.uow_factory
            return threading.get_ident()

        assert await run_on_own_loop(app, work) == threading.get_ident()


async def test_one_job_at_a_time_and_one_that_cannot_start_in_time_is_unavailable(
    database_url: str,
) -> None:
    async with app_for(database_url, pool_timeout=1) as app:
        first_started, release = threading.Event(), threading.Event()
        running: list[str] = []

        async def slow(own: Resources) -> str:
            running.append("slow")
            first_started.set()
            await asyncio.to_thread(release.wait, 10)
            assert running == ["slow"]  # nothing else started meanwhile
            running.remove("slow")
            return "slow"

        async def quick(own: Resources) -> str:
            running.append("quick")
            assert running == ["quick"]
            running.remove("quick")
            return "quick"

        first = asyncio.create_task(run_on_own_loop(app, slow))
        await asyncio.to_thread(first_started.wait, 10)
        with pytest.raises(Unavailable) as caught:
            await run_on_own_loop(app, quick)  # waits 1 s for its turn, in vain
        assert caught.value.retry_after_seconds >= 1

        waiting = asyncio.create_task(run_on_own_loop(app, quick))
        await asyncio.sleep(0.2)
        assert not waiting.done()  # its turn comes once the first ends
        release.set()
        assert await first == "slow"
        assert await waiting == "quick"

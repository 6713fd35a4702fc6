"""Starting a day's reconciliation run from the web process: the API and the console both do
it through ``run_day``, off the event loop."""

from __future__ import annotations

from datetime import date

from starlette.applications import Starlette

from payments.entrypoints.own_loop import Resources, run_on_own_loop
from payments.entrypoints.worker.jobs import status_query
from payments.http.container import Container
from payments.reconcile.ports import RunRecord
from payments.reconcile.sources.treasury import match_config
from payments.reconcile.usecases.day import reconcile_day

# The business days a run may be asked for: a typo such as 0202 is refused, not run.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)


async def run_day(app: Container, web: Starlette, day: date, *, actor: str) -> RunRecord:
    """Reconcile ``day`` off the web process's event loop (a national day is seconds of CPU,
    and a run's size is not known beforehand), with a provider registry of its own for the
    status queries: the run (Conflict when no treasury statement was imported for the day).
    The API and the console both start runs through it."""
    now, config = app.clock(), match_config(app.settings)

    async def run(own: Resources) -> RunRecord:
        asks = status_query(own.providers) if own.providers is not None else None
        result = await reconcile_day(
            own.uow_factory, day, now=now, config=config, actor=actor, status_query=asks
        )
        return result.run

    return await run_on_own_loop(app, run, providers=web)

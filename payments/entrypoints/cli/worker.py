"""``payments worker``: the background jobs in their own process.

Run as many as you like, on as many hosts, against one PostgreSQL: row claims keep them from
doing the same work twice. SIGTERM (or Ctrl+C) stops claiming, lets the rounds in progress
finish (or gives their claims back), and exits 0.
"""

from __future__ import annotations

import asyncio
import importlib
import signal
import socket
from collections.abc import Callable

import click
import structlog

from payments.adapters.logging import configure_logging
from payments.bootstrap import network_client, provider_registry, settings_engine
from payments.entrypoints.cli.common import database_option, settings_from_env
from payments.entrypoints.metrics import metrics_socket, serving_metrics
from payments.entrypoints.worker.jobs import build_worker
from payments.entrypoints.worker.runtime import PeriodicJob
from payments.http.container import Container
from payments.services.schedule import DailyJob
from payments.settings import Settings
from payments.unit_of_work import SqlUnitOfWorkFactory

log = structlog.get_logger()
ExtraJobs = Callable[[Container], list[PeriodicJob | DailyJob]]


@click.command()
@database_option
@click.option(
    "--jobs-from",
    "jobs_from",
    multiple=True,
    metavar="MODULE:FUNCTION",
    help="Also run the jobs FUNCTION(container) returns (PeriodicJob or DailyJob objects).",
)
def worker(database_url: str | None, jobs_from: tuple[str, ...]) -> None:
    """Deliver notifications, requery providers, expire payments, run daily jobs."""
    settings = settings_from_env(database_url)
    configure_logging(settings.log_level, json=settings.log_json)
    problems = settings.provider_problems() + settings.metrics_problems()
    if problems:
        raise click.ClickException("; ".join(problems))
    extras = [_load(spec) for spec in jobs_from]
    try:
        sock = metrics_socket(settings)
    except OSError as exc:
        where = f"{settings.worker_metrics_host}:{settings.worker_metrics_port}"
        raise click.ClickException(f"/metrics cannot listen on {where}: {exc}") from exc
    asyncio.run(_run(settings, extras, sock))


def _load(spec: str) -> ExtraJobs:
    module, _, name = spec.partition(":")
    if not module or not name:
        raise click.BadParameter(f"{spec!r} is not MODULE:FUNCTION", param_hint="--jobs-from")
    found: ExtraJobs = getattr(importlib.import_module(module), name)
    return found


async def _run(settings: Settings, extras: list[ExtraJobs], sock: socket.socket | None) -> None:
    engine = settings_engine(settings)
    # Providers' sandbox simulators live in the web processes: reach them over the network.
    http = network_client(settings)
    container = Container(
        settings=settings,
        engine=engine,
        uow_factory=SqlUnitOfWorkFactory(engine),
        http=http,
        providers=provider_registry(settings, http),
    )
    added = [job for extra in extras for job in extra(container)]
    runner = build_worker(
        container,
        extra_periodic=[j for j in added if isinstance(j, PeriodicJob)],
        extra_daily=[j for j in added if isinstance(j, DailyJob)],
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, runner.stop)
    try:
        async with serving_metrics(container, sock):
            await runner.run()
    finally:
        await http.aclose()
        await engine.dispose()

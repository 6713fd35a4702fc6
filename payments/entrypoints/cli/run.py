"""Running the gateway: migrate, serve, demo, expire. (The worker is in ``worker.py``.)"""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import uvicorn

from payments.adapters.db.migrations import upgrade_to_head
from payments.collection.usecases.payments import expire_due_payments
from payments.domain.access import Role
from payments.domain.errors import Conflict
from payments.entrypoints.cli.common import database_option, run_with_database, settings_from_env
from payments.notifications.usecases import rotate_webhook_secret
from payments.services.access import create_agency, create_api_key
from payments.unit_of_work import WorkFactory

DEMO_AGENCY = "DEMO"


@click.command()
@database_option
def migrate(database_url: str | None) -> None:
    """Bring the database schema to the latest revision."""
    settings = settings_from_env(database_url)
    upgrade_to_head(settings.database_url)
    click.echo("database is at the latest migration", err=True)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="Processes to run.")
def serve(host: str, port: int, workers: int) -> None:
    """Serve the HTTP API (configuration from PAYMENTS_* variables).

    Background jobs run in `payments worker` processes (or here, with
    PAYMENTS_RUN_WORKER_IN_WEB=true)."""
    uvicorn.run(
        "payments.entrypoints.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="warning",
    )


@click.command()
@database_option
def expire(database_url: str | None) -> None:
    """Expire every open payment past its expiry now (the worker also does this)."""
    settings = settings_from_env(database_url)
    count = run_with_database(settings, lambda uow: expire_due_payments(uow, now=datetime.now(UTC)))
    click.echo(f"{count} payment(s) expired")


async def _seed_demo(uow: WorkFactory) -> tuple[dict[Role, str], str]:
    now = datetime.now(UTC)
    # An earlier demo run may have created the agency; fresh keys are issued below anyway.
    with contextlib.suppress(Conflict):
        await create_agency(
            uow,
            code=DEMO_AGENCY,
            name="Cổng dịch vụ công (demo)",
            # A development machine: the walk-through's portal is on localhost:3000 (README).
            allowed_hosts=["localhost:*", "127.0.0.1:*"],
            actor="demo",
            now=now,
        )
    keys = {}
    for role in Role:
        _, plain = await create_api_key(
            uow, agency_code=DEMO_AGENCY, role=role, label="demo", actor="demo", now=now
        )
        keys[role] = plain
    secret = await rotate_webhook_secret(
        uow, agency_code=DEMO_AGENCY, overlap=timedelta(0), actor="demo", now=now
    )
    return keys, secret


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--database",
    "database_file",
    default="payments-demo.db",
    show_default=True,
    help="SQLite file for the demo.",
)
def demo(host: str, port: int, database_file: str) -> None:
    """Migrate a SQLite file, seed a demo agency and keys, and serve in sandbox mode."""
    base_url = f"http://{host}:{port}"
    os.environ["PAYMENTS_DATABASE_URL"] = f"sqlite+aiosqlite:///{Path(database_file).resolve()}"
    os.environ["PAYMENTS_SANDBOX"] = "true"
    os.environ.setdefault("PAYMENTS_BASE_URL", base_url)
    os.environ.setdefault("PAYMENTS_LOG_JSON", "false")
    # One process for a newcomer: notifications, requery and expiry run inside the server.
    os.environ.setdefault("PAYMENTS_RUN_WORKER_IN_WEB", "true")
    settings = settings_from_env()
    upgrade_to_head(settings.database_url)
    keys, secret = run_with_database(settings, _seed_demo)
    portal = keys[Role.PORTAL]
    click.echo(
        f"""
Public-fee payment gateway: demo (sandbox mode, SQLite file {database_file})

  API           {base_url}/v1/payments
  OpenAPI       {base_url}/openapi.json
  Health        {base_url}/healthz   {base_url}/readyz
  Metrics       {base_url}/metrics   (Prometheus; open in sandbox mode)
  Staff console {base_url}/console   (sign in with the treasury or admin key below)

Reconcile a day against the sandbox treasury's statement (in another terminal):
  PAYMENTS_SANDBOX=true PAYMENTS_BASE_URL={base_url} \\
  PAYMENTS_DATABASE_URL={settings.database_url} \\
  payments reconcile --date $(TZ=Asia/Ho_Chi_Minh date +%F) --fetch

API keys for agency {DEMO_AGENCY} (new ones each run; store them, they are shown once):
"""
        + "\n".join(f"  {role.value:<9} {key}" for role, key in keys.items())
        + f"""

Notifications (Standard Webhooks) go to a payment's notify_url, signed with the agency's
webhook secret (new each run): {secret}
The worker's jobs run inside this process; watch them arrive, or poll
GET {base_url}/v1/events.

Create a payment, then open its checkout_url in a browser and pay on a sandbox provider
(read it back with GET /v1/payments/<id>):

  curl -s {base_url}/v1/payments \\
    -H 'Authorization: Bearer {portal}' \\
    -H 'Idempotency-Key: demo-'$(date +%s) -H 'Content-Type: application/json' \\
    -d '{{"reference": "HS-'$(date +%s)'", "kind": "fee", "amount": 150000,
         "description": "Le phi cap ho chieu", "payer": {{"name": "Nguyen Van A"}},
         "budget": {{"treasury_account": "7111", "treasury_code": "0011",
                    "collecting_agency": "1054321", "chapter": "755", "sub_item": "2662"}},
         "return_url": "{base_url}/healthz"}}'

Press Ctrl+C to stop.
"""
    )
    uvicorn.run(
        "payments.entrypoints.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        access_log=False,
        log_level="warning",
    )

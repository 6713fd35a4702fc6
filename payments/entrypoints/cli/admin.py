"""Operator commands: agencies and API keys."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from payments.domain.access import Role
from payments.entrypoints.cli.common import database_option, run_with_database, settings_from_env
from payments.services.access import create_agency, create_api_key


@click.group()
def agency() -> None:
    """Collecting agencies and portals."""


@agency.command("create")
@click.option("--code", required=True, help="Short code, e.g. DVCQG or HCM-1CUA.")
@click.option("--name", required=True, help="Display name.")
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    required=True,
    help="Host the agency's return/notify URLs may use (repeat for several).",
)
@database_option
def agency_create(
    code: str, name: str, allowed_hosts: tuple[str, ...], database_url: str | None
) -> None:
    """Create an agency."""
    settings = settings_from_env(database_url)
    created = run_with_database(
        settings,
        lambda uow: create_agency(
            uow,
            code=code,
            name=name,
            allowed_hosts=list(allowed_hosts),
            actor="cli",
            now=datetime.now(UTC),
        ),
    )
    click.echo(f"agency {created.code} created (id {created.id})", err=True)


@click.group()
def apikey() -> None:
    """API keys (shown once, stored hashed)."""


@apikey.command("create")
@click.option("--agency", "agency_code", required=True, help="Agency code.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--label", default=None, help="Free text to recognise the key later.")
@database_option
def apikey_create(agency_code: str, role: str, label: str | None, database_url: str | None) -> None:
    """Create a key and print only the key, so scripts can capture it."""
    settings = settings_from_env(database_url)
    _, plain = run_with_database(
        settings,
        lambda uow: create_api_key(
            uow,
            agency_code=agency_code,
            role=Role(role),
            label=label,
            actor="cli",
            now=datetime.now(UTC),
        ),
    )
    click.echo(plain)

"""Operator commands: agencies (with their notification URL and signing secret) and API keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from payments.domain.access import Role
from payments.domain.errors import FieldProblem, InvalidInput
from payments.domain.notifications import target_problem
from payments.entrypoints.cli.common import database_option, run_with_database, settings_from_env
from payments.notifications.usecases import rotate_webhook_secret, set_default_notify_url
from payments.services.access import create_agency, create_api_key
from payments.settings import Settings


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
@click.option(
    "--notify-url",
    default=None,
    help="Default notification URL for payments created without their own notify_url.",
)
@database_option
def agency_create(
    code: str,
    name: str,
    allowed_hosts: tuple[str, ...],
    notify_url: str | None,
    database_url: str | None,
) -> None:
    """Create an agency."""
    settings = settings_from_env(database_url)
    if notify_url is not None:
        # Checked before anything is stored, so a bad URL leaves no half-made agency.
        hosts = frozenset(h.strip().lower().rstrip(".") for h in allowed_hosts)
        problem = target_problem(notify_url, hosts, allow_plain_http=settings.sandbox)
        if problem:
            _fail(InvalidInput([FieldProblem("notify_url", problem)]))
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
    if notify_url is not None:
        _set_notify_url(settings, created.code, notify_url)
    click.echo(f"agency {created.code} created (id {created.id})", err=True)


@agency.command("notify-url")
@click.option("--agency", "agency_code", required=True, help="Agency code.")
@click.argument("url", required=False)
@click.option("--clear", is_flag=True, help="Remove the default notification URL.")
@database_option
def agency_notify_url(
    agency_code: str, url: str | None, clear: bool, database_url: str | None
) -> None:
    """Set (or --clear) the agency's default notification URL."""
    if (url is None) == (not clear):
        raise click.UsageError("give a URL or --clear")
    settings = settings_from_env(database_url)
    _set_notify_url(settings, agency_code, None if clear else url)
    click.echo(f"agency {agency_code}: notify URL {'cleared' if clear else 'set'}", err=True)


@agency.group("secret")
def agency_secret() -> None:
    """The agency's webhook signing secret (Standard Webhooks)."""


@agency_secret.command("rotate")
@click.option("--agency", "agency_code", required=True, help="Agency code.")
@database_option
def agency_secret_rotate(agency_code: str, database_url: str | None) -> None:
    """Create a new signing secret and print only it (shown once). The previous secret keeps
    signing beside it for PAYMENTS_WEBHOOK_SECRET_OVERLAP_HOURS."""
    settings = settings_from_env(database_url)
    secret = run_with_database(
        settings,
        lambda uow: rotate_webhook_secret(
            uow,
            agency_code=agency_code,
            overlap=timedelta(hours=settings.webhook_secret_overlap_hours),
            actor="cli",
            now=datetime.now(UTC),
        ),
    )
    click.echo(secret)


def _set_notify_url(settings: Settings, agency_code: str, url: str | None) -> None:
    run_with_database(
        settings,
        lambda uow: set_default_notify_url(
            uow,
            agency_code=agency_code,
            url=url,
            allow_plain_http=settings.sandbox,
            actor="cli",
            now=datetime.now(UTC),
        ),
    )


def _fail(error: InvalidInput) -> None:
    lines = "\n".join(f"  {p.field}: {p.message}" for p in error.problems)
    raise click.ClickException(f"{error.title}:\n{lines}")


@click.group()
def apikey() -> None:
    """API keys (shown once, stored hashed)."""


@apikey.command("create")
@click.option("--agency", "agency_code", required=True, help="Agency code.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--label", default=None, help="Free text to recognise the key later.")
@click.option(
    "--rate-limit",
    "rate_limit",
    type=click.IntRange(min=0),
    default=None,
    help="Requests per minute for this key (default: PAYMENTS_RATE_LIMIT_PER_MINUTE; 0: none).",
)
@database_option
def apikey_create(
    agency_code: str,
    role: str,
    label: str | None,
    rate_limit: int | None,
    database_url: str | None,
) -> None:
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
            rate_limit_per_minute=rate_limit,
        ),
    )
    click.echo(plain)

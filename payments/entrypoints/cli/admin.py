"""Operator commands: agencies (with their notification URL and signing secret) and API keys.

Listings print a table by default and JSON with ``--json`` (the API's representation of a
key); a new key (created or rotated) is printed alone on stdout, so scripts can capture it.
An unknown key id exits with status 2.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import click

from payments.domain.access import MAX_KEY_RATE_LIMIT, ApiKey, Role
from payments.domain.errors import FieldProblem, InvalidInput, NotFound
from payments.domain.notifications import target_problem
from payments.domain.resources import api_key_resource, iso
from payments.entrypoints.cli.common import database_option, run_with_database, settings_from_env
from payments.notifications.usecases import rotate_webhook_secret, set_default_notify_url
from payments.services.access import (
    KeyChange,
    create_agency,
    create_api_key,
    list_agencies,
    list_api_keys,
    revoke_api_key,
    rotate_api_key,
)
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


@agency.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@database_option
def agency_list(as_json: bool, database_url: str | None) -> None:
    """List the agencies, by code."""
    agencies = run_with_database(settings_from_env(database_url), list_agencies)
    if as_json:
        rows = [
            {
                "id": a.id,
                "code": a.code,
                "name": a.name,
                "allowed_hosts": sorted(a.allowed_hosts),
                "created_at": iso(a.created_at.astimezone(UTC)),
            }
            for a in agencies
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    click.echo(
        table(
            ("CODE", "NAME", "ALLOWED HOSTS", "CREATED (UTC)"),
            [
                (a.code, _cell(a.name), " ".join(sorted(a.allowed_hosts)), _when(a.created_at))
                for a in agencies
            ],
        )
    )


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
    type=click.IntRange(min=0, max=MAX_KEY_RATE_LIMIT),
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


@apikey.command("list")
@click.option("--agency", "agency_code", default=None, help="This agency's keys.")
@click.option("--all", "every_agency", is_flag=True, help="Every agency's keys.")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@database_option
def apikey_list(
    agency_code: str | None, every_agency: bool, as_json: bool, database_url: str | None
) -> None:
    """List keys, newest first, revoked ones included (never a key or its hash)."""
    if (agency_code is None) == (not every_agency):
        raise click.UsageError("give --agency CODE or --all")
    listed = run_with_database(
        settings_from_env(database_url),
        lambda uow: list_api_keys(uow, agency_code=agency_code),
    )
    if as_json:
        rows = [api_key_resource(item.key, item.agency_code) for item in listed]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    click.echo(
        table(
            ("ID", "AGENCY", "ROLE", "PREFIX", "LABEL", "RATE LIMIT", "CREATED (UTC)", "REVOKED"),
            [
                (
                    str(item.key.id),
                    item.agency_code,
                    item.key.role.value,
                    item.key.prefix,
                    _cell(item.key.label or ""),
                    _rate_limit(item.key.rate_limit_per_minute),
                    _when(item.key.created_at),
                    _when(item.key.revoked_at) if item.key.revoked_at else "",
                )
                for item in listed
            ],
        )
    )


@apikey.command("revoke")
@click.argument("key_id", metavar="ID", type=int)
@click.option("--note", default=None, help="Why (kept in the audit log).")
@database_option
def apikey_revoke(key_id: int, note: str | None, database_url: str | None) -> None:
    """Revoke key ID: every web process refuses it from now on. Revoking twice is harmless."""
    now = datetime.now(UTC)
    key = run_with_database(
        settings_from_env(database_url),
        lambda uow: _known(revoke_api_key(uow, key_id, KeyChange(actor="cli", now=now, note=note))),
    )
    when = key.revoked_at or now  # revoked by this command, or found so
    already = "" if when == now else " (already)"
    click.echo(f"API key {_named(key)} revoked at {_when(when)} UTC{already}")


@apikey.command("rotate")
@click.argument("key_id", metavar="ID", type=int)
@click.option("--note", default=None, help="Why (kept in the audit log).")
@database_option
def apikey_rotate(key_id: int, note: str | None, database_url: str | None) -> None:
    """Replace key ID with a new key of the same agency, role, label and rate limit, revoking
    it; print only the new key (shown once)."""
    now = datetime.now(UTC)
    rotated = run_with_database(
        settings_from_env(database_url),
        lambda uow: _known(rotate_api_key(uow, key_id, KeyChange(actor="cli", now=now, note=note))),
    )
    click.echo(
        f"API key {_named(rotated.old)} revoked; its successor is {_named(rotated.new)}", err=True
    )
    click.echo(rotated.plain)


class UnknownKey(click.ClickException):
    """An id that names no key: a wrong argument, as a usage error is."""

    exit_code = 2


T = TypeVar("T")


async def _known(work: Awaitable[T]) -> T:
    try:
        return await work
    except NotFound as exc:
        raise UnknownKey(exc.detail) from None


def _named(key: ApiKey) -> str:
    return f"{key.id} ({key.prefix}, {key.role.value})"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in (headers, *rows)
    )


def _cell(text: str) -> str:
    # Stored text may hold line breaks and tabs: one line per row.
    return " ".join(text.split())


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _rate_limit(own: int | None) -> str:
    if own is None:
        return "default"
    return "none" if own == 0 else f"{own}/min"

"""The ``payments`` command."""

from __future__ import annotations

import click

from payments.entrypoints.cli.admin import agency, apikey
from payments.entrypoints.cli.docs import docs
from payments.entrypoints.cli.ledger import ledger
from payments.entrypoints.cli.reconcile import reconcile
from payments.entrypoints.cli.run import demo, expire, migrate, serve
from payments.entrypoints.cli.worker import worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Public-fee payment gateway: run it, migrate it, manage agencies and keys."""


for command in (migrate, serve, worker, demo, expire, agency, apikey, ledger, reconcile, docs):
    cli.add_command(command)


def main() -> None:
    cli()

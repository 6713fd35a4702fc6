"""The statement sources and formats are said once (services/reconcile_import.py,
adapters/treasury.py); the API's Literals, kept for the OpenAPI document's enums, the CLI's
choices and the console's lists say the same."""

from __future__ import annotations

from typing import get_args

import click

from payments.entrypoints.api.statements import Format, Source
from payments.entrypoints.cli.reconcile import reconcile
from payments.entrypoints.statement_upload import SOURCES
from payments.reconcile.formats.settlements import LAYOUTS
from payments.reconcile.sources.treasury import FORMATS
from payments.reconcile.usecases.imports import SETTLEMENT_PROVIDERS, TREASURY


def choices(option: str) -> tuple[str, ...]:
    [param] = [p for p in reconcile.params if p.name == option]
    assert isinstance(param.type, click.Choice)
    return tuple(param.type.choices)


def test_the_sources_are_the_treasury_and_every_settlement_layout() -> None:
    assert (TREASURY, *SETTLEMENT_PROVIDERS) == SOURCES
    assert set(SETTLEMENT_PROVIDERS) == set(LAYOUTS)
    assert get_args(Source) == SOURCES
    assert choices("settlement_providers") == SETTLEMENT_PROVIDERS


def test_the_formats_are_the_treasury_readers() -> None:
    assert get_args(Format) == FORMATS
    assert choices("fmt") == FORMATS

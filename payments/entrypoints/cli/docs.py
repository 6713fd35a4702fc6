"""``payments docs``: reference pages made from the code, so that they cannot drift from it.

``payments docs configuration`` writes ``docs/configuration.md`` from the ``Settings`` fields:
each one's environment variable, type, default (and sandbox default) and description. A unit
test (tests/unit/test_configuration_docs.py) fails when the page differs from what this makes.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import click
from pydantic.fields import FieldInfo

from payments.settings import Settings

CONFIGURATION_PAGE = Path("docs") / "configuration.md"  # from the project's root
REGENERATE = ".venv/bin/payments docs configuration --output docs/configuration.md"
# What the sandbox defaults are shown relative to: they follow PAYMENTS_BASE_URL.
BASE_URL_SHOWN = "$PAYMENTS_BASE_URL"
# A pattern that is a plain choice, such as ``^(csv|camt)$``, reads better as its words.
CHOICE_PATTERN = re.compile(r"^\^\(([\w|-]+)\)\$$")


def configuration_reference() -> str:
    """The configuration page, Markdown, ending with one newline."""
    sandbox = _sandbox_values()
    lines = [
        "# Configuration",
        "",
        "<!-- Generated from payments/settings.py by `payments docs configuration`: edit the",
        f"descriptions there, then run {REGENERATE} -->",
        "",
        inspect.cleandoc(Settings.__doc__ or ""),
        "",
        "| variable | type | default | description |",
        "|---|---|---|---|",
    ]
    for name, info in Settings.model_fields.items():
        if not info.description:
            raise ValueError(f"Settings.{name} has no description")
        cells = (
            f"`{_variable(name)}`",
            _type(info),
            _default(info, sandbox.get(name)),
            info.description,
        )
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _variable(name: str) -> str:
    prefix = str(Settings.model_config.get("env_prefix", ""))
    return f"{prefix}{name}".upper()


def _sandbox_values() -> dict[str, Any]:
    """What an unset setting means in sandbox mode, as the code resolves it.

    ``model_construct`` reads no environment, so the page never shows a developer's own values.
    """
    sandbox = Settings.model_construct(sandbox=True, base_url=BASE_URL_SHOWN)
    values: dict[str, Any] = {"treasury_statement_url": sandbox.statement_url}
    for prefix, resolved in (
        ("vnpay", sandbox.vnpay),
        ("momo", sandbox.momo),
        ("vietqr", sandbox.vietqr),
    ):
        for item in fields(resolved):
            name = f"{prefix}_{item.name}"
            if name not in Settings.model_fields:
                raise ValueError(f"{type(resolved).__name__}.{item.name} is no setting ({name})")
            values[name] = getattr(resolved, item.name)
    return values


def _type(info: FieldInfo) -> str:
    kind = {int: "integer", bool: "boolean", str: "text"}
    annotation = info.annotation
    base = next((word for t, word in kind.items() if annotation is t), None)
    if base is None:  # ``X | None``: unset is allowed, and the default column says so
        args = getattr(annotation, "__args__", ())
        base = next((kind[t] for t in args if t in kind), str(annotation))
    bounds: list[str] = []
    for item in info.metadata:  # annotated_types' Gt, Ge, Le and pydantic's pattern
        for attribute, sign in (("gt", ">"), ("ge", "≥"), ("le", "≤")):
            if (bound := getattr(item, attribute, None)) is not None:
                bounds.append(f"{sign} {bound}")
        if (pattern := getattr(item, "pattern", None)) is not None:
            choice = CHOICE_PATTERN.match(str(pattern))
            if choice:
                return " or ".join(f"`{word}`" for word in choice.group(1).split("|"))
            bounds.append(f"matching `{pattern}`")
    return f"{base} {', '.join(bounds)}" if bounds else base


def _default(info: FieldInfo, sandbox: Any) -> str:
    shown = "unset" if info.default is None else f"`{_literal(info.default)}`"
    if sandbox is None or sandbox in ("", info.default):
        return shown
    # A secret's sandbox value is the simulator's own: named, not printed.
    value = "the simulator's own" if not info.repr else f"`{_literal(sandbox)}`"
    return f"{shown} (sandbox: {value})"


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _cell(text: str) -> str:
    # A pipe would end the table cell, and a line break the row.
    return text.replace("|", "\\|").replace("\n", " ")


@click.group()
def docs() -> None:
    """Reference pages generated from the code."""


@docs.command("configuration")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Write the page to this file (the project's is {CONFIGURATION_PAGE}); default: stdout.",
)
def configuration(output: Path | None) -> None:
    """The configuration reference (every PAYMENTS_* variable), from payments/settings.py."""
    page = configuration_reference()
    if output is None:
        click.echo(page, nl=False)
    else:
        output.write_text(page, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)

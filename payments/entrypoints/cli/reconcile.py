"""``payments reconcile --date YYYY-MM-DD``: import a day's statement and reconcile the day.

Without ``--statement`` the day is reconciled against what was imported before (a rerun), or
with ``--fetch`` against the statement the treasury endpoint serves. Settlement reports come in
pairs: ``--settlement vnpay.csv --provider vnpay``. A progress bar follows the phases; a table
of the outcomes closes the run.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import click
import httpx

from payments.adapters.db.engine import make_engine
from payments.adapters.db.unit_of_work import SqlUnitOfWorkFactory
from payments.adapters.treasury import (
    TreasuryStatementSource,
    csv_mapping,
    match_config,
    statement_reader,
)
from payments.domain.errors import InvalidInput, PaymentsError
from payments.reconcile.settlements import SettlementReport, read_settlement
from payments.reconcile.statements import StatementLine
from payments.services.reconcile_day import DayResult, reconcile_day
from payments.services.reconcile_import import Imported, import_settlement, import_statement
from payments.settings import Settings

PHASES = ("load", "match", "post", "persist", "done")
PROVIDERS = ("vnpay", "momo", "vietqr")


def _day(_ctx: click.Context, _param: click.Parameter, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter("a date as YYYY-MM-DD") from exc


def vnd(amount: int) -> str:
    """``1.250.000``: the Vietnamese thousands separator."""
    return f"{amount:,}".replace(",", ".")


def estimate_lines(path: Path, fmt: str) -> int:
    """A quick count for the progress bar: newlines of a CSV, entries of a camt file."""
    count = 0
    with path.open("rb") as stream:
        while block := stream.read(1 << 22):
            count += block.count(b"\n") if fmt == "csv" else block.count(b"Ntry>")
    return max(1, count // 2 if fmt != "csv" else count - 1)


class Bar:
    """One click progress bar per stage: import (by lines), then the run (by phase)."""

    def __init__(self, label: str, length: int, *, quiet: bool) -> None:
        self._bar = (
            None
            if quiet
            else click.progressbar(length=length, label=label, show_pos=True, width=30)
        )
        if self._bar is not None:
            self._bar.__enter__()
        self._done = 0

    def to(self, done: int) -> None:
        if self._bar is not None and done > self._done:
            self._bar.update(done - self._done)
            self._done = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


def summary(result: DayResult) -> str:
    run = result.run
    rows = [("outcome", "count", "gateway VND", "treasury VND")]
    for outcome, total in sorted(run.totals.items()):
        rows.append(
            (outcome, str(total.count), vnd(total.gateway_amount), vnd(total.treasury_amount))
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        f"Run {run.id} for {run.business_date.isoformat()}: {run.item_count} items, "
        f"{run.posted_payments} payment(s) remitted in {run.posted_entries} ledger entr"
        f"{'y' if run.posted_entries == 1 else 'ies'}"
    ]
    for index, row in enumerate(rows):
        lines.append(
            "  ".join(
                cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                for i, cell in enumerate(row)
            )
        )
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append(
        f"matched: gateway {vnd(run.matched_gateway_total)} = "
        f"treasury {vnd(run.matched_treasury_total)}"
    )
    if result.confirmed:
        lines.append(f"providers confirmed {len(result.confirmed)} payment(s): rerun the day")
    return "\n".join(lines)


async def _reconcile(
    settings: Settings,
    day: date,
    statement: Path | None,
    fmt: str,
    settlements: list[SettlementReport],
    fetch: bool,
    quiet: bool,
) -> tuple[Imported | None, DayResult]:
    engine = make_engine(settings.database_url, pool_size=2)
    uow = SqlUnitOfWorkFactory(engine)
    now = datetime.now(UTC)
    imported = None
    preloaded: dict[int, list[StatementLine]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="statement-") as folder:
            if fetch:
                async with httpx.AsyncClient() as http:
                    source = TreasuryStatementSource(
                        http, settings.statement_url, settings.treasury_statement_token
                    )
                    statement = await source.fetch(day, fmt, Path(folder) / f"statement.{fmt}")
            if statement is not None:
                lines = Bar("import   ", estimate_lines(statement, fmt), quiet=quiet)
                imported = await import_statement(
                    uow,
                    statement_reader(statement, fmt, csv_mapping(settings)),
                    business_date=day,
                    actor="cli",
                    now=now,
                    progress=lambda _phase, done: lines.to(done),
                    keep_lines=True,
                )
                lines.close()
                if imported.lines is not None:  # handed to the run, which frees them
                    preloaded[imported.statement.id] = imported.lines
                    imported = replace(imported, lines=None)
        for report in settlements:
            await import_settlement(uow, report, business_date=day, actor="cli", now=now)
        phases = Bar("reconcile", len(PHASES), quiet=quiet)
        result = await reconcile_day(
            uow,
            day,
            now=now,
            config=match_config(settings),
            actor="cli",
            progress=lambda phase, _done: phases.to(PHASES.index(phase) + 1),
            preloaded=preloaded,
        )
        phases.close()
        return imported, result
    finally:
        await engine.dispose()


@click.command()
@click.option("--date", "day", required=True, callback=_day, help="Business day, YYYY-MM-DD.")
@click.option(
    "--statement",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Treasury statement file to import first.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "camt"]),
    default=None,
    help="Statement format (default: PAYMENTS_STATEMENT_FORMAT).",
)
@click.option(
    "--settlement",
    "settlement_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A provider settlement report; pair each with --provider.",
)
@click.option(
    "--provider",
    "settlement_providers",
    multiple=True,
    type=click.Choice(PROVIDERS),
    help="Whose settlement report the --settlement at the same position is.",
)
@click.option("--fetch", is_flag=True, help="Fetch the statement from the treasury endpoint.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--database-url",
    envvar="PAYMENTS_DATABASE_URL",
    default=None,
    help="Database URL (default: PAYMENTS_DATABASE_URL, else a SQLite file).",
)
def reconcile(
    day: date,
    statement: Path | None,
    fmt: str | None,
    settlement_files: tuple[Path, ...],
    settlement_providers: tuple[str, ...],
    fetch: bool,
    quiet: bool,
    database_url: str | None,
) -> None:
    """Import a day's treasury statement (and provider settlement reports) and reconcile it."""
    settings = Settings(database_url=database_url) if database_url else Settings()
    if len(settlement_files) != len(settlement_providers):
        raise click.UsageError("give one --provider for each --settlement, in the same order")
    if fetch and statement is not None:
        raise click.UsageError("--fetch and --statement exclude each other")
    try:
        settlements = [
            read_settlement(provider, path)
            for provider, path in zip(settlement_providers, settlement_files, strict=True)
        ]
        for report in settlements:
            report.require_clean()  # every file checked before anything is stored
        imported, result = asyncio.run(
            _reconcile(
                settings,
                day,
                statement,
                fmt or settings.statement_format,
                settlements,
                fetch,
                quiet,
            )
        )
    except InvalidInput as exc:
        lines = "\n".join(f"  {p.field}: {p.message}" for p in exc.problems[:50])
        raise click.ClickException(f"{exc.title}: {exc.detail}\n{lines}") from None
    except PaymentsError as exc:
        raise click.ClickException(exc.detail) from None
    if imported is not None:
        what = "imported" if imported.created else "already imported: nothing new"
        click.echo(
            f"Statement {imported.statement.statement_id[:32]}"
            f" ({imported.statement.line_count} lines) {what}"
        )
    click.echo(summary(result))

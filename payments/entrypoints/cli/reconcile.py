"""``payments reconcile --date YYYY-MM-DD``: import a day's statement and reconcile the day.

Without ``--statement`` the day is reconciled against what was imported before (a rerun), or
with ``--fetch`` against the statement the treasury endpoint serves, together with the settlement
reports the providers' endpoints serve (``--no-settlements``: the statement only). Settlement
report files come in pairs: ``--settlement vnpay.csv --provider vnpay``. A progress bar follows
the phases; what became of each settlement report and a table of the outcomes close the run.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import click

from payments.adapters.db.engine import make_engine
from payments.bootstrap import network_client
from payments.domain.errors import InvalidInput, PaymentsError
from payments.ledger.anchors import Anchor
from payments.ledger.sealing import current_anchor, unsealed_backlog
from payments.reconcile.formats.settlements import SettlementReport, read_settlement
from payments.reconcile.formats.statements import StatementLine
from payments.reconcile.sources.settlement_reports import settlement_sources
from payments.reconcile.sources.treasury import (
    FORMATS,
    csv_mapping,
    fetch_day,
    match_config,
    statement_reader,
)
from payments.reconcile.usecases.day import DayResult, reconcile_day
from payments.reconcile.usecases.imports import (
    SETTLEMENT_PROVIDERS,
    Imported,
    import_settlement,
    import_statement,
)
from payments.reconcile.usecases.nightly import ReportOutcome, ReportStatus
from payments.settings import Settings
from payments.unit_of_work import SqlUnitOfWorkFactory

PHASES = ("load", "match", "post", "persist", "done")


def wall_clock() -> datetime:
    """Stamps each import when it completes: a later import supersedes an earlier report."""
    return datetime.now(UTC)


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
        f"{run.settled_payments} provider settlement(s) booked, "
        f"{run.posted_payments} payment(s) remitted, in {run.posted_entries} ledger entr"
        f"{'y' if run.posted_entries == 1 else 'ies'}"
        + (
            f"; {run.awaiting_settlement} confirmed payment(s) wait for their provider's "
            "settlement report"
            if run.awaiting_settlement
            else ""
        )
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


def ledger_summary(head: Anchor, unsealed: int) -> str:
    """The chain's head after the run (an anchor to keep outside the database)."""
    waiting = (
        f"; {unsealed} entr{'y' if unsealed == 1 else 'ies'} not sealed yet" if unsealed else ""
    )
    return f"Ledger chain head: {head}{waiting}"


def reports_summary(reports: list[ReportOutcome]) -> str:
    """One line per settlement report: imported, already imported, skipped or failed."""
    width = max((len(r.provider) for r in reports), default=0)
    lines = ["Settlement reports:"]
    for report in reports:
        what = report.status.value
        if report.status in (ReportStatus.IMPORTED, ReportStatus.ALREADY_IMPORTED):
            what += f" ({report.lines} line{'' if report.lines == 1 else 's'})"
        elif report.status is ReportStatus.SKIPPED:
            what += f": {report.reason}"
        else:
            what = f"FAILED: {report.reason}; rerun the day with --fetch once it is there"
        lines.append(f"  {report.provider.ljust(width)}  {what}")
    return "\n".join(lines)


async def _reconcile(
    settings: Settings,
    day: date,
    statement: Path | None,
    fmt: str,
    settlements: list[SettlementReport],
    fetch: bool,
    fetch_settlements: bool,
    quiet: bool,
) -> tuple[Imported | None, list[ReportOutcome], DayResult, str]:
    engine = make_engine(settings.database_url, pool_size=2)
    uow = SqlUnitOfWorkFactory(engine)
    now = datetime.now(UTC)
    imported = None
    reports: list[ReportOutcome] = []
    preloaded: dict[int, list[StatementLine]] = {}

    async def import_file(path: Path) -> Imported:
        lines = Bar("import   ", estimate_lines(path, fmt), quiet=quiet)
        done = await import_statement(
            uow,
            statement_reader(path, fmt, csv_mapping(settings)),
            business_date=day,
            actor="cli",
            now=now,
            progress=lambda _phase, count: lines.to(count),
            keep_lines=True,
            clock=wall_clock,
        )
        lines.close()
        if done.lines is not None:  # handed to the run, which frees them
            preloaded[done.statement.id] = done.lines
            done = replace(done, lines=None)
        return done

    try:
        if fetch:
            # A report given as a file is not fetched: the file is the one the run is to
            # read (imported after, it would supersede the fetched one anyway).
            given = {report.provider for report in settlements}
            sources = [
                s
                for s in (settlement_sources(settings) if fetch_settlements else [])
                if s.provider not in given
            ]
            async with network_client() as http:
                fetched = await fetch_day(
                    uow,
                    http,
                    settings,
                    day,
                    now=now,
                    actor="cli",
                    sources=sources,
                    fmt=fmt,
                    import_file=import_file,
                    clock=wall_clock,
                )
            imported, reports = fetched.statement, list(fetched.reports)
        elif statement is not None:
            imported = await import_file(statement)
        for report in settlements:
            stored = await import_settlement(
                uow, report, business_date=day, actor="cli", now=now, clock=wall_clock
            )
            reports.append(ReportOutcome.of(report.provider, stored))
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
        head = await current_anchor(uow, now=wall_clock())
        return imported, reports, result, ledger_summary(head, await unsealed_backlog(uow))
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
    type=click.Choice(FORMATS),
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
    type=click.Choice(SETTLEMENT_PROVIDERS),
    help="Whose settlement report the --settlement at the same position is.",
)
@click.option(
    "--fetch",
    is_flag=True,
    help="Fetch the statement from the treasury endpoint, and the providers' settlement "
    "reports from theirs.",
)
@click.option(
    "--no-settlements",
    is_flag=True,
    help="With --fetch: fetch the treasury statement only, no settlement report.",
)
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
    no_settlements: bool,
    quiet: bool,
    database_url: str | None,
) -> None:
    """Import a day's treasury statement (and provider settlement reports) and reconcile it."""
    settings = Settings(database_url=database_url) if database_url else Settings()
    if len(settlement_files) != len(settlement_providers):
        raise click.UsageError("give one --provider for each --settlement, in the same order")
    if fetch and statement is not None:
        raise click.UsageError("--fetch and --statement exclude each other")
    if no_settlements and not fetch:
        raise click.UsageError("--no-settlements goes with --fetch")
    try:
        settlements = [
            read_settlement(provider, path)
            for provider, path in zip(settlement_providers, settlement_files, strict=True)
        ]
        for report in settlements:
            report.require_clean()  # every file checked before anything is stored
        imported, reports, result, ledger = asyncio.run(
            _reconcile(
                settings,
                day,
                statement,
                fmt or settings.statement_format,
                settlements,
                fetch,
                not no_settlements,
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
    if reports:
        click.echo(reports_summary(reports))
    click.echo(summary(result))
    click.echo(ledger)

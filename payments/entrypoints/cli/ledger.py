"""``payments ledger ...``: verify the books, seal the journal, anchor it, read balances.

``verify`` exits 0 when every rule holds and 1 with a report naming the first broken entry
otherwise, so it can run from cron or CI against production. ``verify --anchor`` also proves
the journal still extends heads written down earlier (``anchor``, the nightly job), which a
rewrite of the chain inside the database cannot fake.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from payments.adapters.db.engine import make_engine
from payments.adapters.ledger_anchors import append_anchor_line, read_anchor_file
from payments.ledger.anchors import Anchor, InvalidAnchor, looks_like_anchor, parse_anchor
from payments.ledger.book_checks import BookProblem, book_problems
from payments.ledger.errors import AccountNotFound
from payments.ledger.ports import AccountTotals
from payments.ledger.queries import account_balance, trial_balance
from payments.ledger.sealing import SealRun, current_anchor, seal_backlog
from payments.ledger.sql_store import ledger_snapshot
from payments.ledger.verification import VerifyReport, verify_ledger
from payments.settings import Settings, normalise_database_url
from payments.unit_of_work import SqlUnitOfWorkFactory

T = TypeVar("T")


def _run(url: str | None, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    async def main() -> T:
        engine = make_engine(normalise_database_url(url or Settings().database_url))
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _as_of(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter("an ISO 8601 time, e.g. 2026-11-22T17:00:00+07:00") from exc
    if moment.tzinfo is None:
        raise click.BadParameter("give a time zone, e.g. +07:00 or Z")
    return moment.astimezone(UTC)


database_url = click.option(
    "--database-url", default=None, help="Defaults to PAYMENTS_DATABASE_URL."
)
as_of = click.option(
    "--as-of", callback=_as_of, default=None, help="Balance as of this time (ISO 8601)."
)


def _anchors(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> list[Anchor]:
    """Each value is ``<position>:<hash>`` or an anchor file, whose every line is checked."""
    anchors: list[Anchor] = []
    for value in values:
        if looks_like_anchor(value):
            anchors.append(parse_anchor(value))
            continue
        path = Path(value)
        if not path.is_file():
            raise click.BadParameter(f"{value!r} is neither <position>:<hash> nor an anchor file")
        try:
            found = read_anchor_file(path)
        except (OSError, UnicodeDecodeError, InvalidAnchor) as exc:
            raise click.BadParameter(f"{value}: {exc}") from None
        if not found:
            raise click.BadParameter(f"{value} holds no anchor")
        anchors.extend(found)
    return anchors


@click.group()
def ledger() -> None:
    """The double-entry ledger: verify, seal, anchor, balances."""


@ledger.command()
@database_url
@click.option(
    "--anchor",
    "anchors",
    multiple=True,
    metavar="HEAD-OR-FILE",
    callback=_anchors,
    help="Also prove the journal still extends this head: <position>:<hash>, or an anchor "
    "file (every line checked). Repeatable.",
)
def verify(database_url: str | None, anchors: list[Anchor]) -> None:
    """Rebuild every balance from the postings, check every rule and the hash chain."""

    async def work(engine: AsyncEngine) -> VerifyReport:
        async with ledger_snapshot(engine) as store:
            return await verify_ledger(store, anchors)

    report = _run(database_url, work)
    click.echo(
        f"entries: {report.entries}  sealed: {report.sealed}  accounts: {report.accounts}  "
        f"chain head: {report.head_position}:{report.head_hash}"
    )
    if report.anchors_checked:
        held = report.anchors_checked - report.anchors_broken
        click.echo(
            f"anchors: {report.anchors_checked} checked, {held} hold, "
            f"{report.anchors_broken} no longer hold"
        )
    if report.ok:
        click.echo("ledger OK: every entry balances, balances rebuild, the chain holds")
        return
    click.echo(f"LEDGER BROKEN: {len(report.problems)} problem(s)", err=True)
    if report.first_broken_entry is not None:
        click.echo(f"first broken entry: {report.first_broken_entry}", err=True)
    for problem in report.problems:
        click.echo(f"  - {problem}", err=True)
    raise SystemExit(1)


@ledger.command()
@database_url
@click.option(
    "--batch",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Entries per sealing transaction.",
)
def seal(database_url: str | None, batch: int) -> None:
    """Extend the hash chain over every committed entry not sealed yet."""

    async def work(engine: AsyncEngine) -> SealRun:
        return await seal_backlog(
            SqlUnitOfWorkFactory(engine), clock=lambda: datetime.now(UTC), batch=batch
        )

    run = _run(database_url, work)
    click.echo(f"sealed {run.sealed} entries; chain head {run.anchor}")
    if run.refused:
        click.echo(f"sealing stopped at a broken entry: {run.refused}", err=True)
        raise SystemExit(1)


@ledger.command()
@database_url
@click.option(
    "--file",
    "file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also append '<time> <position>:<hash>' to this file (append-only, fsynced).",
)
def anchor(database_url: str | None, file: Path | None) -> None:
    """Print the chain's head as an anchor, <position>:<hash>, to keep outside the database."""

    async def work(engine: AsyncEngine) -> Anchor:
        return await current_anchor(SqlUnitOfWorkFactory(engine), now=datetime.now(UTC))

    head = _run(database_url, work)
    click.echo(str(head))
    if file is not None:
        try:
            append_anchor_line(file, head.line())
        except OSError as exc:
            raise click.ClickException(f"cannot append to {file}: {exc.strerror or exc}") from exc
        click.echo(f"appended to {file}: {head.line()}", err=True)


def _row(totals: AccountTotals) -> str:
    acc = totals.account
    return (
        f"{acc.code:<40} {acc.type.value:<9} {acc.currency:<3} "
        f"{totals.debits:>18,} {totals.credits:>18,} {totals.balance:>18,}"
    )


HEADER = f"{'account':<40} {'type':<9} {'cur':<3} {'debits':>18} {'credits':>18} {'balance':>18}"


@ledger.command("trial-balance")
@database_url
@as_of
def trial_balance_command(database_url: str | None, as_of: datetime | None) -> None:
    """Every account's debits, credits and balance; totals per currency."""

    async def work(engine: AsyncEngine) -> Any:
        return await trial_balance(SqlUnitOfWorkFactory(engine), as_of=as_of)

    report = _run(database_url, work)
    click.echo(f"trial balance as of {as_of.isoformat() if as_of else 'now'}")
    click.echo(HEADER)
    for row in report.rows:
        click.echo(_row(row))
    for total in report.totals:
        mark = "balanced" if total.balanced else "NOT BALANCED"
        click.echo(
            f"{'total':<40} {'':<9} {total.currency:<3} "
            f"{total.debits:>18,} {total.credits:>18,} {mark:>18}"
        )
    if not report.balanced:
        raise SystemExit(1)


@ledger.command()
@click.argument("code")
@database_url
@as_of
def balance(code: str, database_url: str | None, as_of: datetime | None) -> None:
    """Balance of one account (on its normal side), rebuilt from its postings."""

    async def work(engine: AsyncEngine) -> AccountTotals:
        return await account_balance(SqlUnitOfWorkFactory(engine), code, as_of=as_of)

    try:
        totals = _run(database_url, work)
    except AccountNotFound as missing:
        raise click.ClickException(missing.detail) from missing
    click.echo(HEADER)
    click.echo(_row(totals))


@ledger.command()
@database_url
def check(database_url: str | None) -> None:
    """Everything ``verify`` proves, plus the book-keeping invariants of a live ledger: no
    asset or liability with a balance of the wrong sign, every currency summing to zero.
    Exits 1 naming each account that is wrong."""

    async def work(engine: AsyncEngine) -> tuple[VerifyReport, list[BookProblem]]:
        async with ledger_snapshot(engine) as store:
            report = await verify_ledger(store)
            problems = book_problems(await store.totals(as_of=None))
        return report, problems

    report, problems = _run(database_url, work)
    found = [*report.problems, *(problem.message for problem in problems)]
    if not found:
        click.echo(
            f"books OK: {report.entries} entries, {report.accounts} accounts; every entry "
            "balances, the chain holds, no account has a balance of the wrong sign"
        )
        return
    click.echo(f"BOOKS WRONG: {len(found)} problem(s)", err=True)
    for problem in found:
        click.echo(f"  - {problem}", err=True)
    raise SystemExit(1)

"""Receiving a statement file, for the API and the console alike: which format to parse it
with, spooling an upload to a temporary file (the body read under
``PAYMENTS_STATEMENT_MAX_BYTES`` with ``requests.limited``), and importing it with the CLI's
services (same parsers, all or nothing, once per content for a source and business day).
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread

from payments.domain.errors import PaymentsError
from payments.entrypoints.own_loop import Resources, run_on_own_loop
from payments.http.container import Container
from payments.reconcile.formats.settlements import SETTLEMENT_MAX_BYTES, read_settlement
from payments.reconcile.formats.statements import SHOWN_LINE_ERRORS as KEPT_LINE_ERRORS
from payments.reconcile.formats.statements import StatementError
from payments.reconcile.sources.treasury import csv_mapping, statement_reader
from payments.reconcile.usecases.imports import (
    SETTLEMENT_PROVIDERS,
    TREASURY,
    Clock,
    Imported,
    import_settlement,
    import_statement,
)
from payments.settings import Settings
from payments.unit_of_work import WorkFactory

SOURCES = (TREASURY, *SETTLEMENT_PROVIDERS)  # what a file can be: the treasury's, a provider's
# What a Content-Type says about the format; octet-stream (or none) says nothing.
MEDIA_FORMATS = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/xml": "camt",
    "text/xml": "camt",
}
UNTYPED = ("application/octet-stream", "")
SHOWN_LINE_ERRORS = KEPT_LINE_ERRORS  # a 422 lists what the parsers kept; the rest are counted
WRITE_CHUNK = 1 << 20  # bytes gathered before one write to the temporary file
IN_LOOP_BYTES = 4 << 20  # larger files are imported off the event loop (``import_file``)


class InvalidFormat(PaymentsError):
    """The source and format do not go together (a settlement report in camt)."""

    title = "Invalid format"


def upload_limit(settings: Settings, source: str) -> int:
    """The most bytes a file of ``source`` may have: a settlement report is read whole, so it
    is refused at its own (smaller) cap before it is spooled, not after."""
    if source == TREASURY:
        return settings.statement_max_bytes
    return min(settings.statement_max_bytes, SETTLEMENT_MAX_BYTES)


def choose_format(source: str, asked: str | None, content_type: str, default: str) -> str:
    """The format to parse with: asked for, else what the Content-Type says, else the
    configured one. Settlement reports are CSV only. InvalidFormat when nothing fits."""
    fmt = asked or MEDIA_FORMATS.get(content_type) or (default if source == TREASURY else "csv")
    if source != TREASURY and fmt != "csv":
        raise InvalidFormat(f"a {source} settlement report is CSV, not {fmt}")
    return fmt


async def spool(chunks: AsyncIterator[bytes], out: BinaryIO) -> int:
    """Copy the chunks (``requests.limited``: a body under its limit) to ``out``, writing off
    the event loop; the number of bytes."""
    size = 0
    pending: list[bytes] = []
    gathered = 0
    async for chunk in chunks:
        size += len(chunk)
        pending.append(chunk)
        gathered += len(chunk)
        if gathered >= WRITE_CHUNK:
            await anyio.to_thread.run_sync(out.write, b"".join(pending))
            pending, gathered = [], 0
    if pending:
        await anyio.to_thread.run_sync(out.write, b"".join(pending))
    await anyio.to_thread.run_sync(out.flush)
    return size


async def import_file(
    app: Container,
    file: BinaryIO | Path,
    *,
    source: str,
    fmt: str,
    business_date: date,
    actor: str,
    size: int,
) -> Imported:
    """Import an uploaded file of ``size`` bytes with the CLI's services; StatementError
    (nothing stored) when the file or any line is malformed.

    ``import_statement`` parses on its caller's event loop, interleaved with the database
    writes: seconds of parsing for a national day, during which this process would answer no
    one (payment callbacks included). So a large file is imported on a thread with an event
    loop and a database connection of its own (``run_on_own_loop``); a small one right here."""
    now = app.clock()
    settings = app.settings
    if size <= IN_LOOP_BYTES:
        return await _import(
            app.uow_factory, settings, file, source, fmt, business_date, actor, now, app.clock
        )

    async def off_loop(own: Resources) -> Imported:
        return await _import(
            own.uow_factory, settings, file, source, fmt, business_date, actor, now, app.clock
        )

    # A SQLite file database is written from that thread's connection too: a writer on the
    # other side waits up to the busy timeout for the import's write, then gets a 503.
    return await run_on_own_loop(app, off_loop)


async def _import(
    uow_factory: WorkFactory,
    settings: Settings,
    file: BinaryIO | Path,
    source: str,
    fmt: str,
    business_date: date,
    actor: str,
    now: datetime,
    clock: Clock,
) -> Imported:
    # The same bytes uploaded twice at once are the services' concern: the later one to
    # complete gets Imported(earlier, created=False). ``clock`` stamps the completion, which
    # orders a provider's reports of a day (the latest wins).
    try:
        if source == TREASURY:
            reader = statement_reader(file, fmt, csv_mapping(settings))
            return await import_statement(
                uow_factory,
                reader,
                business_date=business_date,
                actor=actor,
                now=now,
                clock=clock,
            )
        report = read_settlement(source, file)  # StatementError above SETTLEMENT_MAX_BYTES
        return await import_settlement(
            uow_factory, report, business_date=business_date, actor=actor, now=now, clock=clock
        )
    except csv.Error as exc:  # e.g. a field beyond the csv module's size limit
        raise StatementError(f"malformed CSV: {exc}") from exc

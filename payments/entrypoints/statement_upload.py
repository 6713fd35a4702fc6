"""Receiving a statement file, for the API and the console alike: which format to parse it
with, spooling an upload to a temporary file under ``PAYMENTS_STATEMENT_MAX_BYTES``, and
importing it with the CLI's services (same parsers, all or nothing, once per content for a
source and business day).
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request

from payments.adapters.treasury import csv_mapping, statement_reader
from payments.entrypoints.container import Container
from payments.entrypoints.own_loop import Resources, run_on_own_loop
from payments.reconcile.settlements import SettlementReport, read_settlement
from payments.reconcile.statements import StatementError, StatementReader
from payments.services.ports import UnitOfWorkFactory
from payments.services.reconcile_import import (
    TREASURY,
    Imported,
    import_settlement,
    import_statement,
)
from payments.services.reconcile_reports import find_statement
from payments.settings import Settings

SOURCES: tuple[str, ...] = ("treasury", "vnpay", "momo", "vietqr")
FORMATS: tuple[str, ...] = ("csv", "camt")
# What a Content-Type says about the format; octet-stream (or none) says nothing.
MEDIA_FORMATS = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/xml": "camt",
    "text/xml": "camt",
}
UNTYPED = ("application/octet-stream", "")
SHOWN_LINE_ERRORS = 100  # line errors listed in a 422; the rest are counted
WRITE_CHUNK = 1 << 20  # bytes gathered before one write to the temporary file
IN_LOOP_BYTES = 4 << 20  # larger files are imported off the event loop (``import_file``)


class TooLarge(Exception):
    """The upload passed ``PAYMENTS_STATEMENT_MAX_BYTES``."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"files are limited to {limit} bytes")
        self.limit = limit


class InvalidFormat(Exception):
    """The source and format do not go together (a settlement report in camt)."""


def media_type(raw: str | None) -> str:
    return (raw or "").split(";")[0].strip().lower()


def choose_format(source: str, asked: str | None, content_type: str, default: str) -> str:
    """The format to parse with: asked for, else what the Content-Type says, else the
    configured one. Settlement reports are CSV only. InvalidFormat when nothing fits."""
    fmt = asked or MEDIA_FORMATS.get(content_type) or (default if source == TREASURY else "csv")
    if source != TREASURY and fmt != "csv":
        raise InvalidFormat(f"a {source} settlement report is CSV, not {fmt}")
    return fmt


def declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is not None and raw.isascii() and raw.isdigit():
        return int(raw)
    return None


async def spool(chunks: AsyncIterator[bytes], out: BinaryIO, limit: int) -> int:
    """Copy the chunks to ``out`` (writes off the event loop), TooLarge as soon as more than
    ``limit`` bytes came; the number of bytes otherwise."""
    size = 0
    pending: list[bytes] = []
    gathered = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise TooLarge(limit)
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
            app.uow_factory, settings, file, source, fmt, business_date, actor, now
        )

    async def off_loop(own: Resources) -> Imported:
        return await _import(
            own.uow_factory, settings, file, source, fmt, business_date, actor, now
        )

    # A SQLite file database is written from that thread's connection too: busy_timeout
    # makes either side wait for the other's write rather than fail.
    return await run_on_own_loop(app, off_loop)


async def _import(
    uow_factory: UnitOfWorkFactory,
    settings: Settings,
    file: BinaryIO | Path,
    source: str,
    fmt: str,
    business_date: date,
    actor: str,
    now: datetime,
) -> Imported:
    reader: StatementReader | None = None
    report: SettlementReport | None = None
    try:
        if source == TREASURY:
            reader = statement_reader(file, fmt, csv_mapping(settings))
            return await import_statement(
                uow_factory, reader, business_date=business_date, actor=actor, now=now
            )
        report = read_settlement(source, file)
        return await import_settlement(
            uow_factory, report, business_date=business_date, actor=actor, now=now
        )
    except csv.Error as exc:  # e.g. a field beyond the csv module's size limit
        raise StatementError(f"malformed CSV: {exc}") from exc
    except IntegrityError:
        # The same bytes uploaded twice at once for a source and day: the other upload
        # stored them first (source, day and content hash are unique), so this one is a
        # repeat. The clash comes when a fully read file's header is stored: its hash is
        # known.
        content_hash = report.content_hash if report is not None else _hash_of(reader)
        earlier = (
            await find_statement(uow_factory, source, business_date, content_hash)
            if content_hash
            else None
        )
        if earlier is None:
            raise
        return Imported(earlier, created=False)


def _hash_of(reader: StatementReader | None) -> str | None:
    try:
        return reader.statement.content_hash if reader is not None else None
    except RuntimeError:  # not read to the end
        return None

"""Anchors leave the database: a line appended to a file, a JSON document posted to a URL.

The file is opened for appending only (``O_APPEND``: every write lands at the end, whatever
else writes to it) and each line is flushed to disk (``fsync``) before we say it is written.
Keep it where the database's users cannot rewrite it (another host, a WORM volume, a file
with the append-only attribute, ``chattr +a``). The URL gets
``{"anchor", "position", "chain_hash", "anchored_at"}`` as JSON through the process's one
outbound client; any answer but 2xx, or no answer, is a failure. A failure is returned, not
raised: the caller logs it and the night goes on.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from payments.ledger.anchors import Anchor, parse_anchor_lines

USER_AGENT = "public-fee-payments-ledger-anchor/1"
TIMEOUT_SECONDS = 10
MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class AnchorDelivery:
    target: str  # "file <path>" or "url <scheme://host/path>" (never a query or credentials)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def read_anchor_file(path: Path) -> list[Anchor]:
    """Every anchor of an anchor file (``InvalidAnchor`` names a bad line)."""
    with path.open(encoding="utf-8") as lines:
        return parse_anchor_lines(lines, source=str(path))


def append_anchor_line(path: Path, line: str) -> None:
    """Append ``line`` and a newline to ``path`` (created when missing) and flush it to disk."""
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        data = (line.rstrip("\n") + "\n").encode()
        while data:
            data = data[os.write(fd, data) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:  # the new file's name must survive a crash too
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


async def append_anchor(path: Path, anchor: Anchor) -> AnchorDelivery:
    target = f"file {path}"
    try:
        await asyncio.to_thread(append_anchor_line, path, anchor.line())
    except OSError as exc:
        return AnchorDelivery(target, f"{type(exc).__name__}: {exc.strerror or exc}")
    return AnchorDelivery(target)


def _shown(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"url {parts.scheme}://{host}{port}{parts.path}"


async def post_anchor(
    http: httpx.AsyncClient, url: str, anchor: Anchor, *, token: str | None = None
) -> AnchorDelivery:
    target = _shown(url)
    headers = {"user-agent": USER_AGENT}
    if token:
        headers["authorization"] = f"Bearer {token}"
    try:
        answer = await http.post(
            url, json=anchor.payload(), headers=headers, timeout=httpx.Timeout(TIMEOUT_SECONDS)
        )
    except httpx.HTTPError as exc:
        return AnchorDelivery(target, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])
    if not answer.is_success:
        return AnchorDelivery(target, f"answered {answer.status_code}")
    return AnchorDelivery(target)


async def publish_anchor(
    anchor: Anchor,
    *,
    file: str | None,
    url: str | None,
    http: httpx.AsyncClient,
    token: str | None = None,
) -> list[AnchorDelivery]:
    """Write ``anchor`` to each configured place (none configured: an empty list)."""
    deliveries = []
    if file:
        deliveries.append(await append_anchor(Path(file), anchor))
    if url:
        deliveries.append(await post_anchor(http, url, anchor, token=token))
    return deliveries

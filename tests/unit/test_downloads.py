"""Downloads (the treasury statement, the providers' settlement reports) stop at a size cap and
at a deadline for the whole file, however steadily an endpoint drips bytes; a download that
fails leaves no file behind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from payments.reconcile.sources.downloads import DownloadFailed, download

URL = "https://reports.test/day"


def client(body: httpx.AsyncByteStream | bytes) -> httpx.AsyncClient:
    def answer(_request: httpx.Request) -> httpx.Response:
        if isinstance(body, bytes):
            return httpx.Response(200, content=body)
        return httpx.Response(200, stream=body)

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


class Dripping(httpx.AsyncByteStream):
    """A byte every 20 ms, for ever: never a read timeout, never the end."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            await asyncio.sleep(0.02)
            yield b"x"


async def fetch(
    http: httpx.AsyncClient, to: Path, *, max_bytes: int, deadline_ms: int = 5000
) -> Path:
    return await download(
        http,
        URL,
        to,
        params={"date": "2025-03-12"},
        token="t",
        timeout_seconds=1,
        max_bytes=max_bytes,
        deadline_ms=deadline_ms,
    )


async def test_a_file_up_to_the_cap_is_written(tmp_path: Path) -> None:
    to = tmp_path / "report.csv"
    async with client(b"a" * 1000) as http:
        assert await fetch(http, to, max_bytes=1000) == to
    assert to.read_bytes() == b"a" * 1000


async def test_a_file_beyond_the_cap_fails_and_leaves_no_file(tmp_path: Path) -> None:
    to = tmp_path / "report.csv"
    async with client(b"a" * 1001) as http:
        with pytest.raises(DownloadFailed, match="sent more than 1000 bytes"):
            await fetch(http, to, max_bytes=1000)
    assert list(tmp_path.iterdir()) == []


async def test_an_endpoint_that_never_finishes_fails_at_the_deadline(tmp_path: Path) -> None:
    to = tmp_path / "report.csv"
    # No elapsed-time bound (it would depend on the machine's speed): the stream never ends,
    # so only the deadline asked for can stop it, and the failure names that deadline.
    async with client(Dripping()) as http:
        with pytest.raises(DownloadFailed, match=r"did not send it within 0\.3 s"):
            await fetch(http, to, max_bytes=1 << 20, deadline_ms=300)
    assert list(tmp_path.iterdir()) == []


async def test_an_error_answer_fails_and_leaves_no_file(tmp_path: Path) -> None:
    to = tmp_path / "report.csv"
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda _r: httpx.Response(503)))
    async with http:
        with pytest.raises(DownloadFailed) as caught:
            await fetch(http, to, max_bytes=1000)
    assert caught.value.status_code == 503
    assert list(tmp_path.iterdir()) == []

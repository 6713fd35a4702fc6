"""Streaming a file from an HTTP endpoint to disk: the treasury statement and the providers'
settlement reports are fetched this way. A national day is a hundred megabytes, which must not
sit in memory next to the matching."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from payments.domain.errors import PaymentsError

CHUNK_BYTES = 1 << 20
# The whole download, however steadily the bytes come: a national day's hundred megabytes
# take minutes even on a slow line; an endpoint dripping a byte before each read timeout
# would otherwise hold the night (or a CLI run) forever.
DEADLINE_MS = 30 * 60 * 1000


class DownloadFailed(PaymentsError):
    """The endpoint could not be reached, did not answer 200, sent more than allowed or took
    too long; ``reason`` says which, without the URL (it may carry a credential)."""

    title = "Download failed"

    def __init__(self, reason: str, status_code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code


async def download(
    http: httpx.AsyncClient,
    url: str,
    destination: Path,
    *,
    params: dict[str, str],
    token: str | None,
    timeout_seconds: int,
    max_bytes: int,
    deadline_ms: int = DEADLINE_MS,
) -> Path:
    """GET ``url`` into ``destination`` (bearer ``token`` when given); DownloadFailed when the
    endpoint fails or answers anything but 200, when the file passes ``max_bytes`` (the
    uploads' ``PAYMENTS_STATEMENT_MAX_BYTES``), or when it is not all there within
    ``deadline_ms`` milliseconds (``timeout_seconds`` bounds each read). A failed download leaves no
    file at ``destination``."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with asyncio.timeout(deadline_ms / 1000):
            await _stream(http, url, destination, params, headers, timeout_seconds, max_bytes)
    except BaseException as exc:
        _discard(destination)  # half a file (or one too large) is no file
        if isinstance(exc, TimeoutError):
            raise DownloadFailed(f"did not send it within {deadline_ms / 1000:g} s") from None
        if isinstance(exc, httpx.HTTPError | httpx.InvalidURL):
            raise DownloadFailed(f"failed: {type(exc).__name__} {exc}".rstrip()) from exc
        raise
    return destination


def _discard(path: Path) -> None:
    path.unlink(missing_ok=True)


async def _stream(
    http: httpx.AsyncClient,
    url: str,
    destination: Path,
    params: dict[str, str],
    headers: dict[str, str],
    timeout_seconds: int,
    max_bytes: int,
) -> None:
    async with http.stream(
        "GET", url, params=params, headers=headers, timeout=timeout_seconds
    ) as response:
        if response.status_code != 200:
            raise DownloadFailed(f"answered {response.status_code}", response.status_code)
        size = 0
        with destination.open("wb") as out:
            async for chunk in response.aiter_bytes(CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    raise DownloadFailed(f"sent more than {max_bytes} bytes")
                out.write(chunk)

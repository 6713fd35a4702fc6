"""Streaming a file from an HTTP endpoint to disk: the treasury statement and the providers'
settlement reports are fetched this way. A national day is a hundred megabytes, which must not
sit in memory next to the matching."""

from __future__ import annotations

from pathlib import Path

import httpx

CHUNK_BYTES = 1 << 20


class DownloadFailed(Exception):
    """The endpoint could not be reached or did not answer 200; ``reason`` says which, without
    the URL (it may carry a credential)."""

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
) -> Path:
    """GET ``url`` into ``destination`` (bearer ``token`` when given); DownloadFailed when the
    endpoint fails or answers anything but 200."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with http.stream(
            "GET", url, params=params, headers=headers, timeout=timeout_seconds
        ) as response:
            if response.status_code != 200:
                raise DownloadFailed(f"answered {response.status_code}", response.status_code)
            with destination.open("wb") as out:
                async for chunk in response.aiter_bytes(CHUNK_BYTES):
                    out.write(chunk)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise DownloadFailed(f"failed: {type(exc).__name__} {exc}".rstrip()) from exc
    return destination

"""Sending hostile requests and judging the answers: below 500, every 4xx an RFC 9457 problem;
headers as raw bytes, ids and queries percent-encoded byte for byte, bodies in chunks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from urllib.parse import quote

import httpx

PROBLEM_FIELDS = ("type", "title", "status", "detail")


def check(response: httpx.Response) -> None:
    """Below 500; every 4xx is a complete problem document."""
    assert response.status_code < 500, (response.status_code, response.text[:1000])
    if response.status_code >= 400:
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        assert media_type == "application/problem+json", (response.status_code, media_type)
        problem = response.json()
        assert isinstance(problem, dict)
        for name in PROBLEM_FIELDS:
            assert name in problem, (name, problem)
        assert problem["status"] == response.status_code


def header_bytes(headers: Mapping[str, str | None]) -> dict[bytes, bytes]:
    """Headers as latin-1 bytes (httpx would refuse non-ASCII str values)."""
    return {
        name.encode(): value.encode("latin-1")
        for name, value in headers.items()
        if value is not None
    }


def quote_id(value: str, *, keep_slashes: bool) -> str:
    raw = value.encode("utf-8", "surrogatepass")
    return quote(raw, safe="/" if keep_slashes else "")


async def chunks(payload: bytes, size: int = 8192) -> AsyncIterator[bytes]:
    for start in range(0, len(payload), size):
        yield payload[start : start + size]


def encode_query(pairs: list[tuple[str, str]]) -> str:
    return "&".join(
        f"{quote_id(name, keep_slashes=False)}={quote_id(value, keep_slashes=False)}"
        for name, value in pairs
    )

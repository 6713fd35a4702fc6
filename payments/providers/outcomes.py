"""What a provider call or a provider message can come to, besides a verified answer.

``Unknown``: we could not learn the provider's answer (timeout, network error, 5xx, a body
that is not the JSON we expect). The operation may or may not have happened at the provider:
ask again later, and never let an unknown overwrite a known state.

``Rejected``: a message arrived but must not be trusted or used (bad or missing signature, a
different merchant, fields that are not what the protocol promises). Nothing changes state on a
rejected message.

Calls never raise httpx errors: ``post_json`` turns every transport failure into ``Unknown``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import httpx

from payments.domain import strict_json


class Rejection(StrEnum):
    MISSING_SIGNATURE = "missing_signature"
    BAD_SIGNATURE = "bad_signature"
    WRONG_MERCHANT = "wrong_merchant"
    MISMATCH = "mismatch"  # the answer is about another order, command or request
    MALFORMED = "malformed"


@dataclass(frozen=True)
class Rejected:
    reason: Rejection
    detail: str


@dataclass(frozen=True)
class Unknown:
    reason: str


async def post_json(
    http: httpx.AsyncClient, url: str, body: Mapping[str, object], *, timeout_seconds: int
) -> dict[str, object] | Unknown:
    """POST ``body`` as JSON and return the decoded JSON object, or why there is none."""
    try:
        # httpx times each read on its own, so a provider dripping bytes could hold us far
        # longer; the overall deadline also covers in-process transports, which time nothing.
        async with asyncio.timeout(timeout_seconds):
            response = await http.post(url, json=dict(body), timeout=httpx.Timeout(timeout_seconds))
    except (httpx.TimeoutException, TimeoutError):
        return Unknown("timeout")
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
        return Unknown(f"transport error: {type(exc).__name__}")
    if response.status_code != 200:
        # Even a 4xx leaves us not knowing whether a refund went through: treat it as unknown
        # and let the status query settle it.
        return Unknown(f"http {response.status_code}")
    try:
        decoded = strict_json.loads(response.content)
    except strict_json.DuplicateKey as exc:
        return Unknown(f"response is not one JSON reading: {exc}")
    except (ValueError, UnicodeDecodeError):
        return Unknown("response is not JSON")
    if not isinstance(decoded, dict):
        return Unknown("response is not a JSON object")
    return decoded

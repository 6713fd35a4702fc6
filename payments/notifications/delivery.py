"""Standard Webhooks on the wire: sign a notification and post it to the portal.

Headers ``webhook-id`` (the event id, the same on every retry), ``webhook-timestamp`` (Unix
seconds of this attempt) and ``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` over
``{id}.{timestamp}.{body}`` for each active secret, space-separated, so a portal keeps
verifying while it moves from an old secret to a new one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable

import httpx

from payments.domain.notifications import (
    SECRET_PREFIX,
    DeliveryOutcome,
    OutgoingWebhook,
    PostResult,
)

USER_AGENT = "public-fee-payments-webhooks/1"
MAX_ERROR_CHARS = 500


def signature(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(message: OutgoingWebhook, timestamp: int) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message.event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(secret, message.event_id, timestamp, message.body)
            for secret in message.secrets
        ),
    }


def unix_seconds() -> int:
    return time.time_ns() // 1_000_000_000


class HttpWebhookSender:
    """Posts through the process's one outbound client, with a short timeout.

    The timestamp is the real time of the attempt, not the worker's scheduling clock: it is
    what receivers compare with their own clock to refuse replays.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        timeout_seconds: int,
        wall_clock: Callable[[], int] = unix_seconds,
    ) -> None:
        self._http = http
        self._timeout = httpx.Timeout(timeout_seconds)
        self._wall_clock = wall_clock

    async def __call__(self, message: OutgoingWebhook) -> PostResult:
        headers = signed_headers(message, self._wall_clock())
        started = time.monotonic_ns()
        try:
            answer = await self._http.post(
                message.url,
                content=message.body,
                headers=headers,
                timeout=self._timeout,
                follow_redirects=False,  # a redirect is not a delivery
            )
        except httpx.TimeoutException as exc:
            return PostResult(DeliveryOutcome.TIMEOUT, None, _since(started), _error(exc))
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return PostResult(DeliveryOutcome.ERROR, None, _since(started), _error(exc))
        latency = _since(started)
        if 200 <= answer.status_code < 300:
            return PostResult(DeliveryOutcome.DELIVERED, answer.status_code, latency)
        return PostResult(
            DeliveryOutcome.REJECTED,
            answer.status_code,
            latency,
            f"HTTP {answer.status_code}: {answer.text[:MAX_ERROR_CHARS]}",
        )


def _since(started_ns: int) -> int:
    return (time.monotonic_ns() - started_ns) // 1_000_000


def _error(exc: Exception) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text[:MAX_ERROR_CHARS]

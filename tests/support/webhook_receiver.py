"""A portal's notification endpoint for tests: it verifies every request with the PyPI
package ``standardwebhooks`` (not with our code), records it, and answers as scripted.

Served by uvicorn on a free 127.0.0.1 port inside the test's event loop, so timeouts,
refused connections and latency are real.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.types import Receive, Scope, Send

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Received:
    event_id: str
    timestamp: str
    signatures: str
    body: bytes
    verified_by: tuple[str, ...]  # which of the portal's secrets verified it
    answered: int

    @property
    def envelope(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """``secrets``: what the portal knows (it may know the old, the new or both)."""

    secrets: list[str]
    script: list[str] = field(default_factory=list)  # "ok" / "fail" / "slow", one per request
    slow_seconds: int = 3
    received: list[Received] = field(default_factory=list)

    def verify(self, body: bytes, headers: dict[str, str]) -> tuple[str, ...]:
        good = []
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            good.append(secret)
        return tuple(good)

    def ids(self) -> list[str]:
        return [r.event_id for r in self.received]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        verified = self.verify(body, headers)
        behaviour = self.script.pop(0) if self.script else "ok"
        status = 200
        if not verified:
            status = 401
        elif behaviour == "fail":
            status = 500
        self.received.append(
            Received(
                event_id=headers.get("webhook-id", ""),
                timestamp=headers.get("webhook-timestamp", ""),
                signatures=headers.get("webhook-signature", ""),
                body=body,
                verified_by=verified,
                answered=status,
            )
        )
        if behaviour == "slow":
            await asyncio.sleep(self.slow_seconds)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-length", b"2")],
            }
        )
        await send({"type": "http.response.body", "body": b"ok"})


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serving(receiver: Receiver, port: int = 0) -> AsyncIterator[str]:
    """Serve the receiver (on ``port``, or any free one); yields its base URL
    (``http://127.0.0.1:<port>``)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    config = uvicorn.Config(receiver, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://{HOST}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()

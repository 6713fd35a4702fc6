"""The gateway as a real HTTP server for browser tests, plus a tiny portal page beside it.

uvicorn runs in a background thread with its own event loop on a free 127.0.0.1 port, in
sandbox mode, so the browser, the simulators' callbacks and the API all go over real sockets
(the simulators call back in-process, as they do in the demo). The portal's landing page is
served by the same server at ``PORTAL_PATH``: the agency allows 127.0.0.1:<port>, so ``return_url``
passes the allow-list, and the test sees where the browser ends up.
"""

from __future__ import annotations

import html
import socket
import threading
import time
from dataclasses import dataclass

import uvicorn
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from payments.entrypoints.app import create_app
from payments.settings import Settings

HOST = "127.0.0.1"
PORTAL_PATH = "/portal/return"
START_TIMEOUT_SECONDS = 20


class WithPortal:
    """Serves the portal's landing page itself and hands everything else to the gateway."""

    def __init__(self, gateway: ASGIApp) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == PORTAL_PATH:
            payment_id = Request(scope).query_params.get("payment_id", "")
            body = (
                "<!doctype html><title>Portal</title><h1>Portal</h1>"
                f'<p id="payment-id">{html.escape(payment_id)}</p>'
            )
            await HTMLResponse(body)(scope, receive, send)
            return
        await self.gateway(scope, receive, send)


@dataclass
class LiveServer:
    base_url: str
    server: uvicorn.Server
    thread: threading.Thread
    sock: socket.socket

    @property
    def portal_return_url(self) -> str:
        return f"{self.base_url}{PORTAL_PATH}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=START_TIMEOUT_SECONDS)
        self.sock.close()


def start_server(database_url: str) -> LiveServer:
    # Bind first: the app must know its own base URL (links, simulator callbacks) up front.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    base_url = f"http://{HOST}:{sock.getsockname()[1]}"
    settings = Settings(
        database_url=database_url,
        base_url=base_url,
        sandbox=True,
        expiry_interval_seconds=0,  # no background sweeps racing the tests
        log_level="warning",
    )
    config = uvicorn.Config(
        WithPortal(create_app(settings)),
        lifespan="on",
        log_level="warning",
        access_log=False,
        loop="asyncio",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"the gateway did not start on {base_url}")
        time.sleep(0.05)
    return LiveServer(base_url=base_url, server=server, thread=thread, sock=sock)

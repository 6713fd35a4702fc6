"""The staff console: HTML pages for treasury staff to work through the nightly
reconciliation (runs, totals and a chart, exceptions, resolving them, CSV export).

Mounted at ``/console`` with its own session cookie (scoped to that path) and its own error
pages, so neither the JSON API nor the payer pages see any of it.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import Mount, Router

from payments.entrypoints.console.errors import ConsoleErrors
from payments.entrypoints.console.routes import routes
from payments.entrypoints.console.session import PREFIX, middleware
from payments.entrypoints.console.uploads import routes as upload_routes
from payments.settings import Settings


def mount(settings: Settings) -> Mount:
    return Mount(
        PREFIX,
        app=Router(routes=[*routes, *upload_routes]),
        middleware=[middleware(settings), Middleware(ConsoleErrors)],
        max_body_size=settings.max_body_bytes,
    )

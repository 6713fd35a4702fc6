"""The console's pages, in the order Starlette tries them (uploads are in ``uploads``)."""

from __future__ import annotations

from payments.entrypoints.console import items, runs, sign_in

routes = [*sign_in.routes, *runs.routes, *items.routes]

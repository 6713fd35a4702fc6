"""Liveness and readiness probes."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from payments.adapters.db.migrations import current_revision, head_revision
from payments.domain.errors import Unavailable
from payments.http.requests import container
from payments.ledger.sealing import unsealed_backlog


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready when the database answers and sits at the latest migration.

    Also shows the ledger's sealing backlog (``ledger.unsealed``: entries the worker has not
    sealed into the hash chain yet); a backlog does not make the process unready.
    """
    expected = head_revision()
    try:
        current = await current_revision(container(request).engine)
        unsealed = (
            await unsealed_backlog(container(request).uow_factory) if current == expected else None
        )
    except (SQLAlchemyError, OSError, Unavailable) as exc:
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable", "error": type(exc).__name__},
            status_code=503,
        )
    if current != expected:
        return JSONResponse(
            {
                "status": "unavailable",
                "database": "not migrated",
                "current": current,
                "expected": expected,
                "hint": "run 'payments migrate'",
            },
            status_code=503,
        )
    return JSONResponse(
        {"status": "ok", "database": "ok", "revision": current, "ledger": {"unsealed": unsealed}}
    )


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
]

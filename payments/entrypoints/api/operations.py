"""The API's operations, each declared once with its route: method and path, summary, roles,
request and response models, headers and errors. ``api_route`` makes the Starlette route and
adds the operation to the registry ``openapi`` builds the document from."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    roles: tuple[str, ...] = ()
    request: type[BaseModel] | None = None
    request_required: bool = True
    response: type[BaseModel] | None = None
    status: int = 200
    query: type[BaseModel] | None = None
    headers: tuple[tuple[str, str, bool], ...] = ()  # name, description, required
    errors: tuple[int, ...] = field(default=(400, 401, 403, 404, 422))
    # A raw body (a file) in these media types instead of a JSON request model.
    body_media: tuple[str, ...] = ()
    also: tuple[int, ...] = ()  # other success statuses answering the same response model


OPERATIONS: list[Operation] = []


def api_route(operation: Operation, handler: Handler, *, path: str | None = None) -> Route:
    """The route of ``operation``, served by ``handler``; ``path`` when the route's own
    differs from the documented one (a path converter such as ``{code:path}``)."""
    OPERATIONS.append(operation)
    return Route(path or operation.path, handler, methods=[operation.method.upper()])

"""OpenAPI 3.1, generated from the pydantic models that validate the requests."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from payments.entrypoints.api import schemas
from payments.entrypoints.api.operations import OPERATIONS, Operation

REF = "#/components/schemas/{model}"


_ERROR_DESCRIPTIONS = {
    429: "The key's requests of this minute are spent; retry after Retry-After",
    503: "Overloaded; retry after Retry-After",
}
_RATE_LIMIT_HEADERS = {
    name: {"description": description, "schema": {"type": kind}}
    for name, kind, description in (
        ("Retry-After", "integer", "Seconds until the next minute, when the key may call again"),
        ("RateLimit-Limit", "integer", "The key's requests per minute"),
        ("RateLimit-Remaining", "integer", "Requests left this minute (0)"),
        ("RateLimit-Reset", "integer", "Seconds until the limit resets"),
        ("RateLimit-Policy", "string", "The limit and its window, e.g. 6000;w=60"),
    )
}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    params = []
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        explode = prop.get("type") == "array"
        params.append(
            {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": prop,
                "explode": explode,
            }
        )
    return params


def _operation_id(op: Operation) -> str:
    words = op.path.strip("/").replace("{", "").replace("}", "").split("/")
    return "_".join([op.method, *words])


def build_spec(base_url: str) -> dict[str, Any]:
    models: set[type[BaseModel]] = {schemas.Problem}
    for op in OPERATIONS:
        models.update(m for m in (op.request, op.response) if m is not None)
    _, defs = models_json_schema(
        [
            (m, "validation" if m in {op.request for op in OPERATIONS} else "serialization")
            for m in sorted(models, key=lambda m: m.__name__)
        ],
        ref_template=REF,
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        parameters: list[dict[str, Any]] = [
            {
                "name": name,
                "in": "header",
                "required": required,
                "description": desc,
                "schema": {"type": "string", "maxLength": 255},
            }
            for name, desc, required in op.headers
        ]
        parameters += [
            {"name": part.strip("{}"), "in": "path", "required": True, "schema": {"type": "string"}}
            for part in op.path.split("/")
            if part.startswith("{")
        ]
        if op.query is not None:
            parameters += _query_parameters(op.query)
        responses: dict[str, Any] = {}
        if op.response is not None:
            responses[str(op.status)] = {
                "description": "OK",
                "content": {
                    "application/json": {"schema": {"$ref": REF.format(model=op.response.__name__)}}
                },
            }
        if op.response is not None:
            for code in op.also:
                responses[str(code)] = {
                    "description": "OK",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": REF.format(model=op.response.__name__)}
                        }
                    },
                }
        # 503: every operation needs a database connection, and may find none free in time.
        # 429: every keyed operation counts against its key's requests a minute.
        for code in (*op.errors, *((429,) if op.roles else ()), 503):
            responses[str(code)] = {
                "description": _ERROR_DESCRIPTIONS.get(code, "Problem"),
                "content": {
                    "application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}
                },
            }
            if code == 429:
                responses["429"]["headers"] = _RATE_LIMIT_HEADERS
        entry: dict[str, Any] = {
            "summary": op.summary,
            "operationId": _operation_id(op),
            "tags": [op.tag],
            "parameters": parameters,
            "responses": responses,
        }
        if op.roles:
            entry["description"] = "Roles: " + ", ".join(op.roles)
            entry["security"] = [{"apiKey": []}]
        if op.request is not None:
            entry["requestBody"] = {
                "required": op.request_required,
                "content": {
                    "application/json": {"schema": {"$ref": REF.format(model=op.request.__name__)}}
                },
            }
        if op.body_media:
            entry["requestBody"] = {
                "required": True,
                "content": {
                    media: {"schema": {"type": "string", "contentMediaType": media}}
                    for media in op.body_media
                },
            }
        paths.setdefault(op.path, {})[op.method] = entry
    probes = {
        "/healthz": "OK",
        "/readyz": "Ready: the database answers at the latest migration; `ledger.unsealed` "
        "counts the entries not sealed into the ledger's hash chain yet",
    }
    for path, ready in probes.items():
        paths[path] = {
            "get": {
                "summary": f"{path[1:]} probe",
                "operationId": path[1:],
                "tags": ["operations"],
                "responses": {"200": {"description": ready}, "503": {"description": "Not ready"}},
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Public-fee payment gateway",
            "version": "1",
            "description": "Portals create payment requests; citizens pay; the ledger proves it.",
        },
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
    }


async def openapi_json(request: Request) -> Response:
    spec = request.app.state.openapi
    return JSONResponse(spec)


routes = [Route("/openapi.json", openapi_json, methods=["GET"])]

"""structlog set-up: JSON lines, UTC timestamps, a request id on every line, payer ids masked."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# Payer identifiers never reach a log line in full (ARCHITECTURE.md section 9).
MASKED_KEYS = frozenset(
    {
        "payer_id_number",
        "id_number",
        "tax_code",
        "payer_tax_code",
        "email",
        "payer_email",
        "phone",
        "payer_phone",
        "authorization",
        "api_key",
        "secret",
    }
)


def mask(value: str) -> str:
    """Keep the last three characters so support staff can still tell records apart."""
    if len(value) <= 3:
        return "***"
    return "*" * (len(value) - 3) + value[-3:]


def _mask_identifiers(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if key in MASKED_KEYS and isinstance(value, str):
            event[key] = mask(value)
        elif isinstance(value, dict):
            event[key] = {
                k: mask(v) if k in MASKED_KEYS and isinstance(v, str) else v
                for k, v in value.items()
            }
    return event


def configure_logging(level: str = "info", *, json: bool = True) -> None:
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _mask_identifiers,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )

"""structlog set-up: JSON lines, UTC timestamps, a request id on every line, payer ids masked."""

from __future__ import annotations

import logging
import re
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


# The checkout token is the payer's payment link: whoever has it can pay and see the payment.
# It travels in paths (/checkout/<token>, /checkout/<token>/vietqr/<attempt>), which every
# access and error line carries; any such path in any log value is redacted.
CHECKOUT_PATH = re.compile(r"/checkout/(?!return/)[A-Za-z0-9_-]+")


def redact(value: str) -> str:
    return CHECKOUT_PATH.sub("/checkout/[token]", value) if "/checkout/" in value else value


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
        elif isinstance(value, str):
            event[key] = redact(value)
        elif isinstance(value, dict):
            event[key] = {
                k: mask(v) if k in MASKED_KEYS and isinstance(v, str) else v
                for k, v in value.items()
            }
    return event


class _Stdout:
    """Standard output as it is when a line is written, not when logging was set up (a test
    capturing it, a server that swaps it, see every line)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


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
        logger_factory=structlog.PrintLoggerFactory(_Stdout()),  # type: ignore[arg-type]
        # Not cached: a cached logger keeps the level and output of the first configuration
        # (a process that configures again, a test at another level, would log to the old).
        cache_logger_on_first_use=False,
    )

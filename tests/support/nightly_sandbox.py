"""Settings of the gateway in sandbox mode whose nightly job fetches the sandbox treasury's
statement and the simulators' settlement reports."""

from __future__ import annotations

from typing import Any

from payments.settings import Settings
from tests.support.api import BASE_URL


def sandbox_settings(database_url: str, **overrides: Any) -> Settings:
    options: dict[str, Any] = {
        "database_url": database_url,
        "base_url": BASE_URL,
        "sandbox": True,
        "expiry_interval_seconds": 0,
        "log_level": "warning",
        "treasury_statement_url": f"{BASE_URL}/sandbox/treasury/statement",
        **overrides,
    }
    return Settings(**options)

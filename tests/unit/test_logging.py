"""Log lines: JSON, a request id on each, payer identifiers masked."""

from __future__ import annotations

import json

import pytest
import structlog

from payments.adapters.logging import configure_logging


def test_logs_are_json_with_request_id_and_masked_identifiers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info", json=True)
    structlog.contextvars.bind_contextvars(request_id="req-1")
    structlog.get_logger().info("payer_seen", payer_id_number="001099012345", amount=150000)
    structlog.contextvars.clear_contextvars()
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["request_id"] == "req-1"
    assert line["payer_id_number"] == "*********345"
    assert line["amount"] == 150000

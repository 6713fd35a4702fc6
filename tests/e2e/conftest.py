"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.refund_app import App, refund_app


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[App]:
    """The refund tests' app in sandbox mode (``tests/support/refund_app.py``)."""
    async with refund_app(database_url) as found:
        yield found

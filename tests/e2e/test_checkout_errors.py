"""Errors on payer pages are HTML pages a citizen can read; the JSON API keeps problem+json."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from payments.collection.usecases import checkout as checkout_service
from payments.entrypoints.web.i18n import TEXTS
from tests.support.api import api_client


@pytest.fixture
async def sandbox(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(database_url, sandbox=True) as http:
        yield http


async def test_unexpected_error_on_a_checkout_page_is_an_html_page(
    sandbox: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(checkout_service, "checkout_view", broken)
    answer = await sandbox.get("/checkout/some-token")
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("text/html")
    assert TEXTS["vi"]["unexpected"] in answer.text
    assert "database on fire" not in answer.text
    request_id = answer.headers["x-request-id"]
    assert f"<code>{request_id}</code>" in answer.text
    english = await sandbox.get("/checkout/some-token", headers={"Accept-Language": "en"})
    assert TEXTS["en"]["unexpected"] in english.text


async def test_wrong_method_on_a_checkout_page_is_an_html_page(
    sandbox: httpx.AsyncClient,
) -> None:
    answer = await sandbox.put("/checkout/some-token")
    assert answer.status_code == 405
    assert answer.headers["content-type"].startswith("text/html")
    assert "GET" in answer.headers["allow"]
    assert len(answer.headers.get_list("x-request-id")) == 1
    assert TEXTS["vi"]["bad_request"] in answer.text


async def test_api_errors_stay_problem_json(sandbox: httpx.AsyncClient) -> None:
    answer = await sandbox.put("/v1/payments")
    assert answer.status_code == 405
    assert answer.headers["content-type"] == "application/problem+json"

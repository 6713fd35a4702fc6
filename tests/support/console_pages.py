"""Signing in to the staff console over HTTP and reading its pages: each form carries the
session's CSRF token, which the next post must send back."""

from __future__ import annotations

import re

import httpx

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def token_of(page: httpx.Response) -> str:
    found = TOKEN.search(page.text)
    assert found is not None, page.text
    return found.group(1)


async def signed_in(http: httpx.AsyncClient, key: str) -> httpx.Response:
    form = await http.get("/console/sign-in")
    return await http.post("/console/sign-in", data={"csrf_token": token_of(form), "api_key": key})


async def page(http: httpx.AsyncClient, path: str, status: int = 200) -> httpx.Response:
    answer = await http.get(path)
    assert answer.status_code == status, answer.text
    if status != 303:
        assert answer.headers["content-type"].startswith("text/html")
    return answer


async def first_open_item(http: httpx.AsyncClient, run_id: int) -> int:
    items = await page(http, f"/console/runs/{run_id}/items?state=open&outcome=missing_at_treasury")
    found = re.search(r'href="/console/items/(\d+)"', items.text)
    assert found is not None, items.text
    return int(found.group(1))

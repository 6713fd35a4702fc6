"""The staff console over HTTP: treasury staff sign in with their personal key, read a
night's runs, totals and chart, filter the exceptions, resolve one with a note (recorded as
them), export CSV, switch language and sign out. Forms without the session's token, or from
another origin, are refused; sessions end after eight hours or when the key is revoked."""

from __future__ import annotations

import base64
import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from payments.adapters.db import tables
from payments.domain.access import Role
from payments.domain.errors import InvalidConfiguration
from payments.entrypoints.app import create_app
from payments.entrypoints.console.texts import TEXTS
from payments.settings import Settings
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import TEST_PROVIDERS, api_client
from tests.support.console_nights import STAFF_NAME, Night, seed_night
from tests.support.console_pages import first_open_item, page, signed_in, token_of

VI, EN = TEXTS["vi"], TEXTS["en"]


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def night(uow_factory: SqlUnitOfWorkFactory) -> Night:
    return await seed_night(uow_factory)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def console(database_url: str, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(database_url, clock=clock) as http:
        yield http


# --- signing in and out -------------------------------------------------------------------


async def test_staff_sign_in_with_their_key_and_sign_out(
    console: httpx.AsyncClient, night: Night
) -> None:
    away = await console.get("/console/runs")
    assert (away.status_code, away.headers["location"]) == (303, "/console/sign-in")

    bad = await signed_in(console, "pfk_not-a-key")
    assert bad.status_code == 401
    assert VI["bad_key"] in bad.text
    for role in (Role.PORTAL, Role.FINANCE):
        refused = await signed_in(console, night.keys[role])
        assert refused.status_code == 403
        assert VI["wrong_role"] in refused.text
    assert (await console.get("/console/runs")).status_code == 303

    answer = await signed_in(console, night.keys[Role.TREASURY])
    assert (answer.status_code, answer.headers["location"]) == (303, "/console/runs")
    cookie = answer.headers["set-cookie"]
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "secure", "path=/console", "max-age=28800"} <= flags
    value = cookie.split(";")[0].split("=", 1)[1]
    decoded = base64.b64decode(value.split(".")[0] + "==").decode()
    assert night.keys[Role.TREASURY] not in decoded  # the key itself never leaves the form
    assert f'"id": {night.key_ids[Role.TREASURY]}' in decoded

    runs = await page(console, "/console/runs")
    assert VI["runs"] in runs.text
    assert STAFF_NAME in runs.text
    assert "12/03/2025" in runs.text
    assert "13/03/2025" in runs.text
    assert "950.000 ₫" in runs.text
    assert VI["status_open"] in runs.text
    assert VI["status_clean"] in runs.text

    out = await console.post("/console/sign-out", data={"csrf_token": token_of(runs)})
    assert (out.status_code, out.headers["location"]) == (
        303,
        "/console/sign-in?reason=signed_out",
    )
    assert VI["signed_out"] in (await page(console, out.headers["location"])).text
    assert (await console.get("/console/runs")).status_code == 303

    admin = await signed_in(console, night.keys[Role.ADMIN])
    assert admin.status_code == 303


async def test_sessions_end_after_eight_hours_and_with_a_revoked_key(
    console: httpx.AsyncClient, night: Night, clock: Clock, uow_factory: SqlUnitOfWorkFactory
) -> None:
    await signed_in(console, night.keys[Role.TREASURY])
    clock.now += timedelta(hours=7, minutes=59)
    await page(console, "/console/runs")
    clock.now += timedelta(minutes=2)
    ended = await console.get("/console/runs")
    assert (ended.status_code, ended.headers["location"]) == (
        303,
        "/console/sign-in?reason=session_ended",
    )
    assert VI["session_ended"] in (await page(console, ended.headers["location"])).text
    assert (await console.get("/console/runs")).status_code == 303  # the session is gone

    # Signed in, then the key is revoked: the next page (the key not yet in the few-second
    # key cache) ends the session.
    await signed_in(console, night.keys[Role.ADMIN])
    async with uow_factory.engine.begin() as conn:
        await conn.execute(
            update(tables.api_keys)
            .where(tables.api_keys.c.id == night.key_ids[Role.ADMIN])
            .values(revoked_at=clock.now)
        )
    revoked = await console.get("/console/runs")
    assert revoked.headers["location"] == "/console/sign-in?reason=session_ended"


# --- forgery ------------------------------------------------------------------------------


async def test_forms_without_the_session_token_or_from_elsewhere_are_refused(
    console: httpx.AsyncClient, night: Night
) -> None:
    form = await console.get("/console/sign-in")
    key = night.keys[Role.TREASURY]
    for data in ({"api_key": key}, {"api_key": key, "csrf_token": "forged"}):
        refused = await console.post("/console/sign-in", data=data)
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("text/html")
        assert VI["csrf_failed"] in refused.text
    assert (await signed_in(console, key)).status_code == 303
    runs = await page(console, "/console/runs")
    token = token_of(runs)
    assert token != token_of(form)  # a fresh token once signed in

    item_id = await first_open_item(console, night.run_id)
    resolve = f"/console/items/{item_id}/resolve"
    for data, headers in (
        ({"note": "forged"}, {}),
        ({"note": "forged", "csrf_token": token[:-1]}, {}),
        ({"note": "forged", "csrf_token": token}, {"Origin": "https://evil.example"}),
        ({"note": "forged", "csrf_token": token}, {"Origin": "null"}),
        ({"note": "forged", "csrf_token": token}, {"Referer": "https://evil.example/x"}),
    ):
        refused = await console.post(resolve, data=data, headers=headers)
        assert refused.status_code == 403, data
        assert VI["csrf_failed"] in refused.text
    assert VI["state_open"] in (await page(console, f"/console/items/{item_id}")).text
    # The same origin, as a browser sends it, passes.
    ok = await console.post(
        resolve,
        data={"note": "Payer's bank returned it", "csrf_token": token},
        headers={"Origin": "https://pay.test", "Referer": "https://pay.test/console/runs"},
    )
    assert ok.status_code == 303
    for path in ("/console/sign-out", "/console/language"):
        assert (await console.post(path, data={"lang": "en"})).status_code == 403
    assert (await console.get("/console/runs")).status_code == 200  # still signed in


# --- language -----------------------------------------------------------------------------


async def test_vietnamese_by_default_and_english_on_request(
    console: httpx.AsyncClient, night: Night
) -> None:
    form = await page(console, "/console/sign-in")
    assert '<html lang="vi">' in form.text
    assert VI["sign_in_help"] in form.text
    switched = await console.post(
        "/console/language",
        data={"csrf_token": token_of(form), "lang": "en", "next": "/console/sign-in"},
    )
    assert (switched.status_code, switched.headers["location"]) == (303, "/console/sign-in")
    english = await page(console, "/console/sign-in")
    assert '<html lang="en">' in english.text
    assert EN["sign_in_help"] in english.text
    await signed_in(console, night.keys[Role.TREASURY])
    runs = await page(console, "/console/runs")  # the choice survives signing in
    assert EN["runs"] in runs.text
    assert EN["outcome_missing_at_treasury"] in runs.text
    for target in ("//evil.example/x", "https://evil.example/", "/v1/payments", "/console/\\x"):
        away = await console.post(
            "/console/language", data={"csrf_token": token_of(runs), "lang": "vi", "next": target}
        )
        assert away.headers["location"] == "/console/runs", target
    assert VI["runs"] in (await page(console, "/console/runs")).text


def test_every_text_exists_in_both_languages() -> None:
    assert set(VI) == set(EN)
    assert all(VI[k].strip() and EN[k].strip() for k in VI)


# --- the pages ----------------------------------------------------------------------------


async def test_a_night_page_by_page(
    console: httpx.AsyncClient, night: Night, uow_factory: SqlUnitOfWorkFactory
) -> None:
    await signed_in(console, night.keys[Role.TREASURY])
    run = await page(console, f"/console/runs/{night.run_id}")
    text = run.text
    assert "950.000 ₫" in text  # matched, both sides
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in text
    assert 'role="img"' in text
    assert VI["chart_title"].format(days=14) in text
    assert text.count('class="bar"') == 1  # DAY is the chart's last day: the next is after it
    for heading in ("by_agency", "by_treasury_code", "by_chapter", "by_sub_item", "by_provider"):
        assert VI[heading] in text
    assert ">DVC<" in text
    assert ">vnpay<" in text
    assert VI["outcome_unknown_at_gateway"] in text

    later = await page(console, f"/console/runs/{night.run_id + 1}")
    assert later.text.count('class="bar"') == 2  # the chart shows both reconciled days

    exceptions = await page(console, f"/console/runs/{night.run_id}/items")
    assert night.missing in exceptions.text
    assert night.matched not in exceptions.text
    everything = await page(console, f"/console/runs/{night.run_id}/items?outcome=all")
    assert night.matched in everything.text
    filtered = await page(
        console, f"/console/runs/{night.run_id}/items?outcome=&state=open&agency=DVC&provider=vnpay"
    )
    assert night.missing in filtered.text
    assert VI["outcome_unknown_at_gateway"] not in filtered.text.split("<table")[-1]
    nothing = await page(console, f"/console/runs/{night.run_id}/items?provider=momo")
    assert VI["no_items"] in nothing.text
    for bad in ("outcome=paid", "state=maybe", "agency=%3Cscript%3E", "provider=visa", "after=x"):
        refused = await page(console, f"/console/runs/{night.run_id}/items?{bad}", 400)
        assert VI["bad_request"] in refused.text

    item_id = await first_open_item(console, night.run_id)
    item = await page(console, f"/console/items/{item_id}")
    assert VI["gateway_side"] in item.text
    assert VI["treasury_side"] in item.text
    assert night.missing in item.text
    assert "90.000 ₫" in item.text
    assert VI["action_opened"] in item.text
    assert "02:00 13/03/2025" not in item.text  # times are Vietnam time: 01:00 on the 13th
    assert "13/03/2025 01:00" in item.text

    for missing in (
        "/console/items/999999",
        "/console/runs/999999",
        "/console/items/abc",
        "/console/runs/99999999999999999999",
        "/console/nowhere",
    ):
        answer = await page(console, missing, 404)
        assert VI["not_found"] in answer.text


async def test_resolving_records_the_signed_in_person(
    console: httpx.AsyncClient, night: Night, uow_factory: SqlUnitOfWorkFactory, clock: Clock
) -> None:
    await signed_in(console, night.keys[Role.TREASURY])
    item_id = await first_open_item(console, night.run_id)
    item = await page(console, f"/console/items/{item_id}")
    resolve = f"/console/items/{item_id}/resolve"
    empty = await console.post(resolve, data={"csrf_token": token_of(item), "note": "   "})
    assert empty.status_code == 400
    assert VI["note_required"] in empty.text

    done = await console.post(
        resolve, data={"csrf_token": token_of(item), "note": "Trả lại người nộp <b>"}
    )
    assert (done.status_code, done.headers["location"]) == (303, f"{resolve[:-8]}?resolved=1")
    shown = await page(console, done.headers["location"])
    actor = f"apikey:{night.key_ids[Role.TREASURY]}"
    assert VI["just_resolved"] in shown.text
    assert VI["state_resolved"] in shown.text
    assert actor in shown.text
    assert VI["action_resolved"] in shown.text
    assert "Trả lại người nộp &lt;b&gt;" in shown.text  # escaped
    assert 'id="resolve-form"' not in shown.text
    async with uow_factory.engine.connect() as conn:
        audit = (
            await conn.execute(
                select(tables.audit_log.c.actor).where(
                    tables.audit_log.c.action == "reconcile.item_resolved",
                    tables.audit_log.c.target_id == str(item_id),
                )
            )
        ).all()
    assert [row.actor for row in audit] == [actor]

    again = await console.post(resolve, data={"csrf_token": token_of(item), "note": "again"})
    assert again.status_code == 409
    assert VI["already_resolved"] in again.text
    everything = await page(console, f"/console/runs/{night.run_id}/items?outcome=matched")
    matched = re.search(r'href="/console/items/(\d+)"', everything.text)
    assert matched is not None
    closed = await console.post(
        f"/console/items/{matched.group(1)}/resolve",
        data={"csrf_token": token_of(item), "note": "x"},
    )
    assert closed.status_code == 409
    assert VI["nothing_to_resolve"] in closed.text


async def test_csv_export_streams_the_filtered_items(
    console: httpx.AsyncClient, night: Night
) -> None:
    assert (await console.get(f"/console/runs/{night.run_id}/items.csv")).status_code == 303
    await signed_in(console, night.keys[Role.TREASURY])
    exported = await console.get(f"/console/runs/{night.run_id}/items.csv?outcome=all")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["outcome"] for r in rows} == {"matched", "missing_at_treasury", "unknown_at_gateway"}
    only = await console.get(f"/console/runs/{night.run_id}/items.csv?state=open")
    assert {r["outcome"] for r in csv.DictReader(io.StringIO(only.text))} == {
        "missing_at_treasury",
        "unknown_at_gateway",
    }


async def test_the_api_and_the_payer_pages_carry_no_console_cookie(
    console: httpx.AsyncClient, night: Night
) -> None:
    await signed_in(console, night.keys[Role.TREASURY])
    api = await console.get(
        "/v1/reconciliation/runs", headers={"Authorization": f"Bearer {night.keys[Role.TREASURY]}"}
    )
    assert api.status_code == 200
    assert "set-cookie" not in api.headers
    unknown = await console.get("/checkout/nothing-here")
    assert "set-cookie" not in unknown.headers
    spec = (await console.get("/openapi.json")).json()
    assert not [p for p in spec["paths"] if p.startswith("/console")]


# --- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        (None, "PAYMENTS_SESSION_SECRET is missing or a placeholder"),
        ("changeme", "PAYMENTS_SESSION_SECRET is missing or a placeholder"),
        ("sandbox-console-secret-0123456789abcdef", "PAYMENTS_SESSION_SECRET is a sandbox secret"),
        ("short-but-real", "PAYMENTS_SESSION_SECRET is shorter than 32 characters"),
    ],
)
def test_outside_sandbox_the_session_secret_is_required(secret: str | None, problem: str) -> None:
    options: dict[str, Any] = {**TEST_PROVIDERS, "session_secret": secret, "log_level": "warning"}
    with pytest.raises(InvalidConfiguration) as refused:
        create_app(Settings(**options))
    assert problem in refused.value.detail
    assert Settings(sandbox=True).console_problems() == []

"""Uploading a statement at the staff console over HTTP: a signed-in treasury officer sends a
file with the form's CSRF token and lands on the statement's summary; the same file again is
recognised; a malformed file is listed line by line and stores nothing; a form without the
token, from another site or beyond the size limit is refused and stores nothing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from payments.adapters.db import tables
from payments.domain.errors import Unavailable
from payments.entrypoints.console.texts import TEXTS
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import BASE_URL, api_client
from tests.support.console_pages import page, signed_in, token_of
from tests.support.console_uploads import UPLOAD, Day, make_day, upload
from tests.support.reconcile_days import DAY, csv_line, statement
from tests.support.statement_samples import SAMPLES, vnd_camt
from tests.support.stored_rows import stored_counts

VI, EN = TEXTS["vi"], TEXTS["en"]
LIMIT = 32_768
STATEMENT_AT = re.compile(r"^/console/statements/(\d+)\?(uploaded|again)=1$")


@pytest.fixture
async def day(uow_factory: SqlUnitOfWorkFactory) -> Day:
    return await make_day(uow_factory)


@pytest.fixture
async def console(database_url: str, day: Day) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(database_url, statement_max_bytes=LIMIT) as http:
        signed = await signed_in(http, day.key)
        assert signed.status_code == 303, signed.text
        yield http


async def test_staff_upload_a_statement_and_the_day_reads_it(
    console: httpx.AsyncClient, day: Day, uow_factory: SqlUnitOfWorkFactory
) -> None:
    runs = await page(console, "/console/runs")
    assert f'href="{UPLOAD}"' in runs.text
    form = await page(console, UPLOAD)
    assert 'enctype="multipart/form-data"' in form.text
    assert VI["upload_statement"] in form.text

    content = statement(csv_line(day.paid[0]), csv_line("NOIDUNG-LA", 40_000))
    sent = await upload(console, content)
    assert sent.status_code == 303, sent.text
    found = STATEMENT_AT.match(sent.headers["location"])
    assert found is not None
    assert found.group(2) == "uploaded"
    statement_id = int(found.group(1))
    summary = await page(console, sent.headers["location"])
    assert VI["statement_uploaded"] in summary.text
    assert "<dd>2</dd>" in summary.text  # lines
    assert "190.000 ₫" in summary.text  # credits
    assert f"apikey:{day.key_id}" in summary.text
    assert await stored_counts(uow_factory) == (1, 2, 0)

    again = await upload(console, content, name="the-same-file-renamed.csv")
    assert again.status_code == 303
    assert again.headers["location"] == f"/console/statements/{statement_id}?again=1"
    assert VI["statement_again"] in (await page(console, again.headers["location"])).text
    assert await stored_counts(uow_factory) == (1, 2, 0)

    async with uow_factory() as unit:
        actors = (
            await unit.connection.execute(
                select(tables.audit_log.c.actor).where(
                    tables.audit_log.c.action == "reconcile.statement_imported"
                )
            )
        ).scalars()
        assert list(actors) == [f"apikey:{day.key_id}"]

    run = await console.post(
        "/v1/reconciliation/runs",
        json={"business_date": DAY.isoformat()},
        headers={"Authorization": f"Bearer {day.key}"},
    )
    assert run.status_code == 201, run.text
    assert run.json()["statements"] == [statement_id]
    assert run.json()["totals"]["matched"]["treasury_amount"] == 150_000


async def test_a_malformed_file_is_listed_by_line_and_stores_nothing(
    console: httpx.AsyncClient, day: Day, uow_factory: SqlUnitOfWorkFactory
) -> None:
    content = statement(
        csv_line(day.paid[0]),
        "2025-03-12,-5,VND,credit,,x,y\n",  # line 3
        "only,three,fields\n",  # line 4
    )
    refused = await upload(console, content)
    assert refused.status_code == 422, refused.text
    assert VI["upload_rejected"] in refused.text
    listed = re.findall(r'<tr><td class="num">(\d+)</td>', refused.text)
    assert listed == ["3", "4"]
    assert 'value="2025-03-12"' in refused.text  # the form keeps what was typed
    assert await stored_counts(uow_factory) == (0, 0, 0)

    # A real bank's camt.053 (EUR) is refused with the parser's reason, in English too.
    lang = await console.post(
        "/console/language",
        data={"csrf_token": token_of(await page(console, UPLOAD)), "lang": "en", "next": UPLOAD},
    )
    assert lang.status_code == 303
    real = (SAMPLES / "oca-test-camt053.xml").read_bytes()
    refused = await upload(console, real, name="oca-test-camt053.xml", media="text/xml")
    assert refused.status_code == 422
    assert EN["upload_rejected"] in refused.text
    assert "EUR" in refused.text
    assert await stored_counts(uow_factory) == (0, 0, 0)


async def test_a_camt_entry_is_listed_by_its_number_and_where_it_starts(
    console: httpx.AsyncClient, day: Day, uow_factory: SqlUnitOfWorkFactory
) -> None:
    # One physical line, as bank exports often are: the entry's number, then its place.
    content = re.sub(rb">\s+<", b"><", vnd_camt(day.paid[0], day.paid[1])).replace(b"\n", b"")
    second = content.index(b"<Ntry>", content.index(b"<Ntry>") + 1)
    content = content[:second] + content[second:].replace(b"CRDT", b"XXXX", 1)
    refused = await upload(console, content, name="kbnn.xml", media="application/xml")
    assert refused.status_code == 422, refused.text
    assert re.findall(r'<tr><td class="num">(\d+)</td>', refused.text) == ["2"]
    where = VI["upload_entry"].format(entry=2) + ": " + VI["upload_line"].format(line=1)
    assert f"{where}, {VI['upload_column'].format(column=second + 1)}</td>" in refused.text
    assert await stored_counts(uow_factory) == (0, 0, 0)


async def test_formats_from_the_file_and_settlement_reports(
    console: httpx.AsyncClient, day: Day, uow_factory: SqlUnitOfWorkFactory
) -> None:
    camt = await upload(
        console, vnd_camt(day.paid[0]), name="kbnn.XML", media="application/octet-stream"
    )
    assert camt.status_code == 303, camt.text
    assert "camt.053" in (await page(console, camt.headers["location"])).text

    xml_report = await upload(console, b"<x/>", name="vnpay.xml", fields={"source": "vnpay"})
    assert xml_report.status_code == 400
    assert VI["upload_settlement_csv"] in xml_report.text

    report = (
        "vnp_TxnRef,vnp_TransactionNo,vnp_Amount,vnp_Fee,vnp_SettlementDate\n"
        f"{day.paid[0]},14000001,15000000,110000,20250312\n"
    ).encode()
    settled = await upload(console, report, name="vnpay.csv", fields={"source": "vnpay"})
    assert settled.status_code == 303, settled.text
    summary = (await page(console, settled.headers["location"])).text
    assert VI["source_vnpay"] in summary
    assert "1.100 ₫" in summary  # fees
    assert await stored_counts(uow_factory) == (2, 1, 1)


@pytest.mark.parametrize(
    "fields",
    [
        {"business_date": "2025-02-30"},
        {"business_date": ""},
        {"source": "bank"},
        {"format": "pdf"},
    ],
)
async def test_bad_fields_are_refused(
    console: httpx.AsyncClient,
    day: Day,
    uow_factory: SqlUnitOfWorkFactory,
    fields: dict[str, str],
) -> None:
    refused = await upload(console, statement(csv_line(day.paid[0])), fields=fields)
    assert refused.status_code == 400
    assert VI["upload_bad_fields"] in refused.text
    empty = await upload(console, b"")
    assert empty.status_code == 400
    assert VI["upload_no_file"] in empty.text
    assert await stored_counts(uow_factory) == (0, 0, 0)


async def test_forms_without_the_token_or_from_elsewhere_are_refused(
    console: httpx.AsyncClient, day: Day, uow_factory: SqlUnitOfWorkFactory
) -> None:
    content = statement(csv_line(day.paid[0]))
    missing = await upload(console, content, token=None)
    assert missing.status_code == 403
    assert VI["csrf_failed"] in missing.text
    wrong = await upload(console, content, token="not-the-token")
    assert wrong.status_code == 403
    foreign = await upload(console, content, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    same_site = await upload(console, content, headers={"Origin": BASE_URL})
    assert same_site.status_code == 303
    assert await stored_counts(uow_factory) == (1, 1, 0)


async def test_a_file_beyond_the_limit_is_refused(
    console: httpx.AsyncClient, day: Day, uow_factory: SqlUnitOfWorkFactory
) -> None:
    line = csv_line(day.paid[0])
    content = statement(*[line] * (LIMIT // len(line) + 1))
    assert len(content) > LIMIT
    refused = await upload(console, content)
    assert refused.status_code == 413
    assert VI["upload_too_large"] in refused.text
    # Far beyond it: refused from the declared length, before reading.
    huge = await upload(console, content * 4)
    assert huge.status_code == 413
    assert VI["upload_too_large"] in huge.text
    assert await stored_counts(uow_factory) == (0, 0, 0)
    fits = statement(*[line] * ((LIMIT - 200) // len(line)))
    accepted = await upload(console, fits)
    assert accepted.status_code == 303, accepted.text


async def test_the_console_body_limit_does_not_apply_to_uploads(
    database_url: str, day: Day, uow_factory: SqlUnitOfWorkFactory
) -> None:
    line = csv_line(day.paid[0])
    content = statement(*[line] * (200_000 // len(line)))  # three times PAYMENTS_MAX_BODY_BYTES
    async with api_client(database_url) as http:
        await signed_in(http, day.key)
        accepted = await upload(http, content)
        assert accepted.status_code == 303, accepted.text
        # ...while it still holds for every other form of the console.
        token = token_of(await page(http, UPLOAD))
        language = await http.post(
            "/console/language", data={"csrf_token": token, "lang": "en", "next": "x" * 70_000}
        )
        assert language.status_code == 413
    assert await stored_counts(uow_factory) == (1, content.count(b"\n") - 1, 0)


async def test_signed_out_staff_are_sent_to_sign_in(
    database_url: str, day: Day, uow_factory: SqlUnitOfWorkFactory
) -> None:
    async with api_client(database_url) as http:
        away = await http.post(
            UPLOAD,
            data={"business_date": DAY.isoformat(), "source": "treasury"},
            files={"file": ("kbnn.csv", statement(csv_line(day.paid[0])), "text/csv")},
        )
        assert (away.status_code, away.headers["location"]) == (303, "/console/sign-in")
        assert (await http.get(UPLOAD)).status_code == 303
    assert await stored_counts(uow_factory) == (0, 0, 0)


async def test_an_upload_that_says_not_where_it_comes_from_is_refused_unread(
    console: httpx.AsyncClient, day: Day, uow_factory: SqlUnitOfWorkFactory
) -> None:
    token = token_of(await page(console, UPLOAD))
    content = statement(csv_line(day.paid[0]))
    form = {"business_date": DAY.isoformat(), "source": "treasury", "csrf_token": token}
    files = {"file": ("kbnn.csv", content, "text/csv")}
    # Neither Origin nor Referer: refused before the body is read, so a body far beyond
    # the limit is a 403, not a 413.
    huge = {"file": ("kbnn.csv", content * (LIMIT // len(content) + 10), "text/csv")}
    for sent in (files, huge):
        bare = await console.post(UPLOAD, data=form, files=sent)
        assert bare.status_code == 403
        assert VI["csrf_failed"] in bare.text
    foreign = await console.post(
        UPLOAD, data=form, files=files, headers={"Referer": "https://evil.example/upload"}
    )
    assert foreign.status_code == 403
    assert await stored_counts(uow_factory) == (0, 0, 0)
    # Referer alone, from this site, will do (a browser that withholds Origin).
    referred = await console.post(
        UPLOAD, data=form, files=files, headers={"Referer": f"{BASE_URL}{UPLOAD}"}
    )
    assert referred.status_code == 303, referred.text
    assert await stored_counts(uow_factory) == (1, 1, 0)


async def test_a_busy_system_answers_a_503_page_in_the_readers_language(
    console: httpx.AsyncClient,
    day: Day,
    uow_factory: SqlUnitOfWorkFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def busy(*_args: object, **_kwargs: object) -> None:
        raise Unavailable("another import is under way", retry_after_seconds=7)

    monkeypatch.setattr("payments.entrypoints.console.uploads.import_file", busy)
    content = statement(csv_line(day.paid[0]))
    refused = await upload(console, content)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "7"
    assert refused.headers["content-type"].startswith("text/html")
    assert VI["busy_title"] in refused.text
    assert VI["unavailable"] in refused.text
    assert VI["unexpected"] not in refused.text

    form = await page(console, UPLOAD)
    switched = await console.post(
        "/console/language",
        data={"csrf_token": token_of(form), "lang": "en", "next": UPLOAD},
        headers={"Origin": BASE_URL},
    )
    assert switched.status_code == 303
    english = await upload(console, content)
    assert english.status_code == 503
    assert EN["unavailable"] in english.text
    assert await stored_counts(uow_factory) == (0, 0, 0)

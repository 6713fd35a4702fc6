"""Uploads over /v1/reconciliation/statements across days and corrections: the same empty
file uploaded for two days is each day's own (201 both times, and the second day's run is not
refused), and a provider's corrected report is listed beside the first, which is marked
superseded and no longer read by the day's run."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from payments.domain.access import Role
from payments.services.access import create_api_key
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.reconcile_days import (
    DAY,
    camt054,
    csv_line,
    gateway,
    next_day,
    statement,
)

URL = "/v1/reconciliation/statements"
CSV = {"Content-Type": "text/csv"}
VNPAY_HEADER = "vnp_TxnRef,vnp_TransactionNo,vnp_Amount,vnp_Fee,vnp_SettlementDate\n"


async def treasury_key(uow: SqlUnitOfWorkFactory) -> dict[str, str]:
    """A treasury staff key; the agency is the portal's (``gateway`` makes it)."""
    _, plain = await create_api_key(
        uow, agency_code="DVC", role=Role.TREASURY, label=None, actor="t", now=datetime.now(UTC)
    )
    return {"Authorization": f"Bearer {plain}"}


async def test_the_same_empty_files_for_two_days(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory
) -> None:
    await gateway(uow_factory)
    auth = await treasury_key(uow_factory)
    thursday = next_day(DAY)
    answers = {}
    for day in (DAY, thursday):
        for source, content in (("treasury", statement()), ("vnpay", VNPAY_HEADER.encode())):
            answer = await client.post(
                f"{URL}?business_date={day.isoformat()}&source={source}",
                content=content,
                headers={**auth, **CSV},
            )
            assert answer.status_code == 201, answer.text
            assert answer.json()["business_date"] == day.isoformat()
            answers[day, source] = answer.json()
    assert answers[DAY, "vnpay"]["content_hash"] == answers[thursday, "vnpay"]["content_hash"]
    again = await client.post(
        f"{URL}?business_date={thursday.isoformat()}&source=vnpay",
        content=VNPAY_HEADER.encode(),
        headers={**auth, **CSV},
    )
    assert again.status_code == 200, again.text
    assert again.json()["id"] == answers[thursday, "vnpay"]["id"]

    run = await client.post(
        "/v1/reconciliation/runs", json={"business_date": thursday.isoformat()}, headers=auth
    )
    assert run.status_code == 201, run.text
    assert run.json()["statements"] == [
        answers[thursday, "treasury"]["id"],
        answers[thursday, "vnpay"]["id"],
    ]


async def test_a_corrected_report_supersedes_the_first(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory
) -> None:
    # VNPay's first report has the second payment at 80.000 and leaves the third out; the
    # corrected one has all three right. The run reads only the corrected report.
    gw = await gateway(uow_factory)
    auth = await treasury_key(uow_factory)
    amounts = (150_000, 90_000, 60_000)
    paid = [(await gw.paid(amount)).id for amount in amounts]
    upload = f"{URL}?business_date={DAY.isoformat()}&source="
    treasury = await client.post(
        f"{upload}treasury",
        content=statement(*(csv_line(p, a) for p, a in zip(paid, amounts, strict=True))),
        headers={**auth, **CSV},
    )
    assert treasury.status_code == 201, treasury.text

    def report(*lines: tuple[str, int]) -> bytes:
        rows = "".join(f"{p},140{n},{a * 100},0,20250312\n" for n, (p, a) in enumerate(lines))
        return (VNPAY_HEADER + rows).encode()

    first = await client.post(
        f"{upload}vnpay",
        content=report((paid[0], 150_000), (paid[1], 80_000)),
        headers={**auth, **CSV},
    )
    corrected = await client.post(
        f"{upload}vnpay",
        content=report((paid[0], 150_000), (paid[1], 90_000), (paid[2], 60_000)),
        headers={**auth, **CSV},
    )
    assert (first.status_code, corrected.status_code) == (201, 201), corrected.text
    assert (first.json()["superseded"], corrected.json()["superseded"]) == (False, False)

    run = await client.post(
        "/v1/reconciliation/runs", json={"business_date": DAY.isoformat()}, headers=auth
    )
    assert run.status_code == 201, run.text
    assert set(run.json()["totals"]) == {"matched"}
    assert run.json()["totals"]["matched"]["count"] == 3
    assert run.json()["statements"] == [treasury.json()["id"], corrected.json()["id"]]

    listed = (await client.get(f"{URL}?source=vnpay", headers=auth)).json()["data"]
    assert [(s["id"], s["superseded"]) for s in listed] == [
        (corrected.json()["id"], False),
        (first.json()["id"], True),
    ]
    one = (await client.get(f"{URL}/{first.json()['id']}", headers=auth)).json()
    assert one["superseded"] is True
    treasury_listed = (await client.get(f"{URL}?source=treasury", headers=auth)).json()["data"]
    assert [s["superseded"] for s in treasury_listed] == [False]


async def test_a_later_days_camt054_credit_for_a_matched_payment_is_a_duplicate(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory
) -> None:
    # Wednesday's camt.054 credits the payment and the day's run matches it; Thursday's
    # credits it again: staff read a duplicate of Wednesday's match, with its payment.
    gw = await gateway(uow_factory)
    auth = await treasury_key(uow_factory)
    paid = await gw.paid()
    runs = {}
    for day in (DAY, next_day(DAY)):
        upload = await client.post(
            f"{URL}?business_date={day.isoformat()}&source=treasury",
            content=camt054(day, paid.id),
            headers={**auth, "Content-Type": "application/xml"},
        )
        assert upload.status_code == 201, upload.text
        assert upload.json()["format"] == "camt.054"
        run = await client.post(
            "/v1/reconciliation/runs", json={"business_date": day.isoformat()}, headers=auth
        )
        assert run.status_code == 201, run.text
        runs[day] = run.json()["id"]
    items = await client.get(f"/v1/reconciliation/runs/{runs[DAY]}/items", headers=auth)
    assert [(i["outcome"], i["payment_id"]) for i in items.json()["data"]] == [("matched", paid.id)]
    later = await client.get(f"/v1/reconciliation/runs/{runs[next_day(DAY)]}/items", headers=auth)
    [item] = later.json()["data"]
    assert (item["outcome"], item["payment_id"], item["state"]) == ("duplicate", paid.id, "open")
    assert f"already matched on {DAY.isoformat()} (run {runs[DAY]})" in item["note"]

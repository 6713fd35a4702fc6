"""Refunds over HTTP, end to end through the sandbox simulators (the app in sandbox mode):
finance officers ask, approve, reject and confirm; providers answer, time out, settle later."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from payments.domain.access import Role
from payments.domain.attempts import Provider
from payments.entrypoints.worker.jobs import build_worker
from payments.ledger.sql_store import ledger_snapshot
from payments.ledger.verification import verify_ledger
from payments.refunds.usecases.execution import process_due_refunds
from tests.support.api import make_portal
from tests.support.checkout_flows import ledger_nets
from tests.support.refund_app import App, make_second_officer
from tests.support.sandbox_refunds import PREFIX


@pytest.mark.parametrize("provider", [Provider.VNPAY, Provider.MOMO])
async def test_a_partial_refund_succeeds_at_once_and_shows_in_the_summary(
    app: App, provider: Provider, database_url: str
) -> None:
    payment = await app.paid(provider)
    answer = await app.refund(payment["id"], 50_000, expected_available=150_000)
    assert answer.status_code == 201, answer.text
    refund = answer.json()
    assert refund["status"] == "succeeded"
    assert refund["provider"] == provider.value
    assert refund["requested_by"].startswith("apikey:")
    assert answer.headers["Location"] == f"/v1/refunds/{refund['id']}"
    summary = await app.http.get(
        f"/v1/payments/{payment['id']}/refunds", headers=app.portal.auth(Role.FINANCE)
    )
    assert summary.status_code == 200
    assert summary.json()["refunds"] == {
        "currency": "VND",
        "captured": 150_000,
        "refunded": 50_000,
        "in_flight": 0,
        "available": 100_000,
    }
    book = (await app.http.get(f"{PREFIX[provider]}/refunds")).json()["refunds"]
    assert [r["amount"] for r in book] == [50_000]
    nets = await ledger_nets(database_url)
    assert nets[f"clearing:{provider.value}"] == 100_000
    assert sum(nets.values()) == 0
    events = await app.http.get(f"/v1/refunds/{refund['id']}/events", headers=app.portal.auth())
    assert [e["to_status"] for e in events.json()["data"]] == [
        "approved",
        "processing",
        "succeeded",
    ]


async def test_idempotent_retry_precondition_and_over_refund(app: App) -> None:
    payment = await app.paid()
    first = await app.refund(payment["id"], 40_000, key="refund-1")
    again = await app.refund(payment["id"], 40_000, key="refund-1")
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["status"] == "succeeded"
    other_body = await app.refund(payment["id"], 41_000, key="refund-1")
    assert other_body.status_code == 422
    stale = await app.refund(payment["id"], 10_000, expected_available=150_000)
    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith("application/problem+json")
    too_much = await app.refund(payment["id"], 110_001)
    assert too_much.status_code == 409, too_much.text
    listed = await app.http.get(
        f"/v1/refunds?payment_id={payment['id']}", headers=app.portal.auth(Role.FINANCE)
    )
    assert [r["id"] for r in listed.json()["data"]] == [first.json()["id"]]
    missing_key = await app.http.post(
        f"/v1/payments/{payment['id']}/refunds",
        json={"amount": 1, "reason": "x"},
        headers=app.portal.auth(Role.FINANCE),
    )
    assert missing_key.status_code == 400
    invalid = await app.refund(payment["id"], 0)
    assert invalid.status_code == 422
    not_finance = await app.refund(payment["id"], 1_000, role=Role.PORTAL)
    assert not_finance.status_code == 403


async def test_four_eyes_and_another_agency(app: App) -> None:
    payment = await app.paid(amount=500_000)
    other = await make_portal(app.container.uow_factory, datetime.now(UTC))
    asked = await app.refund(payment["id"], 300_000)
    assert asked.status_code == 201, asked.text
    refund = asked.json()
    assert refund["status"] == "awaiting_approval"
    url = f"/v1/refunds/{refund['id']}"
    # The key that asked cannot approve; another agency's officer does not even see it.
    own = await app.http.post(f"{url}/approve", headers=app.portal.auth(Role.FINANCE))
    assert own.status_code == 403
    foreign = await app.http.post(f"{url}/approve", headers=other.auth(Role.FINANCE))
    assert foreign.status_code == 404
    assert (await app.http.get(url, headers=other.auth(Role.FINANCE))).status_code == 404
    foreign_ask = await app.refund(payment["id"], 1_000, portal=other)
    assert foreign_ask.status_code == 404
    # A second finance officer of the agency approves: sent at once.
    second = await make_second_officer(app)
    approved = await app.http.post(
        f"{url}/approve", json={"note": "dossier checked"}, headers={"Authorization": second}
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "succeeded"
    assert approved.json()["approved_by"] != refund["requested_by"]
    rejected_late = await app.http.post(f"{url}/reject", headers={"Authorization": second})
    assert rejected_late.status_code == 409


@pytest.mark.parametrize("provider", [Provider.VNPAY, Provider.MOMO])
async def test_a_provider_that_times_out_then_reports_success(
    app: App, provider: Provider, database_url: str
) -> None:
    payment = await app.paid(provider)
    await app.switch(provider, "timeout", seconds="3")
    answer = await app.refund(payment["id"], 30_000)
    assert answer.status_code == 201, answer.text
    refund = answer.json()
    assert refund["status"] == "unknown"
    assert refund["next_action_at"] is not None
    summary = await app.http.get(f"/v1/payments/{payment['id']}/refunds", headers=app.portal.auth())
    assert summary.json()["refunds"]["in_flight"] == 30_000
    later = datetime.now(UTC) + timedelta(minutes=2)
    run = await process_due_refunds(app.container.uow_factory, app.container.providers, now=later)
    assert (run.checked, run.settled) == (1, 1)
    settled = await app.http.get(f"/v1/refunds/{refund['id']}", headers=app.portal.auth())
    assert settled.json()["status"] == "succeeded"
    book = (await app.http.get(f"{PREFIX[provider]}/refunds")).json()["refunds"]
    assert [r["amount"] for r in book] == [30_000]  # one refund at the provider, never two
    nets = await ledger_nets(database_url)
    assert nets[f"clearing:{provider.value}"] == 120_000
    assert nets["refunds-payable"] == 0
    async with ledger_snapshot(app.container.engine) as store:
        report = await verify_ledger(store)
    assert report.ok, report.problems


async def test_a_provider_failure_reverses_the_booking(app: App, database_url: str) -> None:
    payment = await app.paid()
    # Both refunds asked in one second: VNPay's querydr could not tell the second from the
    # first (it finds a refund by payment and create second), so the second waits a second.
    asked = datetime.now(UTC)
    app.container.clock = lambda: asked
    await app.switch(Provider.VNPAY, "fail")
    answer = await app.refund(payment["id"], 30_000)
    assert answer.json()["status"] == "failed", answer.text
    assert answer.json()["provider_code"] == "95"
    nets = await ledger_nets(database_url)
    assert nets["refunds-payable"] == 0
    assert nets["clearing:vnpay"] == 150_000
    again = await app.refund(payment["id"], 100_000, expected_available=150_000)
    queued = again.json()
    assert queued["status"] == "approved", again.text
    assert queued["next_action_at"] == (
        asked.replace(microsecond=0) + timedelta(seconds=1)
    ).isoformat().replace("+00:00", "Z")
    later = asked + timedelta(seconds=1)
    run = await process_due_refunds(app.container.uow_factory, app.container.providers, now=later)
    assert (run.sent, run.settled) == (1, 1)
    read = await app.http.get(f"/v1/refunds/{queued['id']}", headers=app.portal.auth())
    assert read.json()["status"] == "succeeded", read.text


async def test_an_overpaid_transfer_is_a_candidate_refunded_by_a_confirmed_transfer(
    app: App, database_url: str
) -> None:
    payment = await app.paid(Provider.VIETQR)
    overpaid = payment["flags"]["overpaid_amount"]
    assert overpaid > 0
    candidates = await app.http.get("/v1/refunds/candidates", headers=app.portal.auth(Role.FINANCE))
    assert candidates.status_code == 200
    (row,) = candidates.json()["data"]
    assert row["payment"]["id"] == payment["id"]
    assert row["refunds"]["available"] == 150_000 + overpaid
    answer = await app.refund(payment["id"], overpaid)
    refund = answer.json()
    assert refund["status"] == "submitted", answer.text
    assert refund["transfer_instruction"]["reference"] == refund["provider_request_id"]
    assert refund["transfer_instruction"]["amount"] == overpaid
    url = f"/v1/refunds/{refund['id']}/confirm"
    treasury = await app.http.post(url, headers=app.portal.auth(Role.TREASURY))
    assert treasury.status_code == 403
    confirmed = await app.http.post(
        url, json={"note": "FT26001"}, headers=app.portal.auth(Role.ADMIN)
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "succeeded"
    nets = await ledger_nets(database_url)
    assert nets["refunds-payable"] == 0  # the excess it held went back to the payer
    assert nets["clearing:vietqr"] == 150_000
    assert sum(nets.values()) == 0


async def test_the_worker_settles_a_refund_the_provider_left_unknown(app: App) -> None:
    """What settles an unknown refund in production: the worker's refunds job, not a test
    calling the service."""
    payment = await app.paid(Provider.VNPAY)
    await app.switch(Provider.VNPAY, "timeout", seconds="3")
    refund = (await app.refund(payment["id"], 30_000)).json()
    assert refund["status"] == "unknown"
    # Two minutes on: the refund's status query is due.
    app.container.clock = lambda: datetime.now(UTC) + timedelta(minutes=2)
    worker = build_worker(app.container)
    running = asyncio.create_task(worker.run())
    try:
        status = refund["status"]
        for _ in range(200):
            read = await app.http.get(f"/v1/refunds/{refund['id']}", headers=app.portal.auth())
            status = read.json()["status"]
            if status != "unknown":
                break
            await asyncio.sleep(0.05)
    finally:
        worker.stop()
        await running
    assert status == "succeeded"
    book = (await app.http.get(f"{PREFIX[Provider.VNPAY]}/refunds")).json()["refunds"]
    assert [r["amount"] for r in book] == [30_000]


async def test_a_transfer_that_could_not_be_made_fails_the_refund_and_frees_its_amount(
    app: App, database_url: str
) -> None:
    payment = await app.paid(Provider.VIETQR)
    overpaid = payment["flags"]["overpaid_amount"]
    refund = (await app.refund(payment["id"], overpaid)).json()
    assert refund["status"] == "submitted"
    url = f"/v1/refunds/{refund['id']}/transfer-failed"
    finance = app.portal.auth(Role.FINANCE)
    no_note = await app.http.post(url, headers=finance)
    assert no_note.status_code == 422
    assert no_note.headers["content-type"].startswith("application/problem+json")
    failed = await app.http.post(url, json={"note": "tài khoản đã đóng"}, headers=finance)
    assert failed.status_code == 200, failed.text
    assert failed.json()["status"] == "failed"
    again = await app.http.post(url, json={"note": "again"}, headers=finance)
    assert again.json()["status"] == "failed"  # said twice: still one failure
    confirm = await app.http.post(f"/v1/refunds/{refund['id']}/confirm", headers=finance)
    assert confirm.status_code == 409  # a failed transfer cannot be confirmed afterwards
    summary = await app.http.get(f"/v1/payments/{payment['id']}/refunds", headers=finance)
    assert summary.json()["refunds"]["available"] == 150_000 + overpaid
    nets = await ledger_nets(database_url)
    assert nets["refunds-payable"] == -overpaid  # still owed to the payer: ask again
    events = await app.http.get(f"/v1/refunds/{refund['id']}/events", headers=finance)
    assert [e["to_status"] for e in events.json()["data"]][-1] == "failed"

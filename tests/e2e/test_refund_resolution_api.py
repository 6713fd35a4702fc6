"""Settling a refund by hand over HTTP: one finance officer proposes what the provider did,
another confirms or declines; the refund, its booking and the audit log follow."""

from __future__ import annotations

from typing import Any

import httpx

from payments.domain.access import Role
from payments.domain.attempts import Provider
from tests.support.checkout_flows import ledger_nets
from tests.support.refund_app import App, make_second_officer


async def lost_refund(app: App) -> dict[str, Any]:
    """A refund VNPay never got (the request lost on the way): unknown to the gateway."""
    payment = await app.paid()
    await app.switch(Provider.VNPAY, "drop")
    answer = await app.refund(payment["id"], 40_000)
    refund: dict[str, Any] = answer.json()
    assert refund["status"] == "unknown", answer.text
    return refund


def is_problem(answer: httpx.Response, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


async def test_two_officers_settle_a_lost_refund_as_failed(app: App, database_url: str) -> None:
    refund = await lost_refund(app)
    url = f"/v1/refunds/{refund['id']}/resolution"
    officer = app.portal.auth(Role.FINANCE)
    proposed = await app.http.post(
        url,
        json={"outcome": "failed", "note": "VNPay merchant portal: no such refund"},
        headers=officer,
    )
    assert proposed.status_code == 200, proposed.text
    body = proposed.json()
    assert body["status"] == "unknown"
    assert body["resolution"]["outcome"] == "failed"
    assert body["resolution"]["proposed_by"] == refund["requested_by"]

    is_problem(await app.http.post(f"{url}/confirm", headers=officer), 403)  # four eyes
    second = {"Authorization": await make_second_officer(app)}
    done = await app.http.post(f"{url}/confirm", json={"note": "checked"}, headers=second)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "failed"
    assert done.json()["resolution"] is None
    nets = await ledger_nets(database_url)
    assert nets["refunds-payable"] == 0
    assert nets["clearing:vnpay"] == 150_000
    is_problem(await app.http.post(f"{url}/confirm", headers=second), 409)  # nothing left

    events = await app.http.get(f"/v1/refunds/{refund['id']}/events", headers=officer)
    causes = [e["cause"] for e in events.json()["data"]]
    assert causes[-2:] == ["api.resolution_proposed", "api.resolution_confirmed"]
    audit = await app.http.get(
        "/v1/audit-log", params={"target_id": refund["id"]}, headers=app.portal.auth(Role.ADMIN)
    )
    actions = [entry["action"] for entry in audit.json()["data"]]
    assert "refund.resolution_proposed" in actions
    assert "refund.resolution_confirmed" in actions


async def test_a_proposal_is_refused_when_incomplete_or_for_a_settled_refund(app: App) -> None:
    refund = await lost_refund(app)
    url = f"/v1/refunds/{refund['id']}/resolution"
    officer = app.portal.auth(Role.FINANCE)
    no_number = await app.http.post(
        url, json={"outcome": "succeeded", "note": "paid"}, headers=officer
    )
    is_problem(no_number, 422)
    assert "provider_refund_id" in no_number.text
    is_problem(
        await app.http.post(url, json={"outcome": "maybe", "note": "x"}, headers=officer), 422
    )
    is_problem(await app.http.post(url, json={"outcome": "failed"}, headers=officer), 422)
    is_problem(
        await app.http.post(
            url, json={"outcome": "failed", "note": "x"}, headers=app.portal.auth()
        ),
        403,  # the portal's key settles no refund
    )
    read = await app.http.get(f"/v1/refunds/{refund['id']}", headers=officer)
    assert read.json()["resolution"] is None  # nothing changed

    second = {"Authorization": await make_second_officer(app)}
    await app.http.post(url, json={"outcome": "failed", "note": "lost"}, headers=officer)
    declined = await app.http.post(f"{url}/decline", headers=second)
    assert declined.status_code == 200, declined.text
    assert declined.json()["resolution"] is None
    assert declined.json()["status"] == "unknown"

    # Once the provider's answer settles the refund, there is nothing to settle by hand.
    payment = await app.paid()
    paid = (await app.refund(payment["id"], 10_000)).json()
    assert paid["status"] == "succeeded"
    late = await app.http.post(
        f"/v1/refunds/{paid['id']}/resolution",
        json={"outcome": "failed", "note": "x"},
        headers=officer,
    )
    is_problem(late, 409)

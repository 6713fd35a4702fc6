"""Refunds the provider's status query cannot tell apart, end to end through the VNPay
simulator: whatever is lost on the way, the gateway's refunded total is the provider's.

VNPay's ``querydr`` finds a refund only by the paid transaction and the refund's create
second. Two refunds of one payment at VNPay together, or created in one second, would make an
answer about one settle the other; the gateway sends them one at a time, each in its own
second (``domain.refunds.queued_behind``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from payments.domain.access import Role
from payments.domain.attempts import Provider
from payments.refunds.rules.lifecycle import CHECK_LADDER
from payments.refunds.usecases.execution import process_due_refunds
from tests.support.refund_app import App, make_second_officer
from tests.support.sandbox_refunds import PREFIX

IN_FLIGHT = {"approved", "processing", "pending", "unknown"}


async def settle_all(app: App, payment_id: str, start: datetime) -> list[dict[str, Any]]:
    """Run the worker's refund job on the ladder's schedule until no refund of the payment is
    in flight (or a day has passed), as production does; return the payment's refunds."""
    moment = start
    for _ in range(40):
        refunds = await of_payment(app, payment_id)
        due = [r for r in refunds if r["status"] in IN_FLIGHT]
        if not due:
            return refunds
        moment = max(
            moment + timedelta(seconds=1),
            *(_at(r["next_action_at"]) for r in due if r["next_action_at"]),
        )
        app.container.clock = _fixed(moment)
        await process_due_refunds(app.container.uow_factory, app.container.providers, now=moment)
    raise AssertionError(f"refunds still in flight: {await of_payment(app, payment_id)}")


def _fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def of_payment(app: App, payment_id: str) -> list[dict[str, Any]]:
    read = await app.http.get(
        "/v1/refunds", params={"payment_id": payment_id}, headers=app.portal.auth()
    )
    assert read.status_code == 200, read.text
    found: list[dict[str, Any]] = read.json()["data"]
    return found


async def books_agree(app: App, payment_id: str, refunds: list[dict[str, Any]]) -> int:
    """The gateway's paid refunds are the simulator's, one for one, with its numbers."""
    book = (await app.http.get(f"{PREFIX[Provider.VNPAY]}/refunds")).json()["refunds"]
    paid_at_provider = {r["request_id"]: r for r in book if r["state"] == "succeeded"}
    paid_here = {r["provider_request_id"]: r for r in refunds if r["status"] == "succeeded"}
    assert paid_here.keys() == paid_at_provider.keys()
    for request_id, refund in paid_here.items():
        assert refund["provider_refund_id"] == paid_at_provider[request_id]["refund_no"]
        assert refund["amount"] == paid_at_provider[request_id]["amount"]
    total: int = sum(r["amount"] for r in paid_at_provider.values())
    assert total == sum(r["amount"] for r in paid_here.values())
    return total


async def test_a_refund_lost_on_its_way_is_never_settled_by_its_siblings_answer(
    app: App,
) -> None:
    payment = await app.paid()
    asked = datetime.now(UTC)
    app.container.clock = lambda: asked
    first = await app.refund(payment["id"], 30_000)
    assert first.json()["status"] == "succeeded", first.text
    await app.switch(Provider.VNPAY, "drop")  # the next refund to reach VNPay is lost
    second = await app.refund(payment["id"], 30_000)
    assert second.json()["status"] == "approved", second.text  # waits for a second of its own
    refunds = await settle_all(app, payment["id"], asked)
    assert [r["status"] for r in refunds] == ["succeeded", "succeeded"]
    assert await books_agree(app, payment["id"], refunds) == 60_000


async def test_two_concurrent_refunds_one_lost_leave_the_books_equal(app: App) -> None:
    payment = await app.paid()
    asked = datetime.now(UTC)
    app.container.clock = lambda: asked
    await app.switch(Provider.VNPAY, "drop")
    answers = await asyncio.gather(
        app.refund(payment["id"], 30_000), app.refund(payment["id"], 30_000)
    )
    assert sorted(a.json()["status"] for a in answers) == ["approved", "unknown"]
    refunds = await settle_all(app, payment["id"], asked)
    assert await books_agree(app, payment["id"], refunds) == 60_000
    seconds = {_at(r["created_at"]) for r in refunds}
    assert len(seconds) == 1  # asked in one second, sent in two


async def test_a_refund_timed_out_at_vnpay_is_recorded_once_paid(app: App) -> None:
    """The answer never came, but VNPay made the refund: the status query finds it (its own
    second), and the gateway records it paid, never sends it twice."""
    payment = await app.paid()
    asked = datetime.now(UTC)
    app.container.clock = lambda: asked
    await app.switch(Provider.VNPAY, "timeout", seconds="3")
    first = await app.refund(payment["id"], 10_005)
    assert first.json()["status"] == "unknown", first.text
    await app.switch(Provider.VNPAY, "fail")
    second = await app.refund(payment["id"], 10_005)
    assert second.json()["status"] == "approved"
    refunds = await settle_all(app, payment["id"], asked)
    assert sorted(r["status"] for r in refunds) == ["failed", "succeeded"]
    assert await books_agree(app, payment["id"], refunds) == 10_005


async def plan(app: App, operation: str, *faults: str, seconds: int | None = None) -> None:
    for fault in faults:
        body: dict[str, Any] = {"operation": operation, "fault": fault}
        if seconds is not None:
            body["seconds"] = seconds
        answer = await app.http.post(f"{PREFIX[Provider.VNPAY]}/faults", json=body)
        assert answer.status_code == 200, answer.text


async def test_five_refunds_in_one_second_each_hit_by_a_fault_end_as_the_provider_did(
    app: App,
) -> None:
    """The issue's case: a 500, a body that is not JSON, a slow answer, no answer (the refund
    made all the same) and a lost request, then status queries that fail too. Each refund is
    asked about until VNPay's answer is certain, resent when VNPay has none: nothing stays in
    flight, and what the gateway paid is what VNPay paid, refund for refund."""
    payment = await app.paid()
    asked = datetime.now(UTC)
    app.container.clock = lambda: asked
    await plan(app, "refund", "error", "garble")
    await plan(app, "refund", "slow", seconds=0)
    await plan(app, "refund", "hang", "lose")
    await plan(app, "querydr", "error", "garble", "wrong", "lose")
    answers = [await app.refund(payment["id"], 10_005) for _ in range(5)]
    assert [a.status_code for a in answers] == [201] * 5
    refunds = await settle_all(app, payment["id"], asked)
    assert [r["status"] for r in refunds] == ["succeeded"] * 5
    assert await books_agree(app, payment["id"], refunds) == 50_025
    calls = (await app.http.get(f"{PREFIX[Provider.VNPAY]}/faults")).json()["calls"]
    assert calls["refund"] >= 5 + 3  # three of the five were sent again after VNPay had none


async def test_a_refund_vnpay_never_answers_for_is_raised_to_people_then_settled(
    app: App,
) -> None:
    payment = await app.paid()
    asked = datetime.now(UTC)
    app.container.clock = lambda: asked
    await plan(app, "refund", "lose")
    await plan(app, "querydr", *["error"] * 7)
    lost = (await app.refund(payment["id"], 20_000)).json()
    assert lost["status"] == "unknown"
    officer = app.portal.auth(Role.FINANCE)
    moment = asked
    for step in CHECK_LADDER:
        listed = await app.http.get("/v1/refunds", params={"escalated": "true"}, headers=officer)
        assert listed.json()["data"] == []
        moment += step
        run = await process_due_refunds(
            app.container.uow_factory, app.container.providers, now=moment
        )
        assert run.checked == 1
    listed = await app.http.get("/v1/refunds", params={"escalated": "true"}, headers=officer)
    (raised,) = listed.json()["data"]
    assert (raised["id"], raised["status"]) == (lost["id"], "unknown")
    assert raised["escalated_at"] is not None
    # Two officers settle it from VNPay's portal: the refund never reached VNPay.
    url = f"/v1/refunds/{lost['id']}/resolution"
    note = {"outcome": "failed", "note": "not on the VNPay merchant portal"}
    assert (await app.http.post(url, json=note, headers=officer)).status_code == 200
    second = {"Authorization": await make_second_officer(app)}
    done = await app.http.post(f"{url}/confirm", headers=second)
    assert done.json()["status"] == "failed", done.text
    book = (await app.http.get(f"{PREFIX[Provider.VNPAY]}/refunds")).json()["refunds"]
    assert book == []  # and indeed VNPay has none

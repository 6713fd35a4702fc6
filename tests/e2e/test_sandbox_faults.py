"""The simulators' fault switches (``payments/sandbox/faults.py``): every fault
on an operation of each simulator, seen through the gateway's own clients; the plan's order,
the call counters, reset, the pages' form, and bad input.

The simulators wait through ``faults.wait``, which these tests replace: a slow answer comes at
once, a hung one is held until the caller's own timeout (one second) fires.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from payments.bootstrap import momo_config
from payments.domain.attempts import Attempt, Provider
from payments.entrypoints.app import create_app
from payments.http.container import Container
from payments.providers.momo.api import CreateAnswer, MomoClient
from payments.providers.outcomes import Rejected, Rejection, Unknown
from payments.providers.refunds import RefundNotFound, RefundSucceeded, RefundUnknown
from payments.reconcile.rules.calendar import DEFAULT_CALENDAR
from payments.reconcile.sources.downloads import DownloadFailed, download
from payments.sandbox.faults import GARBLED, HANG_SECONDS, Fault, Faults
from payments.sandbox.momo import MomoSimulator
from payments.sandbox.treasury import TreasurySimulator
from payments.sandbox.vnpay import VnpaySimulator
from payments.settings import Settings
from tests.support.api import BASE_URL, Portal, api_client
from tests.support.checkout_flows import choose_momo, choose_vnpay, create, path_of, pay_vnpay
from tests.support.sandbox_refunds import Sandbox as RefundSandbox
from tests.support.sandbox_refunds import attempt_after, refund_of
from tests.support.sandbox_reports import NOW, VIETNAM, report

PROVIDERS = pytest.mark.parametrize("name", [Provider.VNPAY, Provider.MOMO])
PREFIX = {Provider.VNPAY: "/sandbox/vnpay", Provider.MOMO: "/sandbox/momo"}
SLOW = 7  # seconds asked of a slow answer


class Waits:
    """The simulators' waits, at the test's word rather than the wall clock's."""

    def __init__(self) -> None:
        self.asked: list[int] = []
        self.hold = False  # True: a wait never ends, so only the caller's timeout ends the call

    async def wait(self, seconds: int) -> None:
        self.asked.append(seconds)
        if self.hold:
            await asyncio.Event().wait()


@dataclass
class Sandbox:
    http: httpx.AsyncClient
    container: Container
    vnpay: VnpaySimulator
    momo: MomoSimulator
    treasury: TreasurySimulator
    waits: Waits

    @property
    def refunds(self) -> RefundSandbox:
        return RefundSandbox(self.http, self.container)

    def faults(self, name: Provider) -> Faults:
        return self.vnpay.faults if name is Provider.VNPAY else self.momo.faults

    async def listing(self, prefix: str) -> dict[str, Any]:
        answer = await self.http.get(f"{prefix}/faults")
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found


@pytest.fixture
async def sandbox(database_url: str) -> AsyncIterator[Sandbox]:
    settings = Settings(
        database_url=database_url,
        base_url=BASE_URL,
        sandbox=True,
        expiry_interval_seconds=0,
        log_level="warning",
    )
    app = create_app(settings)
    waits = Waits()
    async with LifespanManager(app) as manager:
        state = app.state
        for simulator in (state.vnpay_simulator, state.momo_simulator, state.treasury_simulator):
            simulator.faults.wait = waits.wait
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            yield Sandbox(
                http,
                state.container,
                state.vnpay_simulator,
                state.momo_simulator,
                state.treasury_simulator,
                waits,
            )


def plan(faults: Faults, operation: str, fault: Fault, waits: Waits) -> None:
    if fault is Fault.HANG:
        waits.hold = True
        faults.plan(operation, fault)  # the default wait, past every client's timeout
    else:
        faults.plan(operation, fault, seconds=SLOW)


# What the gateway's client makes of each fault, and whether the operation was done.
REFUND_FAULTS: dict[Fault, tuple[object, bool]] = {
    Fault.ERROR: (RefundUnknown("http 500"), False),
    Fault.ACTED_ERROR: (RefundUnknown("http 500"), True),
    Fault.GARBLE: (RefundUnknown("response is not JSON"), False),
    Fault.SLOW: (RefundSucceeded, True),
    Fault.HANG: (RefundUnknown("timeout"), True),
    Fault.LOSE: (RefundUnknown("http 504"), False),
    Fault.WRONG: (Rejection.MISMATCH, True),
}


@PROVIDERS
@pytest.mark.parametrize("fault", list(REFUND_FAULTS))
async def test_each_fault_on_a_refund(
    sandbox: Sandbox, portal: Portal, name: Provider, fault: Fault
) -> None:
    attempt = await attempt_after(sandbox.refunds, portal, name, "success")
    provider, now = sandbox.refunds.provider(name, timeout_seconds=1), datetime.now(UTC)
    plan(sandbox.faults(name), "refund", fault, sandbox.waits)
    request = refund_of(attempt, 30_000)

    outcome = await provider.refund(request, now=now)

    expected, done = REFUND_FAULTS[fault]
    if isinstance(expected, type):
        assert isinstance(outcome, expected), outcome
    elif isinstance(expected, Rejection):
        assert isinstance(outcome, RefundUnknown), outcome
        assert f"({expected.value})" in outcome.reason
    else:
        assert outcome == expected
    assert [r["amount"] for r in await sandbox.refunds.book(name)] == ([30_000] if done else [])
    assert sandbox.faults(name).calls["refund"] == 1
    expected_waits = {Fault.SLOW: [SLOW], Fault.HANG: [HANG_SECONDS]}.get(fault, [])
    assert sandbox.waits.asked == expected_waits
    # The status query (not faulted) tells the truth either way.
    sandbox.waits.hold = False
    status = await provider.refund_status(request, now=now)
    assert isinstance(status, RefundSucceeded if done else RefundNotFound), status


async def paid_and_failed(sb: Sandbox, portal: Portal, name: Provider) -> tuple[Attempt, Attempt]:
    paid = await attempt_after(sb.refunds, portal, name, "success")
    failed = await attempt_after(sb.refunds, portal, name, "failure")
    return paid, failed


@PROVIDERS
async def test_a_wrong_status_answer_about_a_paid_order_is_refused(
    sandbox: Sandbox, portal: Portal, name: Provider
) -> None:
    _, failed = await paid_and_failed(sandbox, portal, name)
    operation = "querydr" if name is Provider.VNPAY else "query"
    sandbox.faults(name).plan(operation, Fault.WRONG, Fault.LOSE)
    provider, now = sandbox.refunds.provider(name), datetime.now(UTC)

    wrong = await provider.query_status(failed, now=now)  # the answer is about the paid one
    assert isinstance(wrong, Rejected), wrong
    assert wrong.reason is Rejection.MISMATCH
    assert await provider.query_status(failed, now=now) == Unknown("http 504")
    truth = await provider.query_status(failed, now=now)
    assert not isinstance(truth, Rejected | Unknown)
    assert truth.result.value == "failed"
    assert sandbox.faults(name).calls[operation] == 3


CREATE_FAULTS: dict[Fault, tuple[object, bool]] = {
    Fault.ERROR: (Unknown("http 500"), False),
    Fault.ACTED_ERROR: (Unknown("http 500"), True),
    Fault.GARBLE: (Unknown("response is not JSON"), False),
    Fault.SLOW: (CreateAnswer, True),
    Fault.HANG: (Unknown("timeout"), True),
    Fault.LOSE: (Unknown("http 504"), False),
    Fault.WRONG: (Rejection.MISMATCH, True),
}


@pytest.mark.parametrize("fault", list(CREATE_FAULTS))
async def test_each_fault_on_a_momo_create(sandbox: Sandbox, fault: Fault) -> None:
    client = MomoClient(
        momo_config(sandbox.container.settings), sandbox.container.http, timeout_seconds=1
    )
    sandbox.momo.orders.clear()
    plan(sandbox.momo.faults, "create", fault, sandbox.waits)
    order_id = f"att_fault_{fault.value}"
    answer = await client.create(
        request_id=order_id,
        order_id=order_id,
        amount=150_000,
        order_info="Le phi",
        redirect_url=f"{BASE_URL}/checkout/return/momo",
        ipn_url=f"{BASE_URL}/callbacks/momo/ipn",
    )
    expected, done = CREATE_FAULTS[fault]
    if expected is CreateAnswer:
        assert isinstance(answer, CreateAnswer), answer
        assert answer.result_code == 0
    elif isinstance(expected, Rejection):
        assert isinstance(answer, Rejected), answer
        assert answer.reason is expected
    else:
        assert answer == expected
    assert (order_id in sandbox.momo.orders) is done
    assert sandbox.momo.faults.calls["create"] == 1


def camt_id(day: date) -> str:
    return f"<Id>KBNN-SBX-{day:%Y%m%d}</Id>"


STATEMENT_FAULTS: dict[Fault, int | bytes | str | None] = {  # failure status, or what came
    Fault.ERROR: 500,
    Fault.ACTED_ERROR: 500,
    Fault.GARBLE: GARBLED,
    Fault.SLOW: "the day asked",
    Fault.HANG: None,  # the download's deadline
    Fault.LOSE: 504,
    Fault.WRONG: "day before",
}


@pytest.mark.parametrize("fault", list(STATEMENT_FAULTS))
async def test_each_fault_on_the_treasury_statement(
    sandbox: Sandbox, tmp_path: Path, fault: Fault
) -> None:
    day = date(2026, 11, 23)  # a Monday: the business day before is the Friday
    plan(sandbox.treasury.faults, "statement", fault, sandbox.waits)
    expected = STATEMENT_FAULTS[fault]

    async def fetch() -> bytes:
        target = tmp_path / "statement.xml"
        await download(
            sandbox.container.http,
            f"{BASE_URL}/sandbox/treasury/statement",
            target,
            params={"date": day.isoformat(), "format": "camt"},
            token=None,
            timeout_seconds=1,
            max_bytes=1 << 20,
            deadline_ms=1000,
        )
        return target.read_bytes()

    if isinstance(expected, int) or expected is None:
        with pytest.raises(DownloadFailed) as failed:
            await fetch()
        assert failed.value.status_code == expected
        assert not (tmp_path / "statement.xml").exists()
    else:
        body = await fetch()
        if isinstance(expected, bytes):
            assert body == expected
        else:
            told = DEFAULT_CALENDAR.add_business_days(day, -1) if fault is Fault.WRONG else day
            assert camt_id(told) in body.decode()
    assert sandbox.treasury.faults.calls == {"statement": 1}
    assert sandbox.waits.asked == {Fault.SLOW: [SLOW], Fault.HANG: [HANG_SECONDS]}.get(fault, [])


async def test_a_wrong_settlement_report_is_the_day_befores(
    database_url: str, portal: Portal
) -> None:
    async with api_client(database_url, sandbox=True, clock=lambda: NOW) as http:
        paid = await create(http, portal)
        pay_url = await choose_vnpay(http, paid)
        await pay_vnpay(http, pay_url, "success")
        txn_ref = dict(httpx.URL(pay_url).params)["vnp_TxnRef"]
        today = NOW.astimezone(VIETNAM).date().isoformat()
        wrong = {"operation": "settlement", "fault": "wrong"}
        queued = await http.post("/sandbox/vnpay/faults", json=wrong)
        assert queued.status_code == 200, queued.text
        assert await report(http, "vnpay", today) == []  # yesterday's: nothing was paid then
        assert await report(http, "vnpay", today) == [(txn_ref, 150_000)]
        counters = (await http.get("/sandbox/vnpay/faults")).json()["calls"]
        assert counters == {"querydr": 0, "refund": 0, "settlement": 2}


async def test_faults_come_in_the_order_planned_then_normal(
    sandbox: Sandbox, portal: Portal
) -> None:
    attempt = await attempt_after(sandbox.refunds, portal, Provider.VNPAY, "success")
    provider, now = sandbox.refunds.provider(Provider.VNPAY), datetime.now(UTC)
    sandbox.vnpay.faults.plan("refund", Fault.LOSE, Fault.ERROR)
    request = refund_of(attempt, 10_000)
    assert await provider.refund(request, now=now) == RefundUnknown("http 504")
    assert await provider.refund(request, now=now) == RefundUnknown("http 500")
    assert isinstance(await provider.refund(request, now=now), RefundSucceeded)
    listing = await sandbox.listing("/sandbox/vnpay")
    assert listing["plan"]["refund"] == []
    assert listing["calls"]["refund"] == 3


async def test_the_endpoints_queue_count_and_reset(sandbox: Sandbox) -> None:
    http = sandbox.http
    first = await http.post("/sandbox/momo/faults", data={"operation": "query", "fault": "lose"})
    assert first.status_code == 200, first.text
    body = {"operation": "query", "fault": "slow", "seconds": 12, "count": 2}
    second = await http.post("/sandbox/momo/faults", json=body)
    assert second.status_code == 200, second.text
    assert second.json()["plan"]["query"] == [
        {"fault": "lose", "seconds": 0},
        {"fault": "slow", "seconds": 12},
        {"fault": "slow", "seconds": 12},
    ]
    assert await sandbox.listing("/sandbox/momo") == second.json()
    client = MomoClient(momo_config(sandbox.container.settings), sandbox.container.http)
    for _ in range(4):
        await client.query(request_id="rq1", order_id="att_none")
    listing = await sandbox.listing("/sandbox/momo")
    assert listing["calls"] == {"create": 0, "query": 4, "refund": 0, "settlement": 0}
    assert listing["plan"]["query"] == []
    assert sandbox.waits.asked == [12, 12]
    sandbox.momo.faults.plan("refund", Fault.ERROR)
    reset = await http.post("/sandbox/momo/faults/reset")
    assert reset.status_code == 200, reset.text
    assert reset.json()["calls"] == {"create": 0, "query": 0, "refund": 0, "settlement": 0}
    assert reset.json()["plan"]["refund"] == []
    # Each simulator has its own switches.
    assert (await sandbox.listing("/sandbox/treasury"))["operations"] == ["statement", "settlement"]


async def test_the_refund_timeout_switch_waits_through_the_injected_wait(
    sandbox: Sandbox, portal: Portal
) -> None:
    attempt = await attempt_after(sandbox.refunds, portal, Provider.MOMO, "success")
    provider = sandbox.refunds.provider(Provider.MOMO, timeout_seconds=1)
    await sandbox.refunds.switch(Provider.MOMO, "timeout", seconds="40")
    sandbox.waits.hold = True
    lost = await provider.refund(refund_of(attempt, 20_000), now=datetime.now(UTC))
    assert lost == RefundUnknown("timeout")
    assert sandbox.waits.asked == [40]
    assert [r["amount"] for r in await sandbox.refunds.book(Provider.MOMO)] == [20_000]


async def pay_page(sb: Sandbox, portal: Portal, name: Provider) -> str:
    payment = await create(sb.http, portal)
    choose = choose_vnpay if name is Provider.VNPAY else choose_momo
    return path_of(await choose(sb.http, payment))


def hidden_back(page: str) -> str:
    found = re.search(r'<input type="hidden" name="back" value="([^"]*)">', page)
    assert found is not None
    return html.unescape(found.group(1))


@PROVIDERS
async def test_the_simulator_page_sets_and_resets_faults(
    sandbox: Sandbox, portal: Portal, name: Provider
) -> None:
    path = await pay_page(sandbox, portal, name)
    page = (await sandbox.http.get(path)).text
    prefix = PREFIX[name]
    assert f'<form method="post" action="{prefix}/faults">' in page
    for operation in sandbox.faults(name).operations:
        assert f'<option value="{operation}">' in page
    for fault in Fault:
        assert f'name="fault" value="{fault.value}"' in page
    back = hidden_back(page)
    assert back == path
    form = {"operation": "refund", "fault": "slow", "seconds": "9", "count": "2", "back": back}
    queued = await sandbox.http.post(f"{prefix}/faults", data=form)
    assert queued.status_code == 303
    assert queued.headers["location"] == path
    assert "slow (9 s), slow (9 s)" in (await sandbox.http.get(path)).text
    assert len((await sandbox.listing(prefix))["plan"]["refund"]) == 2
    # An empty seconds field is the fault's default.
    form = {"operation": "refund", "fault": "hang", "seconds": "", "back": back}
    assert (await sandbox.http.post(f"{prefix}/faults", data=form)).status_code == 303
    assert (await sandbox.listing(prefix))["plan"]["refund"][-1]["seconds"] == HANG_SECONDS
    reset = await sandbox.http.post(f"{prefix}/faults/reset", data={"back": back})
    assert reset.status_code == 303
    assert (await sandbox.listing(prefix))["plan"]["refund"] == []


@pytest.mark.parametrize(
    ("prefix", "form", "field"),
    [
        ("/sandbox/vnpay", {"operation": "refund", "fault": "explode"}, "fault"),
        ("/sandbox/vnpay", {"operation": "capture", "fault": "error"}, "operation"),
        ("/sandbox/momo", {"operation": "create", "fault": "slow", "seconds": "601"}, "seconds"),
        ("/sandbox/momo", {"operation": "query", "fault": "error", "count": "0"}, "count"),
        ("/sandbox/momo", {"operation": "query", "fault": "error", "count": "many"}, "count"),
        ("/sandbox/treasury", {"fault": "error"}, "operation"),
        ("/sandbox/treasury", {"operation": "statement", "fault": "error", "when": "x"}, "when"),
        (
            "/sandbox/vnpay",
            {"operation": "refund", "fault": "error", "back": "//evil.example/x"},
            "back",
        ),
        ("/sandbox/vnpay", {"operation": "refund", "fault": "error", "back": "/checkout/"}, "back"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    sandbox: Sandbox, prefix: str, form: dict[str, str], field: str
) -> None:
    before = await sandbox.listing(prefix)
    answer = await sandbox.http.post(f"{prefix}/faults", data=form)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in {error["field"] for error in answer.json()["errors"]}
    assert await sandbox.listing(prefix) == before


async def test_malformed_json_is_refused(sandbox: Sandbox) -> None:
    answer = await sandbox.http.post(
        "/sandbox/vnpay/faults", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    with pytest.raises(ValueError, match="operation is one of"):
        sandbox.vnpay.faults.plan("capture", Fault.ERROR)
    assert (await sandbox.listing("/sandbox/vnpay"))["plan"] == {
        "querydr": [],
        "refund": [],
        "settlement": [],
    }


async def test_the_switches_exist_only_in_sandbox_mode(database_url: str) -> None:
    async with api_client(database_url) as http:
        for prefix in ("/sandbox/vnpay", "/sandbox/momo", "/sandbox/treasury"):
            assert (await http.get(f"{prefix}/faults")).status_code == 404
            assert (await http.post(f"{prefix}/faults", data={})).status_code in (404, 405)


def test_the_default_waits() -> None:
    faults = Faults(("refund",))
    faults.plan("refund", Fault.SLOW, Fault.HANG, Fault.ERROR)
    assert [p.seconds for p in faults.plans["refund"]] == [5, HANG_SECONDS, 0]

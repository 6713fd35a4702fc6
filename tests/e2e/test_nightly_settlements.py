"""The nightly job closes the three-way loop through the sandbox: payers pay on the VNPay and
MoMo simulators' pages, and that night the worker's `reconcile` job fetches the sandbox
treasury's statement and the simulators' own settlement reports, imports them and reconciles
the day once. A provider report whose endpoint fails leaves the treasury reconciliation done
and is named as missing (logged), and a rerun once it is there fills the provider side."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from payments.entrypoints.app import create_app
from payments.entrypoints.worker import jobs
from payments.entrypoints.worker.jobs import daily_jobs
from payments.http.container import Container
from payments.ledger import chart
from payments.reconcile.sources.treasury import fetch_and_reconcile
from payments.reconcile.usecases.nightly import NightResult, ReportStatus
from payments.reconcile.usecases.reports import list_items
from tests.support.api import BASE_URL, Portal, make_portal
from tests.support.checkout_flows import (
    choose_momo,
    choose_vnpay,
    create,
    pay_momo,
    pay_vnpay,
    status,
)
from tests.support.nightly_sandbox import sandbox_settings
from tests.support.reconcile_days import CAPTURED, DAY, NIGHT, gateway

Sandbox = tuple[httpx.AsyncClient, Container, Portal]


@asynccontextmanager
async def sandbox(database_url: str, **overrides: Any) -> AsyncIterator[Sandbox]:
    # The app's clock stands at 09:00 in Hanoi on a business day, before the cut-off: what
    # the simulators capture belongs to DAY, whose night the job then reconciles.
    app = create_app(sandbox_settings(database_url, **overrides), clock=lambda: CAPTURED)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            container: Container = app.state.container
            yield client, container, await make_portal(container.uow_factory, CAPTURED)


async def pay_on_the_simulators(client: httpx.AsyncClient, portal: Portal) -> tuple[str, str]:
    by_vnpay = await create(client, portal, amount=150_000)
    await pay_vnpay(client, await choose_vnpay(client, by_vnpay), "success")
    by_momo = await create(client, portal, amount=70_000)
    await pay_momo(client, await choose_momo(client, by_momo), "success")
    for payment in (by_vnpay, by_momo):
        assert await status(client, portal, payment["id"]) == "succeeded"
    return by_vnpay["id"], by_momo["id"]


async def outcomes(container: Container, run_id: int) -> dict[str, list[str | None]]:
    found: dict[str, list[str | None]] = {}
    for stored in await list_items(container.uow_factory, run_id, limit=500):
        found.setdefault(stored.item.outcome.value, []).append(stored.item.payment_id)
    return {outcome: sorted(ids, key=str) for outcome, ids in found.items()}


class Log:
    """Stands in for the jobs module's logger: what the night logged, by event."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.events.append(("info", event, fields))

    def warning(self, event: str, **fields: Any) -> None:
        self.events.append(("warning", event, fields))

    def of(self, event: str) -> list[tuple[str, dict[str, Any]]]:
        return [(level, fields) for level, name, fields in self.events if name == event]


async def test_the_nightly_job_matches_the_providers_reports(database_url: str) -> None:
    async with sandbox(database_url) as (client, container, portal):
        by_vnpay, by_momo = await pay_on_the_simulators(client, portal)
        # A VNPay capture the simulator never saw (recorded straight through the services):
        # its report cannot list it, so the three-way check is live and names exactly that.
        unseen = (await (await gateway(container.uow_factory)).paid(90_000)).id
        [job] = daily_jobs(container)
        night = await job.run(DAY, NIGHT)
        again = await job.run(DAY, NIGHT)  # a second attempt of the same night
        assert isinstance(night, NightResult)
        items = await outcomes(container, night.day.run.id)
        async with container.uow_factory() as tx:
            books = {row.account.code: row.net for row in await tx.ledger.totals(as_of=None)}

    assert {r.provider: (r.status, r.lines) for r in night.reports} == {
        "vnpay": (ReportStatus.IMPORTED, 1),
        "momo": (ReportStatus.IMPORTED, 1),
    }
    assert night.missing_reports == []
    assert items == {
        "matched": sorted([by_vnpay, by_momo, unseen]),
        "provider_missing": [unseen],
    }
    assert len(night.day.run.statements) == 3  # the treasury's, VNPay's and MoMo's
    assert isinstance(again, NightResult)
    assert {r.status for r in again.reports} == {ReportStatus.ALREADY_IMPORTED}
    assert again.day.run.totals == night.day.run.totals
    assert again.day.run.posted_payments == 0
    # The two the providers reported are settled and remitted; the unseen one's remittance
    # waits for VNPay's word, and its money is still owed by VNPay (clearing).
    run = night.day.run
    assert (run.settled_payments, run.posted_payments, run.awaiting_settlement) == (2, 2, 1)
    assert (again.day.run.settled_payments, again.day.run.awaiting_settlement) == (0, 1)
    assert books[chart.provider_clearing("vnpay").code] == 90_000
    assert books[chart.provider_clearing("momo").code] == 0
    assert books[chart.collection_bank().code] == 0


async def test_a_failing_report_leaves_the_treasury_run_done_and_is_named(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = Log()
    monkeypatch.setattr(jobs, "log", log)
    gone = f"{BASE_URL}/sandbox/momo/no-such-report"  # answers 404
    async with sandbox(database_url, momo_settlement_url=gone) as (client, container, portal):
        by_vnpay, by_momo = await pay_on_the_simulators(client, portal)
        [job] = daily_jobs(container)
        night = await job.run(DAY, NIGHT)  # completes: the schedule does not retry the day
        assert isinstance(night, NightResult)
        # The report is there later (its URL fixed): a rerun of the day fills MoMo's side.
        fixed = sandbox_settings(database_url)
        later = await fetch_and_reconcile(
            container.uow_factory, container.http, fixed, DAY, now=NIGHT
        )
        night_items = await outcomes(container, night.day.run.id)
        later_items = await outcomes(container, later.day.run.id)

    assert night.missing_reports == ["momo"]
    vnpay_report, momo_report = night.reports
    assert vnpay_report.status is ReportStatus.IMPORTED
    assert momo_report.reason == "the momo settlement endpoint answered 404"
    # The treasury side is reconciled; VNPay's payment is settled and remitted, MoMo's waits.
    assert (night.day.run.posted_payments, night.day.run.awaiting_settlement) == (1, 1)
    # and MoMo's payment is not provider_missing: no report, no provider-side item
    assert night_items == {"matched": sorted([by_vnpay, by_momo])}
    assert log.of("settlement_report_missing") == [
        (
            "warning",
            {
                "business_date": DAY.isoformat(),
                "provider": "momo",
                "reason": "the momo settlement endpoint answered 404",
            },
        )
    ]
    [(_, reconciled)] = log.of("reconciled")
    assert reconciled["missing_reports"] == ["momo"]
    assert reconciled["settlement_reports"] == {"vnpay": "imported", "momo": "failed"}

    assert {r.provider: r.status for r in later.reports} == {
        "vnpay": ReportStatus.ALREADY_IMPORTED,
        "momo": ReportStatus.IMPORTED,
    }
    assert len(later.day.run.statements) == 3
    assert later_items == {"matched": sorted([by_vnpay, by_momo])}
    assert (later.day.run.settled_payments, later.day.run.posted_payments) == (1, 1)


async def test_a_momo_capture_whose_ipn_was_lost_is_tied_asked_and_recorded(
    database_url: str,
) -> None:
    # The payer paid at MoMo but its IPN never came (the simulator's drop switch): the
    # gateway still has the attempt pending when MoMo's report lists the capture. The night
    # ties MoMo's line to the payment and asks MoMo, as it does for a treasury credit; MoMo
    # confirms, the success is recorded (not a late one: the payment had not expired), and a
    # rerun of the night finds MoMo's line in agreement.
    async with sandbox(database_url) as (client, container, portal):
        by_vnpay = await create(client, portal, amount=150_000)
        await pay_vnpay(client, await choose_vnpay(client, by_vnpay), "success")
        by_momo = await create(client, portal, amount=70_000)
        pay_url = await choose_momo(client, by_momo)
        await pay_momo(client, pay_url, "success", drop_ipn="1")
        assert await status(client, portal, by_momo["id"]) == "pending"
        [job] = daily_jobs(container)
        night = await job.run(DAY, NIGHT)
        assert isinstance(night, NightResult)
        stored = await list_items(container.uow_factory, night.day.run.id, limit=500)
        after = await status(client, portal, by_momo["id"])
        payment = await client.get(f"/v1/payments/{by_momo['id']}", headers=portal.auth())
        again = await job.run(DAY, NIGHT)
        assert isinstance(again, NightResult)
        again_items = await outcomes(container, again.day.run.id)

    assert night.day.confirmed == (by_momo["id"],)
    [unknown] = [i.item for i in stored if i.item.outcome.value == "provider_unknown"]
    assert (unknown.payment_id, unknown.provider) == (by_momo["id"], "momo")
    assert f"momo confirmed payment {by_momo['id']}: recorded as a success" in unknown.note
    assert after == "succeeded"
    assert payment.json()["flags"]["late"] is False
    # The rerun: VNPay's payment matched as before, MoMo's agrees with its report now (its
    # success came after the cut-off, so the treasury owes it the next day).
    assert again_items == {"matched": [by_vnpay["id"]]}

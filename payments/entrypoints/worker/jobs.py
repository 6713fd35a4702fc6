"""Which jobs a worker runs. To add one, append a line to ``periodic_jobs`` or
``daily_jobs``; every ``payments worker`` (and the demo's in-process worker) picks it up."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import structlog

from payments.adapters.ledger_anchors import AnchorDelivery, publish_anchor
from payments.adapters.metrics import count_deliveries, timed_reconciliation
from payments.collection.usecases.payments import expire_due_payments, purge_idempotency_records
from payments.collection.usecases.requery import requery_due_attempts
from payments.domain.attempts import Attempt, ProviderOutcome
from payments.domain.schedule import parse_local_time
from payments.entrypoints.worker.runtime import PeriodicJob, Worker
from payments.http.container import Container
from payments.ledger.anchors import Anchor, utc_text
from payments.ledger.sealing import SealRun, current_anchor, seal_backlog
from payments.notifications.delivery import HttpWebhookSender
from payments.notifications.usecases import DeliveryPolicy, deliver_due_notifications
from payments.providers.interface import ProviderRegistry
from payments.providers.outcomes import Rejected
from payments.reconcile.sources.treasury import fetch_and_reconcile
from payments.reconcile.usecases.nightly import NightResult, ReportStatus
from payments.refunds.usecases.execution import process_due_refunds
from payments.services.ports import StatusQuery
from payments.services.rate_limits import purge_rate_limit_windows
from payments.services.schedule import DailyJob, DailyPolicy

log = structlog.get_logger()
# A report the night did without: its log line and level (a failed one is to be looked at).
UNFETCHED = {
    ReportStatus.SKIPPED: ("settlement_report_skipped", "info"),
    ReportStatus.FAILED: ("settlement_report_missing", "warning"),
}
# A sealing round: at most this many transactions of PAYMENTS_SEAL_BATCH entries, so a long
# backlog (sealing was off) is worked off round by round, never in one endless round.
SEAL_BATCHES_PER_ROUND = 20


@dataclass(frozen=True)
class NightAnchor:
    """The chain's head as the night wrote it down, and where it went."""

    anchor: Anchor
    deliveries: tuple[AnchorDelivery, ...] = ()

    @property
    def failed(self) -> list[str]:
        return [d.target for d in self.deliveries if not d.ok]


async def anchor_ledger(container: Container, day: date) -> NightAnchor | None:
    """Seal what is left, then write the chain's head where the database cannot reach it
    (``PAYMENTS_LEDGER_ANCHOR_FILE``, ``PAYMENTS_LEDGER_ANCHOR_URL``) and in the log.

    Never raises: a failure is logged (``ledger_anchor_failed``) and reported in the result
    (None when not even the head could be read), and the night goes on.
    """
    settings, business_date = container.settings, day.isoformat()
    try:
        sealed = await seal_backlog(
            container.uow_factory, clock=container.clock, batch=settings.seal_batch
        )
        if sealed.refused is not None:
            log.error("ledger_seal_refused", problem=str(sealed.refused))
        anchor = await current_anchor(container.uow_factory, now=container.clock())
        deliveries = await publish_anchor(
            anchor,
            file=settings.ledger_anchor_file,
            url=settings.ledger_anchor_url,
            http=container.http,
            token=settings.ledger_anchor_token,
        )
    except Exception:  # the head stays unwritten tonight; the reconciliation is not undone
        log.exception("ledger_anchor_failed", business_date=business_date, target="database")
        return None
    night = NightAnchor(anchor, tuple(deliveries))
    for delivery in night.deliveries:
        if not delivery.ok:
            log.warning(
                "ledger_anchor_failed",
                business_date=business_date,
                anchor=str(anchor),
                target=delivery.target,
                error=delivery.error,
            )
    log.info(
        "ledger_anchored",
        business_date=business_date,
        anchor=str(anchor),
        anchored_at=utc_text(anchor.anchored_at or container.clock()),
        written_to=[d.target for d in night.deliveries if d.ok],
        failed=night.failed,
    )
    return night


def worker_id() -> str:
    """Host, process and a random part: unique even when a pid is reused after a crash."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def status_query(registry: ProviderRegistry) -> StatusQuery:
    """The providers' status queries as the requery service sees them: an outcome, or None."""

    async def query(attempt: Attempt, now: datetime) -> ProviderOutcome | None:
        provider = registry.get(attempt.provider)
        if provider is None:
            return None
        answer = await provider.query_status(attempt, now=now)
        if isinstance(answer, ProviderOutcome):
            return answer
        reason = answer.reason.value if isinstance(answer, Rejected) else answer.reason
        log.info("requery_unknown", provider=attempt.provider.value, reason=reason)
        return None

    return query


def periodic_jobs(container: Container, worker: str) -> list[PeriodicJob]:
    settings = container.settings
    uow, clock = container.uow_factory, container.clock
    sender = HttpWebhookSender(container.http, timeout_seconds=settings.notify_timeout_seconds)
    delivery = DeliveryPolicy(
        worker=worker,
        lease=timedelta(seconds=settings.worker_lease_seconds),
        live=not settings.sandbox,
    )

    async def notifications() -> None:
        report = await deliver_due_notifications(uow, sender, delivery, clock=clock)
        count_deliveries(delivered=report.delivered, failed=report.failed, lost=report.lost)
        if report.claimed:
            log.info("notifications_sent", **report.__dict__)

    async def requery_and_expire() -> None:
        # Ask providers first: a payment about to expire may have been paid.
        asked = await requery_due_attempts(uow, status_query(container.providers), now=clock())
        if asked.asked:
            log.info("attempts_requeried", asked=asked.asked, unknown=asked.unknown)
        expired = await expire_due_payments(uow, now=clock())
        if expired:
            log.info("payments_expired", count=expired)

    async def purge_idempotency() -> None:
        purged = await purge_idempotency_records(uow, now=clock())
        if purged:
            log.info("idempotency_keys_purged", count=purged)
        windows = await purge_rate_limit_windows(uow, now=clock())
        if windows:
            log.info("rate_limit_windows_purged", count=windows)

    async def refunds() -> None:
        run = await process_due_refunds(uow, container.providers, now=clock())
        if run.sent or run.checked:
            log.info("refunds_processed", **run.__dict__)

    async def seal() -> SealRun:
        # One sealer at a time across every process (the chain lock); another waits its turn
        # for each batch and then finds what is left.
        run = await seal_backlog(
            uow, clock=clock, batch=settings.seal_batch, max_batches=SEAL_BATCHES_PER_ROUND
        )
        if run.refused is not None:
            log.error("ledger_seal_refused", problem=str(run.refused), sealed=run.sealed)
        elif run.sealed:
            log.info(
                "ledger_sealed",
                sealed=run.sealed,
                batches=run.batches,
                head=str(run.anchor),
                more=run.more,
            )
        return run

    poll = timedelta(milliseconds=settings.worker_poll_ms)
    jobs = [
        PeriodicJob("notifications", poll, notifications),
        PeriodicJob("refunds", poll, refunds),
    ]
    if settings.seal_interval_seconds > 0:
        jobs.append(
            PeriodicJob("ledger-seal", timedelta(seconds=settings.seal_interval_seconds), seal)
        )
    if settings.expiry_interval_seconds > 0:
        every = timedelta(seconds=settings.expiry_interval_seconds)
        jobs.append(PeriodicJob("requery-and-expiry", every, requery_and_expire))
        jobs.append(PeriodicJob("idempotency-purge", every, purge_idempotency))
    return jobs


def daily_jobs(container: Container) -> list[DailyJob]:
    """Run once per Vietnam business day at ``PAYMENTS_NIGHTLY_AT`` for the day before.

    The nightly reconciliation runs when ``PAYMENTS_TREASURY_STATEMENT_URL`` is set (point it
    at ``<base>/sandbox/treasury/statement`` to reconcile against the sandbox treasury): a
    worker with no treasury to ask would only record a failed run every night. It also
    fetches each provider's settlement report (``PAYMENTS_VNPAY_SETTLEMENT_URL``,
    ``PAYMENTS_MOMO_SETTLEMENT_URL``) for the three-way check.

    After the day's run (whatever became of it), the night seals what is left of the journal
    and writes the chain's head down outside the database (``anchor_ledger``); without a
    reconciliation, a ``ledger-anchor`` job does that alone when an anchor file or URL is set.
    """
    settings = container.settings
    if not settings.treasury_statement_url:
        if not (settings.ledger_anchor_file or settings.ledger_anchor_url):
            return []

        async def anchor_only(day: date, now: datetime) -> NightAnchor | None:
            return await anchor_ledger(container, day)

        return [DailyJob("ledger-anchor", anchor_only)]

    async def reconcile(day: date, now: datetime) -> NightResult:
        # Safe twice for one day: the same statement imports nothing new, a rerun reproduces
        # the report and posts nothing (payments/reconcile/usecases/day.py).
        # A missing treasury statement raises, so the schedule retries the day (3 runs at
        # most). A missing provider report does not: the treasury side is reconciled
        # without it, and retrying a few minutes later would rarely find a report that was
        # not there at night; the log names it, and `payments reconcile --date D --fetch`
        # once it is there fills the provider side.
        try:
            with timed_reconciliation():
                night = await fetch_and_reconcile(
                    container.uow_factory,
                    container.http,
                    settings,
                    day,
                    now=now,
                    status_query=status_query(container.providers),
                    clock=container.clock,  # stamps each import when it completes
                )
        except Exception:  # a failed night is anchored too: the head leaves the database
            await anchor_ledger(container, day)
            raise
        anchored = await anchor_ledger(container, day)
        for report in night.reports:
            if report.status in UNFETCHED:
                event, level = UNFETCHED[report.status]
                getattr(log, level)(
                    event,
                    business_date=day.isoformat(),
                    provider=report.provider,
                    reason=report.reason,
                )
        result = night.day
        log.info(
            "reconciled",
            business_date=day.isoformat(),
            run=result.run.id,
            items=result.run.item_count,
            posted=result.run.posted_payments,
            confirmed=len(result.confirmed),
            settlement_reports={r.provider: r.status.value for r in night.reports},
            missing_reports=night.missing_reports,
            ledger_head=str(anchored.anchor) if anchored else None,
            anchor_failed=anchored.failed if anchored else ["database"],
        )
        return night

    return [DailyJob("reconcile", reconcile)]


def build_worker(
    container: Container,
    *,
    worker: str | None = None,
    extra_periodic: list[PeriodicJob] | None = None,
    extra_daily: list[DailyJob] | None = None,
) -> Worker:
    """The standard jobs plus any extra ones (tests register their own daily job here)."""
    settings = container.settings
    name = worker or worker_id()
    return Worker(
        [*periodic_jobs(container, name), *(extra_periodic or [])],
        [*daily_jobs(container), *(extra_daily or [])],
        uow_factory=container.uow_factory,
        daily_policy=DailyPolicy(
            worker=name,
            at=parse_local_time(settings.nightly_at),
            lease=timedelta(seconds=settings.worker_lease_seconds),
        ),
        clock=container.clock,
        daily_check_every=timedelta(milliseconds=min(settings.worker_poll_ms * 10, 30_000)),
    )

"""Every metric the gateway exports (Prometheus), defined here and nowhere else.

Two kinds (docs/operations/metrics.md lists each with its labels):

- process metrics, counted where things happen: requests by route, provider callbacks,
  outbound calls, notification deliveries, failed worker rounds, reconciliation runs. With
  ``PROMETHEUS_MULTIPROC_DIR`` set (before the process starts), every process on a host writes
  them to that directory and one scrape of any of them sums them all (prometheus-client's
  multiprocess mode); without it each process answers for itself.
- database gauges (``DatabaseGauges``), read at scrape time with a few cheap queries
  (``payments/metrics_queries.py``): payments by status and provider, the outbox,
  the requery and refund queues, unsealed ledger entries, open reconciliation exceptions.
  They describe the shared database, so every process gives the same values.

Labels take values from closed sets only (route templates, enums, a few outcomes), so the
number of series stays bounded whatever the traffic: an unknown method is ``other``, a path
no route matches is ``unmatched``.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from payments.domain.attempts import Provider, Verdict
from payments.domain.payments import PaymentStatus

# Text format 0.0.4: what every Prometheus version reads.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

METRICS = CollectorRegistry()
# CPU, memory and file descriptors of this process (single-process mode only: the
# multiprocess collector cannot sum them).
ProcessCollector(registry=METRICS)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
NO_PROVIDER = "none"
# A failed callback: it could not be stored or applied (the provider retries).
CALLBACK_ERROR = "error"
CALLBACK_VERDICTS = frozenset({*(v.value for v in Verdict), CALLBACK_ERROR})
OTHER_TARGET = "other"
OUTBOUND_TARGETS = frozenset({*(p.value for p in Provider), "treasury", "ledger_anchor"})
OUTBOUND_OUTCOMES = frozenset(
    {"1xx", "2xx", "3xx", "4xx", "5xx", "timeout", "network_error", "error"}
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
RUN_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0)

HTTP_REQUEST_SECONDS = Histogram(
    "payments_http_request_duration_seconds",
    "Time to answer a request, by route template",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
    registry=METRICS,
)
HTTP_REQUESTS = Counter(
    "payments_http_requests",
    "Requests answered, by route template and status code",
    ["method", "route", "status"],
    registry=METRICS,
)
CALLBACKS = Counter(
    "payments_callbacks",
    "Provider callbacks (IPN, bank credits) received, by what became of them",
    ["provider", "verdict"],
    registry=METRICS,
)
OUTBOUND_SECONDS = Histogram(
    "payments_outbound_request_duration_seconds",
    "Time of one outbound HTTP call (to headers), by who was called",
    ["target"],
    buckets=LATENCY_BUCKETS,
    registry=METRICS,
)
OUTBOUND_REQUESTS = Counter(
    "payments_outbound_requests",
    "Outbound HTTP calls, by who was called and how they ended",
    ["target", "outcome"],
    registry=METRICS,
)
NOTIFICATION_DELIVERIES = Counter(
    "payments_notification_deliveries",
    "Notification delivery attempts by the worker, by outcome",
    ["outcome"],
    registry=METRICS,
)
WORKER_JOB_FAILURES = Counter(
    "payments_worker_job_failures",
    "Worker rounds that raised (the job runs again at its next interval)",
    ["worker_job"],  # not "job": Prometheus gives every target a job label of its own
    registry=METRICS,
)
RECONCILIATION_SECONDS = Histogram(
    "payments_reconciliation_run_duration_seconds",
    "Duration of a nightly reconciliation run in the worker (fetch, match, book)",
    ["result"],
    buckets=RUN_BUCKETS,
    registry=METRICS,
)


# --- counting --------------------------------------------------------------------------------


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    method = method if method in METHODS else "other"
    HTTP_REQUEST_SECONDS.labels(method, route).observe(seconds)
    HTTP_REQUESTS.labels(method, route, str(status)).inc()


def count_callback(provider: str, verdict: str) -> None:
    provider = provider if provider in {p.value for p in Provider} else OTHER_TARGET
    CALLBACKS.labels(provider, verdict if verdict in CALLBACK_VERDICTS else CALLBACK_ERROR).inc()


def observe_outbound(target: str, outcome: str, seconds: float) -> None:
    target = target if target in OUTBOUND_TARGETS else OTHER_TARGET
    OUTBOUND_SECONDS.labels(target).observe(seconds)
    OUTBOUND_REQUESTS.labels(target, outcome if outcome in OUTBOUND_OUTCOMES else "error").inc()


def status_class(status_code: int) -> str:
    return f"{status_code // 100}xx" if 100 <= status_code <= 599 else "error"


def count_deliveries(*, delivered: int, failed: int, lost: int) -> None:
    for outcome, count in (("delivered", delivered), ("failed", failed), ("lost", lost)):
        if count:
            NOTIFICATION_DELIVERIES.labels(outcome).inc(count)


def count_job_failure(job: str) -> None:
    WORKER_JOB_FAILURES.labels(job).inc()


@contextlib.contextmanager
def timed_reconciliation() -> Iterator[None]:
    """Time the block as one reconciliation run: ``ok``, or ``failed`` when it raises."""
    started = time.perf_counter()
    try:
        yield
    except BaseException:
        RECONCILIATION_SECONDS.labels("failed").observe(time.perf_counter() - started)
        raise
    RECONCILIATION_SECONDS.labels("ok").observe(time.perf_counter() - started)


@dataclass(frozen=True)
class OutboundTargets:
    """Who an outbound URL belongs to, by the configured URLs' prefixes (longest first):
    provider APIs and reports, the treasury statement, the ledger anchor. Anything else (the
    portals' notify URLs) is ``other``: hosts are never labels."""

    prefixes: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, urls: Iterable[tuple[str, str]]) -> OutboundTargets:
        """``(target, url)`` pairs; empty URLs (a report switched off) are left out."""
        found = {url.split("?", 1)[0].rstrip("/"): target for target, url in urls if url}
        return cls(tuple(sorted(found.items(), key=lambda item: -len(item[0]))))

    def target(self, url: str) -> str:
        bare = url.split("?", 1)[0]
        for prefix, target in self.prefixes:
            if bare == prefix or (bare.startswith(prefix) and bare[len(prefix)] in "/#"):
                return target
        return OTHER_TARGET


# --- the database gauges ---------------------------------------------------------------------


@dataclass(frozen=True)
class DatabaseGauges:
    """What the database says at scrape time (``metrics_queries.database_gauges``, which
    also gives every open refund status and exception outcome, zero when none is there: this
    module knows the statuses of payments and the providers, not those of other capabilities).
    """

    # (status, provider) -> payments created in the window; provider of the attempt that
    # took the money, else of the newest attempt, else ``none``.
    recent_payments: Mapping[tuple[str, str], int] = field(default_factory=dict)
    payments_window_seconds: int = 3600
    outbox_pending: int = 0
    outbox_due: int = 0
    outbox_oldest_pending_age_seconds: int = 0  # whole seconds
    requery_scheduled: Mapping[str, int] = field(default_factory=dict)  # provider -> attempts
    requery_due: Mapping[str, int] = field(default_factory=dict)
    attempts_left_for_review: Mapping[str, int] = field(default_factory=dict)
    refunds_open: Mapping[tuple[str, str], int] = field(default_factory=dict)  # provider, status
    ledger_unsealed_entries: int = 0
    reconciliation_open_exceptions: Mapping[str, int] = field(default_factory=dict)  # outcome
    reconciliation_last_run_at: datetime | None = None


def _gauge(name: str, doc: str, labels: Sequence[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


def database_families(gauges: DatabaseGauges | None) -> list[GaugeMetricFamily]:
    """The database gauges as metric families; ``None`` (the database did not answer) gives
    ``payments_database_up 0`` alone. Every known label combination is present, zero when
    the database has none, so a rate or an alert never sees a series vanish."""
    up = _gauge("payments_database_up", "1 when the database answered this scrape's queries")
    up.add_metric([], 0 if gauges is None else 1)
    if gauges is None:
        return [up]
    providers = [p.value for p in Provider]

    recent = _gauge(
        "payments_recent_payments",
        f"Payments created in the last {gauges.payments_window_seconds} s (setting "
        "PAYMENTS_METRICS_PAYMENTS_WINDOW_MINUTES), by status and provider",
        ["status", "provider"],
    )
    for status in PaymentStatus:
        for provider in [*providers, NO_PROVIDER]:
            count = gauges.recent_payments.get((status.value, provider), 0)
            recent.add_metric([status.value, provider], count)
    pending = _gauge(
        "payments_outbox_pending", "Notifications not delivered yet (retries included)"
    )
    pending.add_metric([], gauges.outbox_pending)
    due = _gauge("payments_outbox_due", "Pending notifications whose next attempt is due now")
    due.add_metric([], gauges.outbox_due)
    age = _gauge(
        "payments_outbox_oldest_pending_age_seconds",
        "Age of the oldest notification not delivered yet (0: none waiting)",
    )
    age.add_metric([], gauges.outbox_oldest_pending_age_seconds)

    scheduled = _gauge(
        "payments_requery_scheduled",
        "Open attempts with a status query scheduled, by provider",
        ["provider"],
    )
    requery_due = _gauge(
        "payments_requery_due", "Attempts whose status query is due now, by provider", ["provider"]
    )
    review = _gauge(
        "payments_attempts_left_for_review",
        "Open attempts past the end of their query ladder, left for people, by provider",
        ["provider"],
    )
    for provider in providers:
        scheduled.add_metric([provider], gauges.requery_scheduled.get(provider, 0))
        requery_due.add_metric([provider], gauges.requery_due.get(provider, 0))
        review.add_metric([provider], gauges.attempts_left_for_review.get(provider, 0))

    refunds = _gauge(
        "payments_refunds_open",
        "Refunds not finished (awaiting approval, queued, at the provider), by provider and status",
        ["provider", "status"],
    )
    for (provider, refund_status), count in sorted(gauges.refunds_open.items()):
        refunds.add_metric([provider, refund_status], count)
    unsealed = _gauge(
        "payments_ledger_unsealed_entries",
        "Ledger entries posted and not sealed into the hash chain yet",
    )
    unsealed.add_metric([], gauges.ledger_unsealed_entries)

    exceptions = _gauge(
        "payments_reconciliation_open_exceptions",
        "Open exceptions in the newest run of each business day, by outcome",
        ["outcome"],
    )
    for outcome, count in sorted(gauges.reconciliation_open_exceptions.items()):
        exceptions.add_metric([outcome], count)
    families = [up, recent, pending, due, age, scheduled, requery_due, review, refunds]
    families += [unsealed, exceptions]
    if gauges.reconciliation_last_run_at is not None:
        last = _gauge(
            "payments_reconciliation_last_run_timestamp_seconds",
            "When the newest reconciliation run was recorded (Unix time)",
        )
        last.add_metric([], gauges.reconciliation_last_run_at.timestamp())
        families.append(last)
    return families


class _Families(Collector):
    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self._families = families

    def collect(self) -> Iterable[GaugeMetricFamily]:
        return self._families


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def exposition(gauges: DatabaseGauges | None, *, multiprocess: str | None = None) -> bytes:
    """The text a scrape gets: this process's metrics (or, in multiprocess mode, those of
    every process writing to ``multiprocess``) and the database gauges."""
    if multiprocess:
        processes = CollectorRegistry()
        # prometheus-client leaves this constructor unannotated.
        MultiProcessCollector(processes, path=multiprocess)  # type: ignore[no-untyped-call]
    else:
        processes = METRICS
    database = CollectorRegistry()
    database.register(_Families(database_families(gauges)))
    return generate_latest(processes) + generate_latest(database)

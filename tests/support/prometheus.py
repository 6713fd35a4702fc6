"""Reading what /metrics answers: the samples of a Prometheus text exposition, and the series
names the gateway exports (for the dashboard and alert rules in docs/operations/)."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from payments.adapters.metrics import METRICS, DatabaseGauges, database_families

Series = tuple[str, frozenset[tuple[str, str]]]


def samples(text: str) -> dict[Series, float]:
    """(sample name, labels) -> value, for every sample of the exposition."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def series(name: str, **labels: str) -> Series:
    return name, frozenset(labels.items())


def exported_names() -> frozenset[str]:
    """Every sample name the app can export: its process metrics (labelled ones included
    before they have a sample) and every database gauge."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    families = [*METRICS.collect()]
    every_gauge = DatabaseGauges(reconciliation_last_run_at=datetime(2025, 1, 1, tzinfo=UTC))
    families += database_families(every_gauge)
    return frozenset(
        family.name + suffix for family in families for suffix in suffixes[family.type]
    )

"""The Grafana dashboard and the Prometheus alert rules in docs/operations/ use exactly the
metric names the app exports, and docs/operations/metrics.md describes each of them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from payments.adapters.metrics import METRICS, DatabaseGauges, database_families
from tests.support.prometheus import exported_names

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations"
KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"offset", "bool", "inf", "nan"}
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NAME = re.compile(r"(?<![\w$.:])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers left once strings, label
    matchers, ranges and grouping clauses are gone, less functions, aggregations (followed
    by a parenthesis) and keywords. Grafana's variables ($__rate_interval) are never names."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    return {
        found.group(1)
        for found in _NAME.finditer(text)
        if not found.group(2) and found.group(1).lower() not in KEYWORDS
    }


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text(encoding="utf-8"))

    def walk(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["expr"]] if isinstance(node.get("expr"), str) else []
            return found + [e for value in node.values() for e in walk(value)]
        if isinstance(node, list):
            return [e for value in node for e in walk(value)]
        return []

    return walk(dashboard)


def alert_expressions() -> list[str]:
    rules = yaml.safe_load((DOCS / "alerts.yml").read_text(encoding="utf-8"))
    return [str(rule["expr"]) for group in rules["groups"] for rule in group["rules"]]


def test_the_name_reader_reads_promql() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, route) (rate(a_bucket{route!="/x", s=~"5.."}'
        "[$__rate_interval]))) / ignoring (route) b_total offset 5m > 1e3 and on (p) c"
        ' unless time() - max without (instance) (d:rule) > 6 * 3600 or label_replace(e, "x",'
        ' "$1", "y", "(.*)")'
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c", "d:rule", "e"}


def test_every_metric_in_the_dashboard_and_the_alerts_is_exported() -> None:
    exported = exported_names()
    for source, expressions in (
        ("grafana-dashboard.json", dashboard_expressions()),
        ("alerts.yml", alert_expressions()),
    ):
        used = {name for expr in expressions for name in metric_names(expr)}
        assert len(used) >= 15, source  # the reader found the expressions at all
        assert sorted(used - exported) == [], source


def test_the_dashboard_shows_every_family_and_the_alerts_watch_the_queues() -> None:
    used = {name for expr in dashboard_expressions() for name in metric_names(expr)}
    families = [f.name for f in METRICS.collect() if f.name.startswith("payments_")]
    every_gauge = DatabaseGauges(reconciliation_last_run_at=datetime(2025, 1, 1, tzinfo=UTC))
    families += [f.name for f in database_families(every_gauge)]
    missing = [f for f in families if not any(name.startswith(f) for name in used)]
    assert missing == []
    watched = {name for expr in alert_expressions() for name in metric_names(expr)}
    assert {
        "payments_database_up",
        "payments_outbox_due",
        "payments_requery_due",
        "payments_refunds_open",
        "payments_ledger_unsealed_entries",
        "payments_reconciliation_open_exceptions",
        "payments_reconciliation_last_run_timestamp_seconds",
        "payments_outbound_requests_total",
        "payments_callbacks_total",
    } <= watched


def test_metrics_md_describes_every_exported_family() -> None:
    text = (DOCS / "metrics.md").read_text(encoding="utf-8")
    exported = sorted(n for n in exported_names() if n.startswith("payments_"))
    undocumented = [
        name
        for name in exported
        if f"`{name}`" not in text
        and not any(f"`{name.removesuffix(s)}`" in text for s in ("_bucket", "_sum", "_count"))
    ]
    assert undocumented == []

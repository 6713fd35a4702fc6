"""Runs, breakdowns, items and their history as /v1/reconciliation answers them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from payments.domain.resources import iso
from payments.reconcile.ports import (
    Breakdown,
    HistoryEntry,
    ItemValue,
    RunRecord,
    StoredItem,
    item_fields,
)


def run_json(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.id,
        "business_date": run.business_date.isoformat(),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "actor": run.actor,
        "statements": list(run.statements),
        "config": run.config,
        "totals": {k: v.__dict__ for k, v in run.totals.items()},
        "item_count": run.item_count,
        "matched_gateway_total": run.matched_gateway_total,
        "matched_treasury_total": run.matched_treasury_total,
        "posted_payments": run.posted_payments,
        "posted_entries": run.posted_entries,
        "settled_payments": run.settled_payments,
        "awaiting_settlement": run.awaiting_settlement,
    }


def breakdown_json(rows: list[Breakdown]) -> list[dict[str, Any]]:
    return [
        {
            "key": b.key,
            "outcome": b.outcome.value,
            "count": b.count,
            "gateway_amount": b.gateway_amount,
            "treasury_amount": b.treasury_amount,
        }
        for b in rows
    ]


def item_json(stored: StoredItem) -> dict[str, Any]:
    return {name: _json_value(value) for name, value in item_fields(stored).items()}


def _json_value(value: ItemValue) -> str | int | None:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def history_json(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "run_id": entry.run_id,
        "action": entry.action,
        "actor": entry.actor,
        "note": entry.note,
        "occurred_at": iso(entry.occurred_at),
    }

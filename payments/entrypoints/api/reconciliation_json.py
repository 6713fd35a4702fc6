"""Runs, breakdowns, items and their history as /v1/reconciliation answers them."""

from __future__ import annotations

from typing import Any

from payments.domain.resources import iso
from payments.reconcile.ports import (
    Breakdown,
    HistoryEntry,
    RunRecord,
    StoredItem,
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
    i = stored.item
    return {
        "id": stored.id,
        "run_id": stored.run_id,
        "item_key": stored.item_key,
        "outcome": i.outcome.value,
        "state": stored.state.value,
        "payment_id": i.payment_id,
        "refund_id": i.refund_id,
        "line_number": i.line_number,
        "currency": i.currency,
        "gateway_amount": i.gateway_amount,
        "treasury_amount": i.treasury_amount,
        "reference": i.reference,
        "batch_reference": i.batch_reference,
        "agency": i.agency,
        "treasury_code": i.treasury_code,
        "chapter": i.chapter,
        "sub_item": i.sub_item,
        "provider": i.provider,
        "booking_date": i.booking_date.isoformat() if i.booking_date else None,
        "days_late": i.days_late,
        "note": i.note,
        "resolution_note": stored.resolution_note,
        "resolved_by": stored.resolved_by,
        "resolved_at": iso(stored.resolved_at) if stored.resolved_at else None,
    }


def history_json(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "run_id": entry.run_id,
        "action": entry.action,
        "actor": entry.actor,
        "note": entry.note,
        "occurred_at": iso(entry.occurred_at),
    }

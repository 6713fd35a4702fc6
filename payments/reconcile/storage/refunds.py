"""The refunds a day's run checks against the providers' reports (``refund_matching``): the
succeeded refunds settled in the run's span, the refunds the report lines name, and which
refunds a report matched before. Few per day next to the payments: plain SQLAlchemy, read
whole.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from payments.adapters.db import tables as t
from payments.reconcile.rules.refund_matching import GatewayRefund
from payments.reconcile.rules.unknown_lines import FirstSeen
from payments.reconcile.storage.batches import CHUNK
from payments.reconcile.storage.tables import reconcile_refund_matches
from payments.refunds.rules.lifecycle import RefundStatus
from payments.refunds.storage.tables import refunds

REQUEST_CHUNK = 500  # request ids per query: well inside every driver's parameter limit

_F, _P, _G, _M = refunds.c, t.payments.c, t.agencies.c, reconcile_refund_matches.c


def _refunds_where(*conditions: ColumnElement[bool]) -> Select[Any]:
    return (
        select(
            _F.id,
            _F.request_id,
            _F.payment_id,
            _F.provider,
            _F.amount,
            _F.currency,
            _F.status,
            _F.provider_refund_id,
            _F.settled_at,
            _G.code,
            _P.treasury_code,
            _P.chapter,
            _P.sub_item,
            _M.business_date,
            _M.run_id,
        )
        .select_from(
            refunds.join(t.payments, _P.id == _F.payment_id)
            .join(t.agencies, _G.id == _P.agency_id)
            .outerjoin(reconcile_refund_matches, _M.refund_id == _F.id)
        )
        .where(*conditions)
    )


def _refund(row: Any) -> GatewayRefund:
    matched = None if row[13] is None else FirstSeen(row[13], row[14])
    return GatewayRefund._make((*row[:13], matched))


class SqlDayRefunds:
    """A part of ``SqlReconciliation``, which sets the connection."""

    _conn: AsyncConnection

    async def settled_refunds(
        self, settled_from: datetime, settled_to: datetime, providers: Collection[str]
    ) -> list[GatewayRefund]:
        if not providers:
            return []
        rows = await self._conn.execute(
            _refunds_where(
                _F.status == RefundStatus.SUCCEEDED.value,
                _F.provider.in_(sorted(providers)),
                _F.settled_at >= settled_from,
                _F.settled_at < settled_to,
            ).order_by(_F.id)
        )
        return [_refund(row) for row in rows]

    async def named_refunds(self, request_ids: Collection[str]) -> dict[str, GatewayRefund]:
        ordered = sorted(request_ids)
        found: dict[str, GatewayRefund] = {}
        for start in range(0, len(ordered), REQUEST_CHUNK):
            chunk = ordered[start : start + REQUEST_CHUNK]
            rows = await self._conn.execute(_refunds_where(_F.request_id.in_(chunk)))
            found.update((refund.request_id, refund) for refund in map(_refund, rows))
        return found

    async def add_refund_matches(
        self, business_date: date, run_id: int, refunds: Sequence[tuple[str, str]]
    ) -> None:
        rows = [
            {"refund_id": refund_id, "business_date": business_date, "run_id": run_id,
             "provider": provider}
            for refund_id, provider in refunds
        ]  # fmt: skip
        for start in range(0, len(rows), CHUNK):
            await self._conn.execute(insert(reconcile_refund_matches), rows[start : start + CHUNK])

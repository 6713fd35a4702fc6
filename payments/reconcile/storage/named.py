"""The payments that lines the day's match found no payment for name, whatever their status
(``payments.reconcile.rules.unknown_lines``): few per day, read in chunks of references.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from payments.adapters.db import tables as t
from payments.domain.attempts import Provider
from payments.reconcile.rules.unknown_lines import (
    AttemptSeen,
    FirstSeen,
    NamedPayment,
    named_provider,
)
from payments.reconcile.storage.tables import reconcile_remittances, reconcile_settlements

REFERENCE_CHUNK = 500  # references per query: well inside every driver's parameter limit
_PROVIDERS = [p.value for p in Provider]  # lets the (provider, provider_ref) index serve


class SqlNamedPayments:
    """A part of ``SqlReconciliation``, which sets the connection."""

    _conn: AsyncConnection

    async def named_payments(self, references: Collection[str]) -> dict[str, NamedPayment]:
        found: dict[str, NamedPayment] = {}
        ordered = sorted(references)
        for start in range(0, len(ordered), REFERENCE_CHUNK):
            found.update(await self._named(ordered[start : start + REFERENCE_CHUNK]))
        return found

    async def _named(self, references: list[str]) -> dict[str, NamedPayment]:
        a = t.payment_attempts.c
        rows = await self._conn.execute(
            select(a.id, a.payment_id, a.provider, a.provider_ref, a.status).where(
                or_(
                    a.id.in_(references),
                    a.payment_id.in_(references),
                    and_(a.provider.in_(_PROVIDERS), a.provider_ref.in_(references)),
                )
            )
        )
        attempts: dict[str, list[AttemptSeen]] = {}
        payment_of: dict[str, str] = {}  # reference -> payment id
        wanted = set(references)
        for attempt_id, payment_id, provider, provider_ref, status in rows:
            attempts.setdefault(payment_id, []).append(
                AttemptSeen(attempt_id, provider, provider_ref, status)
            )
            for reference in (attempt_id, provider_ref, payment_id):
                if reference in wanted:
                    payment_of[reference] = payment_id
        # A reference may be the payment's own id (one with no attempt yet is known too).
        payments = await self._payments(sorted(set(payment_of.values()) | wanted))
        found: dict[str, NamedPayment] = {}
        for reference in references:
            payment = payments.get(payment_of.get(reference, reference))
            if payment is not None:
                provider = named_provider(reference, attempts.get(payment.payment_id, []))
                found[reference] = payment._replace(provider=provider)
        return found

    async def _payments(self, payment_ids: list[str]) -> dict[str, NamedPayment]:
        p, g = t.payments.c, t.agencies.c
        r, s = reconcile_remittances.c, reconcile_settlements.c
        rows = await self._conn.execute(
            select(
                p.id,
                g.code,
                p.amount,
                p.currency,
                p.treasury_code,
                p.chapter,
                p.sub_item,
                p.status,
                r.business_date,
                r.run_id,
                s.business_date,
                s.run_id,
            )
            .select_from(
                t.payments.join(t.agencies, g.id == p.agency_id)
                .outerjoin(reconcile_remittances, r.payment_id == p.id)
                .outerjoin(reconcile_settlements, s.payment_id == p.id)
            )
            .where(p.id.in_(payment_ids))
        )
        return {
            row[0]: NamedPayment(*row[:8], None, _first(row[8], row[9]), _first(row[10], row[11]))
            for row in rows
        }


def _first(business_date: date | None, run_id: int | None) -> FirstSeen | None:
    return None if business_date is None or run_id is None else FirstSeen(business_date, run_id)

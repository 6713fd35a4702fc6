"""The payments a day's run matches, read from the gateway's own tables: on PostgreSQL
through a bare asyncpg cursor, each row turned into a record with its codes shared (a million
payments a day), on SQLite through SQLAlchemy.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from payments.adapters.db import tables as t
from payments.db.drivers import asyncpg_connection
from payments.reconcile.ports import DayPayments, PaymentRefunds
from payments.reconcile.rules.matching import GatewayPayment
from payments.reconcile.storage.batches import pg_batches, sa_batches
from payments.reconcile.storage.tables import reconcile_remittances, reconcile_settlements
from payments.refunds.rules.lifecycle import RefundStatus
from payments.refunds.storage.tables import refunds

SHARED_AMOUNTS = 100_000  # distinct amounts kept as one int object each (fees repeat a lot)

# The six codes (agency, currency, treasury code, chapter, sub-item, provider) repeat across a
# day's million payments: they come as one text, split once per distinct value. Joined by the
# unit separator (cheap for the server); should a code ever contain that character, the load
# starts again with the codes as a JSON array (unambiguous, twice the server's work).
_CODE_COLUMNS = ("g.code", "p.currency", "p.treasury_code", "p.chapter", "p.sub_item", "a.provider")
_CODES_JOINED = " || chr(31) || ".join(_CODE_COLUMNS)
_CODES_JSON = f"json_build_array({', '.join(_CODE_COLUMNS)})::text"
# Payments whose successful attempt finished in a span: one row each (at most one attempt
# of a payment succeeds: uq_payment_attempts_one_success), with the day the treasury
# confirmed them, whether their remittance waits, and the day their settlement was booked.
_PAYMENTS_SQL = """
SELECT p.id, p.amount, a.updated_at, a.provider_ref, r.business_date,
  r.business_date IS NOT NULL AND r.entry_id IS NULL, s.business_date, {codes}
FROM payment_attempts a
JOIN payments p ON p.id = a.payment_id
JOIN agencies g ON g.id = p.agency_id
LEFT JOIN reconcile_remittances r ON r.payment_id = p.id
LEFT JOIN reconcile_settlements s ON s.payment_id = p.id
WHERE a.status = 'succeeded' AND p.status = 'succeeded'
  AND a.updated_at >= $1 AND a.updated_at < $2
"""


class SqlDayPayments:
    """The day's payments: a part of ``SqlReconciliation``, which sets the connection."""

    _conn: AsyncConnection
    _postgres: bool

    async def succeeded_payments(
        self, captured_from: datetime, captured_to: datetime
    ) -> DayPayments:
        found = DayPayments()
        payments, remitted = found.payments, found.remitted_on
        if self._postgres:
            await self._pg_payments(found, captured_from, captured_to)
            return found
        a, p, g, r = t.payment_attempts.c, t.payments.c, t.agencies.c, reconcile_remittances.c
        st = reconcile_settlements.c
        result = await self._conn.execute(
            select(
                p.id,
                g.code,
                p.amount,
                p.currency,
                p.treasury_code,
                p.chapter,
                p.sub_item,
                a.provider,
                a.updated_at,
                a.provider_ref,
                r.business_date,
                r.entry_id,
                st.business_date,
            )
            .select_from(
                t.payment_attempts.join(t.payments, p.id == a.payment_id)
                .join(t.agencies, g.id == p.agency_id)
                .outerjoin(reconcile_remittances, r.payment_id == p.id)
                .outerjoin(reconcile_settlements, st.payment_id == p.id)
            )
            .where(
                a.status == "succeeded",
                p.status == "succeeded",
                a.updated_at >= captured_from,
                a.updated_at < captured_to,
            )
        )
        batches = sa_batches(result)
        # Codes repeat: one string object per distinct value, not a million copies.
        codes: dict[str, str] = {}
        keep = codes.setdefault
        amounts: dict[int, int] = {}
        append = payments.append
        async for batch in batches:
            for row in batch:
                pid, amount = row[0], row[2]
                amount = amounts.get(amount, amount)
                if len(amounts) < SHARED_AMOUNTS:
                    amounts.setdefault(amount, amount)
                append(
                    GatewayPayment(
                        pid,
                        keep(row[1], row[1]),
                        amount,
                        keep(row[3], row[3]),
                        keep(row[4], row[4]),
                        keep(row[5], row[5]),
                        keep(row[6], row[6]),
                        keep(row[7], row[7]),
                        row[8],
                        row[9],
                    )
                )
                if row[10] is not None:
                    remitted[pid] = row[10]
                    if row[11] is None:
                        found.awaiting.add(pid)
                if row[12] is not None:
                    found.settled_on[pid] = row[12]
        await self._refunds_of(found, captured_from, captured_to)
        return found

    async def _refunds_of(
        self, found: DayPayments, captured_from: datetime, captured_to: datetime
    ) -> None:
        """The refunds of the span's payments (few: one query, read whole)."""
        a, f = t.payment_attempts.c, refunds.c
        result = await self._conn.execute(
            select(f.payment_id, f.status, f.amount, f.from_excess)
            .select_from(refunds.join(t.payment_attempts, a.payment_id == f.payment_id))
            .where(
                a.status == "succeeded",
                a.updated_at >= captured_from,
                a.updated_at < captured_to,
                f.status.not_in([RefundStatus.FAILED.value, RefundStatus.REJECTED.value]),
            )
        )
        totals: dict[str, PaymentRefunds] = {}
        for pid, status, amount, from_excess in result:
            was = totals.get(pid, PaymentRefunds())
            if status == RefundStatus.SUCCEEDED.value:
                was = PaymentRefunds(was.paid_from_budget + amount - from_excess, was.in_flight)
            else:
                was = PaymentRefunds(was.paid_from_budget, in_flight=True)
            totals[pid] = was
        found.refunds.update(totals)

    async def _pg_payments(
        self, found: DayPayments, captured_from: datetime, captured_to: datetime
    ) -> None:
        if not await self._pg_payments_as(found, captured_from, captured_to, joined=True):
            found.payments.clear()
            found.remitted_on.clear()
            found.awaiting.clear()
            found.settled_on.clear()
            await self._pg_payments_as(found, captured_from, captured_to, joined=False)
        await self._refunds_of(found, captured_from, captured_to)

    async def _pg_payments_as(
        self, found: DayPayments, captured_from: datetime, captured_to: datetime, *, joined: bool
    ) -> bool:
        """False when a joined codes text does not split in six (the rows are still read to
        the end, so that the cursor closes cleanly)."""
        driver = await asyncpg_connection(self._conn)
        sql = _PAYMENTS_SQL.format(codes=_CODES_JOINED if joined else _CODES_JSON)
        payments, remitted = found.payments, found.remitted_on
        awaiting, settled_on = found.awaiting, found.settled_on
        append = payments.append
        profiles: dict[str, tuple[str, ...]] = {}  # codes text -> its six shared strings
        shared: dict[str, str] = {}  # one string object per distinct code
        keep = shared.setdefault
        amounts: dict[int, int] = {}
        new = tuple.__new__  # GatewayPayment(...) without its Python-level __new__ per row
        whole = True
        async for batch in pg_batches(driver, sql, captured_from, captured_to):
            if not whole:
                continue
            for pid, paid, captured, ref, remitted_day, waits, settled_day, codes in batch:
                profile = profiles.get(codes)
                if profile is None:
                    parts = codes.split("\x1f") if joined else json.loads(codes)
                    if len(parts) != len(_CODE_COLUMNS):
                        whole = False
                        break
                    profile = profiles[codes] = tuple(keep(part, part) for part in parts)
                agency, currency, treasury_code, chapter, sub_item, provider = profile
                amount = amounts.get(paid)
                if amount is None:
                    amount = paid
                    if len(amounts) < SHARED_AMOUNTS:
                        amounts[paid] = paid
                append(
                    new(
                        GatewayPayment,
                        (
                            pid,
                            agency,
                            amount,
                            currency,
                            treasury_code,
                            chapter,
                            sub_item,
                            provider,
                            captured,
                            ref,
                            None,  # batch_reference: every field, no defaults here
                            None,  # gross_amount
                        ),
                    )
                )
                if remitted_day is not None:
                    remitted[pid] = remitted_day
                    if waits:
                        awaiting.add(pid)
                if settled_day is not None:
                    settled_on[pid] = settled_day
        return whole

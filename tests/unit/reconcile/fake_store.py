"""An in-memory ReconciliationRepository, part of the unit tests' FakeUnitOfWork."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TYPE_CHECKING

from payments.domain.attempts import AttemptStatus
from payments.domain.payments import PaymentStatus
from payments.reconcile.formats.settlements import SettlementLine
from payments.reconcile.formats.statements import StatementLine
from payments.reconcile.ports import (
    Breakdown,
    DayPayments,
    Dimension,
    HistoryEntry,
    ItemFilter,
    ItemRow,
    ItemState,
    NewStatement,
    PaymentRefunds,
    Remittance,
    Resolution,
    RunRecord,
    SettlementRecord,
    StoredItem,
    StoredStatement,
)
from payments.reconcile.rules.matching import GatewayPayment
from payments.reconcile.rules.refund_matching import GatewayRefund
from payments.reconcile.rules.unknown_lines import (
    AttemptSeen,
    FirstSeen,
    NamedPayment,
    named_provider,
)
from payments.reconcile.usecases.imports import matching_view
from payments.refunds.rules.lifecycle import Refund, RefundStatus

if TYPE_CHECKING:
    from tests.unit.fakes import Store


@dataclass
class ReconciliationData:
    statements: dict[int, StoredStatement] = field(default_factory=dict)
    lines: dict[int, list[StatementLine]] = field(default_factory=dict)
    settlements: dict[int, list[SettlementLine]] = field(default_factory=dict)
    runs: dict[int, RunRecord] = field(default_factory=dict)
    items: dict[int, StoredItem] = field(default_factory=dict)
    history: list[HistoryEntry] = field(default_factory=list)
    remittances: dict[str, Remittance] = field(default_factory=dict)
    settlements_booked: dict[str, SettlementRecord] = field(default_factory=dict)
    refund_matches: dict[str, FirstSeen] = field(default_factory=dict)  # by refund id


class FakeReconciliation:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.data = store.reconciliation

    async def lock_day(self, business_date: date) -> None:
        return None  # one process, one unit of work at a time

    async def lock_settlements(self, *, exclusive: bool) -> None:
        return None  # one fake unit of work at a time: nothing interleaves

    async def statement_by_content(
        self, source: str, business_date: date, content_hash: str
    ) -> StoredStatement | None:
        found = [
            s
            for s in self.data.statements.values()
            if (s.source, s.business_date, s.content_hash) == (source, business_date, content_hash)
        ]
        return self._marked(found[0]) if found else None

    def _marked(self, statement: StoredStatement) -> StoredStatement:
        """``superseded`` as the database computes it: a newer report, same provider and day."""
        newer = any(
            (s.imported_at, s.id) > (statement.imported_at, statement.id)
            and (s.source, s.business_date) == (statement.source, statement.business_date)
            and not s.content_hash.startswith("pending:")
            for s in self.data.statements.values()
        )
        return replace(statement, superseded=statement.source != "treasury" and newer)

    async def open_statement(
        self, source: str, business_date: date, imported_at: datetime, imported_by: str
    ) -> int:
        new_id = max(self.data.statements, default=0) + 1
        self.data.statements[new_id] = StoredStatement(
            new_id,
            source,
            "",
            f"pending:{new_id}",
            "csv",
            business_date,
            "",
            "XXX",
            0,
            0,
            0,
            imported_at,
            imported_by,
        )
        self.data.lines[new_id] = []
        return new_id

    async def complete_statement(
        self, statement_id: int, statement: NewStatement
    ) -> StoredStatement | None:
        header = statement.header
        opened = self.data.statements[statement_id]
        key = (opened.source, opened.business_date, header.content_hash)
        earlier = await self.statement_by_content(*key)
        if earlier is not None:  # the unique key: the caller rolls back
            del self.data.statements[statement_id]  # what the rollback would undo
            self.data.lines.pop(statement_id, None)
            self.data.settlements.pop(statement_id, None)
            return earlier
        self.data.statements[statement_id] = replace(
            self.data.statements[statement_id],
            statement_id=header.statement_id,
            content_hash=header.content_hash,
            format=header.format.value,
            account=header.account,
            currency=header.currency,
            line_count=header.line_count,
            credit_total=statement.credit_total,
            debit_total=statement.debit_total,
            imported_at=statement.imported_at,
            lists_refunds=statement.lists_refunds,
        )
        return None

    async def add_lines(self, statement_id: int, lines: Iterable[StatementLine]) -> None:
        self.data.lines[statement_id].extend(lines)

    async def add_settlement_lines(
        self, statement_id: int, lines: Sequence[SettlementLine]
    ) -> None:
        self.data.settlements.setdefault(statement_id, []).extend(lines)

    async def settlement_lines_of(self, statement_ids: Sequence[int]) -> list[SettlementLine]:
        return [
            line for sid in sorted(statement_ids) for line in self.data.settlements.get(sid, [])
        ]

    async def statements_for(self, business_date: date, source: str) -> Sequence[StoredStatement]:
        return [
            self._marked(s)
            for s in sorted(self.data.statements.values(), key=lambda s: s.id)
            if s.business_date == business_date and s.source == source
        ]

    async def latest_settlement_reports(self, business_date: date) -> Sequence[StoredStatement]:
        latest: dict[str, StoredStatement] = {}
        # The last completed wins: imported_at (the completion stamp), then the id.
        for s in sorted(self.data.statements.values(), key=lambda s: (s.imported_at, s.id)):
            if (
                s.business_date == business_date
                and s.source != "treasury"
                and not s.content_hash.startswith("pending:")
            ):
                latest[s.source] = s
        return sorted(latest.values(), key=lambda s: s.id)

    async def statement(self, statement_id: int) -> StoredStatement | None:
        found = self.data.statements.get(statement_id)
        if found is None or found.content_hash.startswith("pending:"):
            return None
        return self._marked(found)

    async def statements(
        self,
        *,
        before_id: int | None,
        limit: int,
        business_date: date | None = None,
        source: str | None = None,
    ) -> Sequence[StoredStatement]:
        found = [
            self._marked(s)
            for s in sorted(self.data.statements.values(), key=lambda s: -s.id)
            if not s.content_hash.startswith("pending:")
            and (before_id is None or s.id < before_id)
            and (business_date is None or s.business_date == business_date)
            and (source is None or s.source == source)
        ]
        return found[:limit]

    async def lines_of(self, statement_ids: Sequence[int]) -> list[StatementLine]:
        return [
            matching_view(line) for sid in sorted(statement_ids) for line in self.data.lines[sid]
        ]

    async def succeeded_payments(
        self, captured_from: datetime, captured_to: datetime
    ) -> DayPayments:
        found = DayPayments()
        for attempt in self.store.attempts.values():
            if attempt.status is not AttemptStatus.SUCCEEDED:
                continue
            if not captured_from <= attempt.updated_at < captured_to:
                continue
            payment = self.store.payments[attempt.payment_id]
            if payment.status is not PaymentStatus.SUCCEEDED:
                continue
            budget = payment.draft.budget
            found.payments.append(
                GatewayPayment(
                    payment.id,
                    self.store.agencies[payment.agency_id].code,
                    payment.draft.amount,
                    payment.draft.currency,
                    budget.treasury_code,
                    budget.chapter,
                    budget.sub_item,
                    attempt.provider.value,
                    attempt.updated_at,
                    attempt.provider_ref,
                )
            )
            remitted = self.data.remittances.get(payment.id)
            if remitted is not None:
                found.remitted_on[payment.id] = remitted.business_date
                if remitted.entry_id is None:
                    found.awaiting.add(payment.id)
            settled = self.data.settlements_booked.get(payment.id)
            if settled is not None:
                found.settled_on[payment.id] = settled.business_date
            for refund in self.store.refunds.refunds.values():
                if refund.payment_id != payment.id or refund.status in (
                    RefundStatus.FAILED,
                    RefundStatus.REJECTED,
                ):
                    continue
                was = found.refunds.get(payment.id, PaymentRefunds())
                if refund.status is RefundStatus.SUCCEEDED:
                    was = PaymentRefunds(was.paid_from_budget + refund.from_budget, was.in_flight)
                else:
                    was = PaymentRefunds(was.paid_from_budget, in_flight=True)
                found.refunds[payment.id] = was
        return found

    async def passed_on(self, payment_id: str) -> tuple[date | None, date | None]:
        settled = self.data.settlements_booked.get(payment_id)
        confirmed = self.data.remittances.get(payment_id)
        return (
            settled.business_date if settled else None,
            confirmed.business_date if confirmed else None,
        )

    async def post_awaiting(self, entry_id: int, payment_ids: Sequence[str]) -> None:
        for pid in payment_ids:
            row = self.data.remittances[pid]
            if row.entry_id is None:
                self.data.remittances[pid] = replace(row, entry_id=entry_id)

    async def add_settlements(
        self, settlement: SettlementRecord, fees: Sequence[tuple[str, str, int]]
    ) -> None:
        for pid, _, _ in fees:
            if pid in self.data.settlements_booked:
                raise ValueError("payment already settled")  # the primary key
            self.data.settlements_booked[pid] = settlement

    async def named_payments(self, references: Collection[str]) -> dict[str, NamedPayment]:
        found: dict[str, NamedPayment] = {}
        for reference in references:
            named = [
                a
                for a in self.store.attempts.values()
                if reference in (a.id, a.provider_ref, a.payment_id)
            ]
            payment = self.store.payments.get(named[0].payment_id if named else reference)
            if payment is None:
                continue
            seen = [
                AttemptSeen(a.id, a.provider.value, a.provider_ref, a.status)
                for a in self.store.attempts.values()
                if a.payment_id == payment.id
            ]
            remitted = self.data.remittances.get(payment.id)
            settled = self.data.settlements_booked.get(payment.id)
            budget = payment.draft.budget
            found[reference] = NamedPayment(
                payment.id,
                self.store.agencies[payment.agency_id].code,
                payment.draft.amount,
                payment.draft.currency,
                budget.treasury_code,
                budget.chapter,
                budget.sub_item,
                payment.status.value,
                named_provider(reference, seen),
                FirstSeen(remitted.business_date, remitted.run_id) if remitted else None,
                FirstSeen(settled.business_date, settled.run_id) if settled else None,
            )
        return found

    def _refund(self, refund: Refund) -> GatewayRefund:
        payment = self.store.payments[refund.payment_id]
        budget = payment.draft.budget
        return GatewayRefund(
            refund.id,
            refund.request_id,
            refund.payment_id,
            refund.provider,
            refund.amount,
            refund.currency,
            refund.status.value,
            refund.provider_refund_id,
            refund.settled_at,
            self.store.agencies[payment.agency_id].code,
            budget.treasury_code,
            budget.chapter,
            budget.sub_item,
            self.data.refund_matches.get(refund.id),
        )

    async def settled_refunds(
        self, settled_from: datetime, settled_to: datetime, providers: Collection[str]
    ) -> list[GatewayRefund]:
        return [
            self._refund(refund)
            for refund in sorted(self.store.refunds.refunds.values(), key=lambda r: r.id)
            if refund.status is RefundStatus.SUCCEEDED
            and refund.provider in providers
            and refund.settled_at is not None
            and settled_from <= refund.settled_at < settled_to
        ]

    async def named_refunds(self, request_ids: Collection[str]) -> dict[str, GatewayRefund]:
        return {
            refund.request_id: self._refund(refund)
            for refund in self.store.refunds.refunds.values()
            if refund.request_id in request_ids
        }

    async def add_refund_matches(
        self, business_date: date, run_id: int, refunds: Sequence[tuple[str, str]]
    ) -> None:
        for refund_id, _ in refunds:
            if refund_id in self.data.refund_matches:
                raise ValueError("refund already matched")  # the primary key
            self.data.refund_matches[refund_id] = FirstSeen(business_date, run_id)

    async def add_run(self, run: RunRecord) -> int:
        new_id = len(self.data.runs) + 1
        self.data.runs[new_id] = replace(run, id=new_id)
        return new_id

    async def add_items(self, run_id: int, rows: Iterable[ItemRow]) -> None:
        for row in rows:
            new_id = len(self.data.items) + 1
            self.data.items[new_id] = StoredItem(new_id, run_id, *row)

    async def add_history(self, entries: Iterable[HistoryEntry]) -> None:
        self.data.history.extend(entries)

    async def add_remittances(self, remittance: Remittance, payment_ids: Sequence[str]) -> None:
        for pid in payment_ids:
            row = replace(remittance, payment_id=pid)
            if row.payment_id in self.data.remittances:
                raise ValueError("payment already remitted")  # the primary key
            self.data.remittances[row.payment_id] = row

    async def resolutions(self, run_id: int) -> dict[str, Resolution]:
        return {
            i.item_key: Resolution(i.resolution_note or "", i.resolved_by or "", i.resolved_at)
            for i in self.data.items.values()
            if i.run_id == run_id
            and i.state is ItemState.RESOLVED
            and i.resolved_at
            and i.item_key is not None
        }

    async def latest_run(self, business_date: date) -> RunRecord | None:
        found = [r for r in self.data.runs.values() if r.business_date == business_date]
        return max(found, key=lambda r: r.id) if found else None

    async def run(self, run_id: int) -> RunRecord | None:
        return self.data.runs.get(run_id)

    async def runs(
        self, *, before_id: int | None, limit: int, business_date: date | None = None
    ) -> Sequence[RunRecord]:
        found = [
            r
            for r in sorted(self.data.runs.values(), key=lambda r: -r.id)
            if (before_id is None or r.id < before_id)
            and (business_date is None or r.business_date == business_date)
        ]
        return found[:limit]

    async def items(
        self, run_id: int, flt: ItemFilter, *, after_id: int | None, limit: int
    ) -> Sequence[StoredItem]:
        found = []
        for stored in sorted(self.data.items.values(), key=lambda i: i.id):
            item = stored.item
            if stored.run_id != run_id or (after_id is not None and stored.id <= after_id):
                continue
            if flt.outcomes and item.outcome not in flt.outcomes:
                continue
            if flt.state is not None and stored.state is not flt.state:
                continue
            names = (
                "agency", "provider", "treasury_code", "chapter", "sub_item", "payment_id",
                "refund_id",
            )  # fmt: skip
            if any(
                getattr(flt, n) is not None and getattr(item, n) != getattr(flt, n) for n in names
            ):
                continue
            found.append(stored)
        return found[:limit]

    async def item(self, item_id: int, *, lock: bool = False) -> StoredItem | None:
        return self.data.items.get(item_id)

    async def resolve(self, item_id: int, resolution: Resolution) -> None:
        self.data.items[item_id] = replace(
            self.data.items[item_id],
            state=ItemState.RESOLVED,
            resolution_note=resolution.note,
            resolved_by=resolution.actor,
            resolved_at=resolution.at,
        )

    async def annotate(self, item_id: int, note: str) -> None:
        stored = self.data.items[item_id]
        self.data.items[item_id] = replace(stored, item=stored.item._replace(note=note))

    async def history(self, business_date: date, item_key: str) -> Sequence[HistoryEntry]:
        return [
            h
            for h in self.data.history
            if h.business_date == business_date and h.item_key == item_key
        ]

    async def breakdown(self, run_id: int, by: Dimension) -> Sequence[Breakdown]:
        groups: dict[tuple[str, str], list[int]] = {}
        keys: dict[tuple[str, str], Breakdown] = {}
        for stored in self.data.items.values():
            if stored.run_id != run_id:
                continue
            item = stored.item
            value = getattr(item, by.value)
            sort_key = (value or "", item.outcome.value)
            sums = groups.setdefault(sort_key, [0, 0, 0])
            sums[0] += 1
            sums[1] += item.gateway_amount or 0
            sums[2] += item.treasury_amount or 0
            keys[sort_key] = Breakdown(value, item.outcome, *sums)
        return [keys[k] for k in sorted(keys)]

"""What the reconciliation needs from storage: statements, runs, items and their workflow.

The queries are shaped for the API and for a staff console alike (runs newest first, items
in keyset pages with filters, breakdowns grouped in the database), so neither has to load a
whole run to show a page of it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from payments.domain.errors import PaymentsError
from payments.reconcile.formats.settlements import SettlementLine
from payments.reconcile.formats.statements import Statement, StatementLine
from payments.reconcile.rules.matching import GatewayPayment, MatchItem, Outcome
from payments.reconcile.rules.refund_matching import GatewayRefund
from payments.reconcile.rules.unknown_lines import NamedPayment
from payments.refunds.ports import RefundWork


class ItemState(StrEnum):
    OPEN = "open"  # an exception nobody has explained yet
    RESOLVED = "resolved"  # explained, with a note and who did it
    CLOSED = "closed"  # nothing to explain: matched, late or ignored


class Dimension(StrEnum):
    """What a run's totals can be grouped by."""

    AGENCY = "agency"
    TREASURY_CODE = "treasury_code"
    CHAPTER = "chapter"
    SUB_ITEM = "sub_item"
    PROVIDER = "provider"


@dataclass(frozen=True)
class StoredStatement:
    id: int
    source: str
    statement_id: str
    content_hash: str
    format: str
    business_date: date
    account: str
    currency: str
    line_count: int
    credit_total: int
    debit_total: int
    imported_at: datetime
    imported_by: str
    # A provider's settlement report for which a newer one of the same provider and day was
    # imported (a corrected file; newer: completed later): the day's runs read only the
    # newest. Treasury statements of a day all count, so they are never superseded.
    superseded: bool = False
    lists_refunds: bool = False  # a settlement report whose layout lists refunds


@dataclass(frozen=True)
class NewStatement:
    header: Statement
    business_date: date
    credit_total: int
    debit_total: int
    imported_at: datetime
    imported_by: str
    lists_refunds: bool = False  # a settlement report whose layout lists refunds


@dataclass(frozen=True)
class OutcomeTotal:
    count: int
    gateway_amount: int
    treasury_amount: int


@dataclass(frozen=True)
class RunRecord:
    id: int
    business_date: date
    started_at: datetime
    finished_at: datetime
    actor: str
    statements: tuple[int, ...]
    config: dict[str, Any]
    totals: dict[str, OutcomeTotal]  # per outcome
    item_count: int
    matched_gateway_total: int
    matched_treasury_total: int
    posted_payments: int  # payments whose remittance the run posted
    posted_entries: int  # ledger entries the run posted (settlements and remittances)
    settled_payments: int = 0  # payments whose provider settlement the run booked
    awaiting_settlement: int = 0  # confirmed by the treasury, remittance waiting for settlement


class ItemRow(NamedTuple):
    """An item as written: the matcher's item, its stable key (exceptions only: the key
    carries a resolution over to reruns) and its workflow state."""

    item_key: str | None
    item: MatchItem
    state: ItemState
    resolution_note: str | None
    resolved_by: str | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class StoredItem:
    id: int
    run_id: int
    item_key: str | None
    item: MatchItem
    state: ItemState
    resolution_note: str | None
    resolved_by: str | None
    resolved_at: datetime | None


ItemValue = str | int | date | datetime | None


def item_fields(stored: StoredItem) -> dict[str, ItemValue]:
    """An item's fields by name, the one list every export takes them from (the API's JSON,
    the CSV): the match's own fields (``MatchItem``), then the workflow's. Outcomes and states
    are their values; dates and times stay dates and times, each export writes them its way."""
    i = stored.item
    return {
        "id": stored.id,
        "run_id": stored.run_id,
        "item_key": stored.item_key,
        **{name: getattr(i, name) for name in MatchItem._fields},
        "outcome": i.outcome.value,
        "state": stored.state.value,
        "resolution_note": stored.resolution_note,
        "resolved_by": stored.resolved_by,
        "resolved_at": stored.resolved_at,
    }


@dataclass(frozen=True)
class ItemFilter:
    outcomes: frozenset[Outcome] = frozenset()
    state: ItemState | None = None
    agency: str | None = None
    provider: str | None = None
    treasury_code: str | None = None
    chapter: str | None = None
    sub_item: str | None = None
    payment_id: str | None = None
    refund_id: str | None = None


@dataclass(frozen=True)
class HistoryEntry:
    business_date: date
    item_key: str
    run_id: int
    action: str  # opened, resolved, carried, provider_confirmed
    actor: str
    note: str
    occurred_at: datetime


@dataclass(frozen=True)
class Resolution:
    note: str
    actor: str
    at: datetime


@dataclass(frozen=True)
class Breakdown:
    """One group of a run's totals: e.g. agency "HCM-TAX", outcome matched."""

    key: str | None
    outcome: Outcome
    count: int
    gateway_amount: int
    treasury_amount: int


@dataclass(frozen=True)
class Remittance:
    payment_id: str
    business_date: date
    run_id: int
    entry_id: int | None  # the ledger entry that remitted it; None: waiting for settlement


@dataclass(frozen=True)
class PaymentRefunds:
    """A payment's refunds as its settlement needs them: what was paid back out of the
    budget's share, and whether one is still in flight (its outcome changes the net)."""

    paid_from_budget: int = 0
    in_flight: bool = False


@dataclass(frozen=True)
class SettlementRecord:
    business_date: date
    run_id: int
    entry_id: int | None  # None: nothing was left to move


@dataclass
class DayPayments:
    """The succeeded payments of a span of capture times; which the treasury confirmed
    already (``remitted_on``: the day; ``awaiting``: of those, the ones whose remittance
    waits for their settlement), which their provider's settlement booked (``settled_on``),
    and the refunds of those that have any."""

    payments: list[GatewayPayment] = field(default_factory=list)
    remitted_on: dict[str, date] = field(default_factory=dict)
    awaiting: set[str] = field(default_factory=set)
    settled_on: dict[str, date] = field(default_factory=dict)
    refunds: dict[str, PaymentRefunds] = field(default_factory=dict)


class ReconciliationRepository(Protocol):
    async def lock_day(self, business_date: date) -> None:
        """Hold the day until the transaction ends: two runs of one day (the nightly job on
        two workers, an operator's rerun) take turns, so neither remits what the other did."""

    async def lock_settlements(self, *, exclusive: bool) -> None:
        """Until the transaction ends: a run booking settlements holds it exclusively, a
        refund request or approval shared. So a refund never lands between a run reading a
        payment's refunds and booking its settlement (which would then be wrong by the
        refund), and the refund sees the settlement once the run committed."""

    async def statement_by_content(
        self, source: str, business_date: date, content_hash: str
    ) -> StoredStatement | None:
        """The statement of ``source`` and day imported from exactly these bytes (the key
        that makes an import happen once)."""

    async def open_statement(
        self, source: str, business_date: date, imported_at: datetime, imported_by: str
    ) -> int:
        """A placeholder row the lines can refer to while they stream in; its header (and
        content hash) is only known at the end of the file: ``complete_statement``."""

    async def complete_statement(
        self, statement_id: int, statement: NewStatement
    ) -> StoredStatement | None:
        """Give the placeholder its header and stamp it ``statement.imported_at`` (the time
        the import completed). None when done; the earlier statement when these bytes were
        imported for the source and day before, also by an import that committed meanwhile
        (the transaction stays usable; the caller leaves it to roll back)."""

    async def add_lines(self, statement_id: int, lines: Iterable[StatementLine]) -> None:
        """Append lines of a statement, in the statement's transaction; ``lines`` may be a
        generator (the parser itself), read once, in order."""

    async def add_settlement_lines(
        self, statement_id: int, lines: Sequence[SettlementLine]
    ) -> None:
        """The lines of a provider's settlement report (a statement whose source is the
        provider)."""

    async def settlement_lines_of(self, statement_ids: Sequence[int]) -> list[SettlementLine]:
        """In statement then line order."""

    async def statements_for(self, business_date: date, source: str) -> Sequence[StoredStatement]:
        """Oldest first."""

    async def latest_settlement_reports(self, business_date: date) -> Sequence[StoredStatement]:
        """The newest settlement report of each provider for the day (the latest
        ``imported_at``, a completion stamp, then the highest id), in id order: a report
        completed later for the same provider and day supersedes the earlier ones (a
        corrected file), so a run reads only the newest."""

    async def statement(self, statement_id: int) -> StoredStatement | None:
        """A completed statement or settlement report by its id."""

    async def statements(
        self,
        *,
        before_id: int | None,
        limit: int,
        business_date: date | None = None,
        source: str | None = None,
    ) -> Sequence[StoredStatement]:
        """Completed statements and settlement reports, newest first, ids strictly below
        ``before_id``."""

    async def lines_of(self, statement_ids: Sequence[int]) -> list[StatementLine]:
        """The lines of these statements, statement by statement, in line order, as the
        matcher reads them (free text such as the remittance information may be left out)."""

    async def succeeded_payments(
        self, captured_from: datetime, captured_to: datetime
    ) -> DayPayments:
        """Succeeded payments whose successful attempt finished in [from, to), with their
        budget codes, provider and provider reference; and the ones already remitted."""

    async def named_payments(self, references: Collection[str]) -> dict[str, NamedPayment]:
        """The payments these references name (a payment id, an attempt id, or an attempt's
        provider reference), whatever their status, by reference; a reference naming none is
        left out. With where the treasury confirmed each and where its settlement was booked."""

    async def settled_refunds(
        self, settled_from: datetime, settled_to: datetime, providers: Collection[str]
    ) -> list[GatewayRefund]:
        """The succeeded refunds at ``providers`` whose ``settled_at`` is in [from, to), with
        their payment's agency and budget codes and where a report first matched each."""

    async def named_refunds(self, request_ids: Collection[str]) -> dict[str, GatewayRefund]:
        """The refunds these provider request ids name, whatever their status, by request id;
        an id naming none is left out."""

    async def add_refund_matches(
        self, business_date: date, run_id: int, refunds: Sequence[tuple[str, str]]
    ) -> None:
        """One row per (refund id, provider) a report matched for the first time; a refund
        already present is a conflict (the caller checked)."""

    async def add_run(self, run: RunRecord) -> int:
        """Store the run (its ``id`` is ignored); return the new id."""

    async def add_items(self, run_id: int, rows: Iterable[ItemRow]) -> None:
        """Store the rows in one go; ``rows`` may be a generator, read once, in order."""
        ...

    async def add_history(self, entries: Iterable[HistoryEntry]) -> None: ...

    async def add_remittances(self, remittance: Remittance, payment_ids: Sequence[str]) -> None:
        """One row per payment of ``payment_ids`` (``remittance.payment_id`` is ignored); a
        payment already present is a conflict (the caller checked)."""

    async def passed_on(self, payment_id: str) -> tuple[date | None, date | None]:
        """(the day the payment's provider settlement was booked, the day the treasury
        confirmed it): once either is set, the money has left the provider's hands."""

    async def post_awaiting(self, entry_id: int, payment_ids: Sequence[str]) -> None:
        """Give confirmed payments whose remittance waited (no entry yet) their entry."""

    async def add_settlements(
        self, settlement: SettlementRecord, fees: Sequence[tuple[str, str, int]]
    ) -> None:
        """One row per (payment id, provider, fee); a payment already present is a conflict
        (the caller checked)."""

    async def resolutions(self, run_id: int) -> dict[str, Resolution]:
        """The resolved items of a run, by item key: what a rerun carries over."""

    async def latest_run(self, business_date: date) -> RunRecord | None: ...

    async def run(self, run_id: int) -> RunRecord | None: ...

    async def runs(
        self, *, before_id: int | None, limit: int, business_date: date | None = None
    ) -> Sequence[RunRecord]:
        """Newest first, ids strictly below ``before_id``."""

    async def items(
        self, run_id: int, flt: ItemFilter, *, after_id: int | None, limit: int
    ) -> Sequence[StoredItem]:
        """In item order (the report's order), ids strictly above ``after_id``."""

    async def item(self, item_id: int, *, lock: bool = False) -> StoredItem | None: ...

    async def resolve(self, item_id: int, resolution: Resolution) -> None: ...

    async def annotate(self, item_id: int, note: str) -> None:
        """Replace an item's note (a provider answer learnt after the run)."""

    async def history(self, business_date: date, item_key: str) -> Sequence[HistoryEntry]:
        """Oldest first."""

    async def breakdown(self, run_id: int, by: Dimension) -> Sequence[Breakdown]:
        """Counts and sums per (dimension value, outcome), ordered by value then outcome."""


class ReconcileWork(RefundWork, Protocol):
    """The unit of work the reconciliation runs in: the refunds' and its own storage."""

    @property
    def reconciliation(self) -> ReconciliationRepository: ...


class ReconcileWorkFactory(Protocol):
    def __call__(self) -> ReconcileWork: ...


class StatementUnavailable(PaymentsError):
    title = "Treasury statement unavailable"


class ReportUnavailable(PaymentsError):
    """A provider's settlement report could not be had (unreachable, not 200, too large)."""

    title = "Settlement report unavailable"


class ReportSkipped(PaymentsError):
    """No settlement report is configured for the provider: nothing was fetched."""

    title = "Settlement report not configured"


class StatementSource(Protocol):
    """Where the treasury's statement of a day comes from."""

    async def fetch(self, day: date, destination: Path) -> Path:
        """The statement of ``day`` written at ``destination`` (its suffix the source's
        format), and that path; StatementUnavailable when it cannot be had."""


class ReportSource(Protocol):
    """Where one provider's settlement report of a day comes from."""

    @property
    def provider(self) -> str: ...

    async def fetch(self, day: date, destination: Path) -> Path:
        """The report of ``day`` written at ``destination``; ReportSkipped when none is
        configured, ReportUnavailable when it cannot be had."""

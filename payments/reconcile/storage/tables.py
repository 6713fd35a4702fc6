"""Tables of the nightly reconciliation: imported statements and their lines, runs, items, the
history of each item's workflow, and which payments' remittance the ledger already has.

- reconcile_statements: one row per imported file; (source, business day, content hash) is
  unique, so the same bytes imported twice for a day store nothing new, while another day's
  identical file (two days' header-only reports) is that day's own statement (0008).
- reconcile_statement_lines: the lines, keyed (statement, line number). Batch transactions
  (camt ``TxDtls``) are kept as JSON on their line: rare, and only read back whole.
- reconcile_settlement_lines: a provider's settlement report is a statement too (its source
  is the provider); its lines have their own shape. ``kind`` says whether a line is a payment
  or a refund the provider paid out; ``reconcile_statements.lists_refunds`` whether the
  report lists refunds at all (its layout's kind column: 0015).
- reconcile_runs / reconcile_items: a run of a business day and every item it found. A rerun
  writes a new run; the newest run of a day is the day's report.
- reconcile_item_history: opened, resolved, carried over, provider-confirmed: keyed by the
  business day and the item's stable key, so the story of an item spans reruns.
- reconcile_remittances: one row per payment the treasury confirmed (the primary key is the
  payment): a rerun never posts a payment twice, even though the ledger entries themselves
  cover many payments at once. ``entry_id`` is the remittance entry, or NULL while the
  payment's provider settlement is not booked yet: money leaves the collection account only
  after it arrived there, so the remittance waits and posts in the run that books it (0012).
- reconcile_settlements: one row per payment whose provider settlement was booked (Dr
  collection bank, Dr provider fees / Cr provider clearing), from the provider's report;
  ``entry_id`` is NULL when nothing was left to move (the payment was refunded in full).
- reconcile_refund_matches: one row per refund a provider's report first matched (the day and
  the run), so that a later day's line for it reads as a duplicate and it is never reported
  missing again (0015). A refund item carries its refund id (``reconcile_items.refund_id``).

The bulk tables (lines, items, remittances, settlements: a million rows each on a national
day) carry no foreign key and no index beyond what their reads need: a foreign key is a
trigger per row, and each index another B-tree insert per row, which together cost more than
the whole matching. Their rows are written only by ``adapters/db/reconciliation.py`` (through its
parts, ``reconcile_statement_storage`` and ``reconcile_run_storage``), in the same transaction
as the statement or run they belong to.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    false,
    text,
)

from payments.db.metadata import metadata
from payments.db.types import BigId, Json, UtcDateTime

ITEM_STATES_SQL = "state IN ('open', 'resolved', 'closed')"
OPEN_ITEMS_SQL = "state = 'open'"

reconcile_statements = Table(
    "reconcile_statements",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("source", String(32), nullable=False),
    Column("statement_id", String(140), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("format", String(16), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("account", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("line_count", Integer, nullable=False),
    Column("credit_total", BigInteger, nullable=False),
    Column("debit_total", BigInteger, nullable=False),
    Column("imported_at", UtcDateTime, nullable=False),
    Column("imported_by", String(64), nullable=False),
    # A settlement report whose layout lists refunds (0015): its refunds are checked.
    Column("lists_refunds", Boolean, nullable=False, server_default=false()),
    Index("ix_reconcile_statements_business_date", "business_date", "source"),
    Index(
        "uq_reconcile_statements_source_business_date_content_hash",
        "source",
        "business_date",
        "content_hash",
        unique=True,
    ),
)

reconcile_statement_lines = Table(
    "reconcile_statement_lines",
    metadata,
    Column("statement_id", BigInteger, primary_key=True),
    Column("line_number", Integer, primary_key=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("reversal", Boolean, nullable=False),
    Column("status", String(8), nullable=False),
    Column("booking_date", Date),
    Column("value_date", Date),
    Column("bank_reference", String(140)),
    Column("end_to_end_id", String(140)),
    Column("remittance", Text, nullable=False),
    Column("payment_reference", String(40)),
    Column("batch_reference", String(140)),
    Column("batch_count", Integer),
    Column("batch_total", BigInteger),
    Column("transactions", Json),
)

# A provider's settlement report of a day: a statement whose source is the provider.
reconcile_settlement_lines = Table(
    "reconcile_settlement_lines",
    metadata,
    Column("statement_id", BigInteger, primary_key=True),
    Column("line_number", Integer, primary_key=True),
    Column("provider", String(16), nullable=False),
    Column("provider_txn_id", String(100), nullable=False),
    Column("payment_reference", String(100), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("settlement_date", Date, nullable=False),
    Column("batch_reference", String(140)),  # the provider's remittance batch (0007)
    # payment, refund or full_refund (settlements.LineKind; 0015)
    Column("kind", String(16), nullable=False, server_default=text("'payment'")),
)

reconcile_runs = Table(
    "reconcile_runs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("business_date", Date, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("statements", Json, nullable=False),
    Column("config", Json, nullable=False),
    Column("totals", Json, nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("matched_gateway_total", BigInteger, nullable=False),
    Column("matched_treasury_total", BigInteger, nullable=False),
    Column("posted_payments", Integer, nullable=False),
    Column("posted_entries", Integer, nullable=False),
    # Provider settlements booked by the run, and treasury-confirmed payments whose remittance
    # waits for their settlement (0012).
    Column("settled_payments", Integer, nullable=False, server_default=text("0")),
    Column("awaiting_settlement", Integer, nullable=False, server_default=text("0")),
    Index("ix_reconcile_runs_business_date", "business_date", "id"),
)

reconcile_items = Table(
    "reconcile_items",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("run_id", BigInteger, nullable=False),
    Column("item_key", String(200)),  # exceptions only: what carries a resolution over
    Column("outcome", String(32), nullable=False),
    Column("payment_id", String(40)),
    Column("line_number", Integer),
    Column("currency", String(3), nullable=False),
    Column("gateway_amount", BigInteger),
    Column("treasury_amount", BigInteger),
    Column("reference", String(140)),
    Column("batch_reference", String(140)),
    Column("agency", String(32)),
    Column("treasury_code", String(20)),
    Column("chapter", String(3)),
    Column("sub_item", String(4)),
    Column("provider", String(16)),
    Column("booking_date", Date),
    Column("days_late", Integer),
    Column("note", Text, nullable=False),
    Column("state", String(8), nullable=False),
    Column("resolution_note", Text),
    Column("resolved_by", String(64)),
    Column("resolved_at", UtcDateTime),
    Column("refund_id", String(40)),  # refund_* outcomes (0015)
    CheckConstraint(ITEM_STATES_SQL, name="state"),
    CheckConstraint(
        "(state = 'resolved') = (resolved_by IS NOT NULL AND resolved_at IS NOT NULL)",
        name="resolution",
    ),
    Index("ix_reconcile_items_run_id_id", "run_id", "id"),
    # /metrics counts the open exceptions every scrape: only they are in this index (0016).
    Index(
        "ix_reconcile_items_open",
        "run_id",
        "outcome",
        postgresql_where=text(OPEN_ITEMS_SQL),
        sqlite_where=text(OPEN_ITEMS_SQL),
    ),
)

reconcile_item_history = Table(
    "reconcile_item_history",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("business_date", Date, nullable=False),
    Column("item_key", String(200), nullable=False),
    Column("run_id", BigInteger, ForeignKey("reconcile_runs.id"), nullable=False),
    Column("action", String(32), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("note", Text, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Index("ix_reconcile_item_history_business_date", "business_date", "item_key"),
)

reconcile_remittances = Table(
    "reconcile_remittances",
    metadata,
    Column("payment_id", String(40), primary_key=True),
    Column("business_date", Date, nullable=False),
    Column("run_id", BigInteger, nullable=False),
    Column("entry_id", BigInteger),  # NULL: confirmed, waiting for the provider's settlement
)

reconcile_settlements = Table(
    "reconcile_settlements",
    metadata,
    Column("payment_id", String(40), primary_key=True),
    Column("business_date", Date, nullable=False),
    Column("run_id", BigInteger, nullable=False),
    Column("provider", String(16), nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("entry_id", BigInteger),  # NULL: nothing left to move (refunded in full)
)

reconcile_refund_matches = Table(
    "reconcile_refund_matches",
    metadata,
    Column("refund_id", String(40), primary_key=True),
    Column("business_date", Date, nullable=False),
    Column("run_id", BigInteger, nullable=False),
    Column("provider", String(16), nullable=False),
)

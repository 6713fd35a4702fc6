"""Ledger tables. The triggers that guard them live in alembic/versions/0002_ledger.py and
0011_append_only_guards.py (no leg joins an entry another transaction wrote, no row is replaced
by a conflict clause, a chain link goes only at the head).

There is no balance row: a balance is the sum of an account's postings (index on
``(account_id, entry_id)``), so concurrent payments never queue on a hot clearing account.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from payments.db.metadata import metadata
from payments.db.types import BigId, UtcDateTime

ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(120), nullable=False, unique=True),
    Column("type", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("name", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("type IN ('asset', 'liability', 'revenue', 'expense')", name="type"),
    # Target of the postings' (account_id, currency) key: a leg cannot leave its currency.
    UniqueConstraint("id", "currency"),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("source_key", String(255), nullable=False, unique=True),
    Column("description", Text, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    # Unique: an entry has at most one reversal.
    Column("reversal_of", BigId, ForeignKey("ledger_entries.id"), unique=True),
    Index("ix_ledger_entries_occurred_at", "occurred_at"),
)

ledger_postings = Table(
    "ledger_postings",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("entry_id", BigId, nullable=False),
    Column("account_id", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("side", String(6), nullable=False),
    Column("amount", BigInteger, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("side IN ('debit', 'credit')", name="side"),
    # Deferred: on SQLite the write path stores the legs before the entry row, whose
    # insert trigger then checks that they balance.
    ForeignKeyConstraint(
        ["entry_id"],
        ["ledger_entries.id"],
        name="fk_ledger_postings_entry_id_ledger_entries",
        deferrable=True,
        initially="DEFERRED",
    ),
    # A leg's currency is its account's. Only SQLite gets this foreign key; on PostgreSQL
    # migration 0002 enforces it with a lock-free trigger (a hot account row would otherwise
    # be KEY SHARE-locked by every posting).
    ForeignKeyConstraint(
        ["account_id", "currency"],
        ["ledger_accounts.id", "ledger_accounts.currency"],
        name="fk_ledger_postings_account_id_ledger_accounts",
    ),
    Index("ix_ledger_postings_entry_id", "entry_id"),
    Index("ix_ledger_postings_account_id_entry_id", "account_id", "entry_id"),
)

ledger_chain = Table(
    "ledger_chain",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("entry_id", BigId, ForeignKey("ledger_entries.id"), nullable=False, unique=True),
    Column("entry_hash", String(64), nullable=False),
    Column("chain_hash", String(64), nullable=False),
    Column("sealed_at", UtcDateTime, nullable=False),
)

# The sealing queue: every entry's id, written with the entry and deleted in the transaction
# that seals it, so a seal reads the next batch in O(batch) however long the journal grows.
# Entries commit out of id order (a lower id may show up after higher ones were sealed), so a
# watermark on ids would skip them; a queue row cannot be skipped. Not part of the immutable
# record: the chain is. ``verify`` checks that queue and chain partition the journal.
ledger_unsealed = Table(
    "ledger_unsealed",
    metadata,
    Column(
        "entry_id",
        BigId,
        ForeignKey("ledger_entries.id"),
        primary_key=True,
        autoincrement=False,
    ),
)

"""ledger: accounts, entries, postings, hash chain, and the triggers that guard them

The database itself refuses what the ledger forbids, whoever writes:
- PostgreSQL: deferred constraint triggers check at commit that every entry has two or more
  legs summing to zero per currency; BEFORE UPDATE/DELETE/TRUNCATE triggers make entries,
  postings and chain links immutable and accounts keep their code, type and currency.
- SQLite (no deferred triggers): the write path inserts the legs first and the entry row
  last; the entry's BEFORE INSERT trigger checks the legs, and legs cannot be added to an
  entry that exists. The deferred foreign key rejects legs whose entry never arrives.
- Both: CHECK amount > 0, (account_id, currency) references the account's own currency,
  unique source key, unique reversal_of.
Migration 0011 closes what these left open: on PostgreSQL a leg goes in only in the transaction
that wrote its entry; on SQLite no row is replaced (INSERT OR REPLACE, REPLACE INTO, upsert);
on both a chain link goes only at the head.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JOURNAL = ("ledger_entries", "ledger_postings", "ledger_chain")

PG_FUNCTIONS = [
    """
    CREATE FUNCTION ledger_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'ledger: % of % is not allowed; post a reversal instead',
            TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'restrict_violation';
    END $$
    """,
    """
    CREATE FUNCTION ledger_guard_account() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'ledger: DELETE of account % is not allowed', OLD.code
                USING ERRCODE = 'restrict_violation';
        END IF;
        IF NEW.id <> OLD.id OR NEW.code <> OLD.code OR NEW.type <> OLD.type
                OR NEW.currency <> OLD.currency THEN
            RAISE EXCEPTION 'ledger: account % keeps its code, type and currency', OLD.code
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    # A leg's currency must be its account's. On PostgreSQL a plain read does it: a foreign
    # key would take a KEY SHARE lock on the account row for every posting, and every payment
    # posts to its provider's one clearing account, so all writers would queue on that row's
    # multixact. Safe because an account can be neither deleted nor changed (guard above).
    """
    CREATE FUNCTION ledger_check_leg_account() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        held_in text;
    BEGIN
        SELECT currency INTO held_in FROM ledger_accounts WHERE id = NEW.account_id;
        IF held_in IS NULL THEN
            RAISE EXCEPTION 'ledger: posting to unknown account %', NEW.account_id
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        IF held_in <> NEW.currency THEN
            RAISE EXCEPTION 'ledger: a leg in % on account %, which holds %',
                NEW.currency, NEW.account_id, held_in USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        target bigint;
        legs bigint := 0;
        per_currency record;
    BEGIN
        IF TG_TABLE_NAME = 'ledger_postings' THEN
            target := NEW.entry_id;
        ELSE
            target := NEW.id;
        END IF;
        FOR per_currency IN
            SELECT currency, count(*) AS n,
                   sum(CASE side WHEN 'debit' THEN amount ELSE -amount END) AS net
            FROM ledger_postings WHERE entry_id = target GROUP BY currency
        LOOP
            legs := legs + per_currency.n;
            IF per_currency.net <> 0 THEN
                RAISE EXCEPTION 'ledger: entry % does not balance in % (debits - credits = %)',
                    target, per_currency.currency, per_currency.net
                    USING ERRCODE = 'check_violation';
            END IF;
        END LOOP;
        IF legs < 2 THEN
            RAISE EXCEPTION 'ledger: entry % has % leg(s); an entry needs at least two',
                target, legs USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
]

PG_TRIGGERS = [
    *(
        f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION ledger_reject_change()"
        for table in JOURNAL
    ),
    *(
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION ledger_reject_change()"
        for table in (*JOURNAL, "ledger_accounts")
    ),
    "CREATE TRIGGER ledger_accounts_guard BEFORE UPDATE OR DELETE ON ledger_accounts "
    "FOR EACH ROW EXECUTE FUNCTION ledger_guard_account()",
    "CREATE TRIGGER ledger_postings_account BEFORE INSERT ON ledger_postings "
    "FOR EACH ROW EXECUTE FUNCTION ledger_check_leg_account()",
    # Per leg and per entry, checked at commit when all legs of the transaction are in.
    "CREATE CONSTRAINT TRIGGER ledger_postings_balanced AFTER INSERT ON ledger_postings "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced()",
    "CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced()",
]

SQLITE_TRIGGERS = [
    *(
        f"""
        CREATE TRIGGER {table}_no_{op_name} BEFORE {op_name.upper()} ON {table}
        BEGIN
            SELECT RAISE(ABORT, 'ledger: {op_name.upper()} of {table} is not allowed');
        END
        """
        for table in JOURNAL
        for op_name in ("update", "delete")
    ),
    """
    CREATE TRIGGER ledger_accounts_no_delete BEFORE DELETE ON ledger_accounts
    BEGIN
        SELECT RAISE(ABORT, 'ledger: DELETE of ledger_accounts is not allowed');
    END
    """,
    """
    CREATE TRIGGER ledger_accounts_fixed BEFORE UPDATE OF id, code, type, currency
    ON ledger_accounts
    WHEN NEW.id IS NOT OLD.id OR NEW.code IS NOT OLD.code OR NEW.type IS NOT OLD.type
        OR NEW.currency IS NOT OLD.currency
    BEGIN
        SELECT RAISE(ABORT, 'ledger: an account keeps its code, type and currency');
    END
    """,
    """
    CREATE TRIGGER ledger_entries_balanced BEFORE INSERT ON ledger_entries
    BEGIN
        SELECT RAISE(ABORT, 'ledger: an entry needs at least two legs, stored before it')
        WHERE (SELECT count(*) FROM ledger_postings WHERE entry_id = NEW.id) < 2;
        SELECT RAISE(ABORT, 'ledger: entry does not balance per currency')
        WHERE EXISTS (
            SELECT 1 FROM ledger_postings WHERE entry_id = NEW.id GROUP BY currency
            HAVING sum(CASE side WHEN 'debit' THEN amount ELSE -amount END) <> 0
        );
    END
    """,
    """
    CREATE TRIGGER ledger_postings_entry_open BEFORE INSERT ON ledger_postings
    WHEN EXISTS (SELECT 1 FROM ledger_entries WHERE id = NEW.entry_id)
    BEGIN
        SELECT RAISE(ABORT, 'ledger: legs cannot be added to an entry already written');
    END
    """,
]


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=120), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "type IN ('asset', 'liability', 'revenue', 'expense')",
            name=op.f("ck_ledger_accounts_type"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
        sa.UniqueConstraint("code", name=op.f("uq_ledger_accounts_code")),
        sa.UniqueConstraint("id", "currency", name=op.f("uq_ledger_accounts_id_currency")),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("source_key", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reversal_of", BIG_ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["reversal_of"],
            ["ledger_entries.id"],
            name=op.f("fk_ledger_entries_reversal_of_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("source_key", name=op.f("uq_ledger_entries_source_key")),
        sa.UniqueConstraint("reversal_of", name=op.f("uq_ledger_entries_reversal_of")),
    )
    op.create_index("ix_ledger_entries_occurred_at", "ledger_entries", ["occurred_at"])
    # SQLite writes one transaction at a time anyway, so a composite foreign key states the
    # leg-currency rule there; PostgreSQL uses the lock-free trigger (see PG_FUNCTIONS).
    leg_account_rule = (
        [
            sa.ForeignKeyConstraint(
                ["account_id", "currency"],
                ["ledger_accounts.id", "ledger_accounts.currency"],
                name="fk_ledger_postings_account_id_ledger_accounts",
            )
        ]
        if op.get_bind().dialect.name == "sqlite"
        else []
    )
    op.create_table(
        "ledger_postings",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("entry_id", BIG_ID, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("side", sa.String(length=6), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_ledger_postings_amount_positive")),
        sa.CheckConstraint("side IN ('debit', 'credit')", name=op.f("ck_ledger_postings_side")),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["ledger_entries.id"],
            name="fk_ledger_postings_entry_id_ledger_entries",
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_postings")),
        *leg_account_rule,
    )
    op.create_index("ix_ledger_postings_entry_id", "ledger_postings", ["entry_id"])
    op.create_index(
        "ix_ledger_postings_account_id_entry_id", "ledger_postings", ["account_id", "entry_id"]
    )
    op.create_table(
        "ledger_chain",
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("entry_id", BIG_ID, nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("chain_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_ledger_chain_entry_id_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_ledger_chain")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_ledger_chain_entry_id")),
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in (*PG_FUNCTIONS, *PG_TRIGGERS):
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    # Dropping the tables drops their triggers (both databases); the functions stay behind.
    for table in ("ledger_chain", "ledger_postings", "ledger_entries", "ledger_accounts"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        for function in (
            "ledger_check_balanced",
            "ledger_check_leg_account",
            "ledger_guard_account",
            "ledger_reject_change",
        ):
            op.execute(f"DROP FUNCTION {function}()")

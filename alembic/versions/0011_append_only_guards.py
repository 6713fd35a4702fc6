"""append-only guards: no leg joins a written entry, no row is replaced, the audit log is fixed

0002's triggers refused UPDATE and DELETE, but raw SQL still had ways in:
- PostgreSQL: a balanced pair of legs inserted for an entry that another transaction wrote
  kept the entry balanced, so the deferred check let it commit. Now a leg goes in only in the
  transaction that wrote its entry, after the entry row: a plain BEFORE INSERT trigger (not
  deferrable, so SET CONSTRAINTS cannot move it) reads the entry row's ``xmin``; the common
  case is this transaction's own id, and an entry written in one of its savepoints is found
  by ``pg_xact_status`` (a visible row whose writer is still in progress is this
  transaction's: MVCC hides everyone else's).
- SQLite: INSERT OR REPLACE / REPLACE INTO (and an upsert) resolve a clash by deleting the
  old row without firing delete triggers. BEFORE INSERT triggers run before the conflict is
  resolved, so each guarded table refuses an insert whose primary or unique key is already
  taken, whatever the conflict clause (INSERT OR IGNORE and ON CONFLICT DO NOTHING included:
  the write path checks first under BEGIN IMMEDIATE and never clashes). UPDATE OR REPLACE
  fires the BEFORE UPDATE triggers, which 0002 already has (accounts: any change of a
  unique column is refused, so no conflict can arise).
- Both: a chain link goes only at the head (position = previous head + 1).
- Both: ``audit_log`` is append-only (PostgreSQL: UPDATE, DELETE and TRUNCATE refused, so an
  ON CONFLICT DO UPDATE is too; SQLite: UPDATE, DELETE and REPLACE refused).

Also the indexes ``GET /v1/audit-log`` filters and pages with (cursor on id).

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_FUNCTIONS = {
    "ledger_check_entry_open": """
    CREATE FUNCTION ledger_check_entry_open() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        written_by xid;
        top bigint;
        ahead bigint;
    BEGIN
        SELECT xmin INTO written_by FROM ledger_entries WHERE id = NEW.entry_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'ledger: a leg of entry % goes in after its entry, '
                'in the transaction that writes it', NEW.entry_id
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        top := pg_current_xact_id()::text::bigint;
        -- How far the writer's 32-bit id is ahead of this transaction's, modulo wraparound:
        -- 0 is this transaction; a savepoint of it is a little ahead; an earlier writer is
        -- behind (more than 2^31 ahead, modulo 2^32).
        ahead := (written_by::text::bigint - top) % 4294967296;
        IF ahead < 0 THEN
            ahead := ahead + 4294967296;
        END IF;
        IF ahead = 0 OR (ahead < 2147483648
                AND pg_xact_status((top + ahead)::text::xid8) = 'in progress') THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'ledger: legs cannot be added to an entry already written (entry %)',
            NEW.entry_id USING ERRCODE = 'restrict_violation';
    END $$
    """,
    "ledger_check_chain_head": """
    CREATE FUNCTION ledger_check_chain_head() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        head bigint;
    BEGIN
        SELECT max(position) INTO head FROM ledger_chain;
        IF NEW.position <> coalesce(head, 0) + 1 THEN
            RAISE EXCEPTION 'ledger: chain link % is not appended at the head (position %)',
                NEW.position, coalesce(head, 0) USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    "audit_reject_change": """
    CREATE FUNCTION audit_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit log: % of % is not allowed; it is append-only',
            TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
    END $$
    """,
}

PG_TRIGGERS = {
    "ledger_postings_entry_open": (
        "ledger_postings",
        "CREATE TRIGGER ledger_postings_entry_open BEFORE INSERT ON ledger_postings "
        "FOR EACH ROW EXECUTE FUNCTION ledger_check_entry_open()",
    ),
    "ledger_chain_append": (
        "ledger_chain",
        "CREATE TRIGGER ledger_chain_append BEFORE INSERT ON ledger_chain "
        "FOR EACH ROW EXECUTE FUNCTION ledger_check_chain_head()",
    ),
    "audit_log_immutable": (
        "audit_log",
        "CREATE TRIGGER audit_log_immutable BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_reject_change()",
    ),
    "audit_log_no_truncate": (
        "audit_log",
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()",
    ),
}


def _no_replace(table: str, taken: str, what: str = "ledger") -> str:
    """SQLite: refuse an insert whose key is taken, before REPLACE could delete the holder."""
    message = f"{what}: {table} has a row with this id or unique key; rows are never replaced"
    return f"""
    CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table}
    WHEN EXISTS (SELECT 1 FROM {table} WHERE {taken})
    BEGIN
        SELECT RAISE(ABORT, '{message}');
    END
    """  # noqa: S608 -- table and key names are this module's constants, never input


SQLITE_TRIGGERS = {
    "ledger_accounts_no_replace": _no_replace("ledger_accounts", "id = NEW.id OR code = NEW.code"),
    "ledger_entries_no_replace": _no_replace(
        "ledger_entries",
        "id = NEW.id OR source_key = NEW.source_key OR reversal_of = NEW.reversal_of",
    ),
    "ledger_postings_no_replace": _no_replace("ledger_postings", "id = NEW.id"),
    "ledger_chain_no_replace": _no_replace(
        "ledger_chain", "position = NEW.position OR entry_id = NEW.entry_id"
    ),
    "ledger_chain_append": """
    CREATE TRIGGER ledger_chain_append BEFORE INSERT ON ledger_chain
    WHEN NEW.position IS NOT (SELECT coalesce(max(position), 0) + 1 FROM ledger_chain)
    BEGIN
        SELECT RAISE(ABORT, 'ledger: a chain link is only appended at the head');
    END
    """,
    "audit_log_no_replace": _no_replace("audit_log", "id = NEW.id", "audit log (append-only)"),
    **{
        f"audit_log_no_{op_name}": f"""
        CREATE TRIGGER audit_log_no_{op_name} BEFORE {op_name.upper()} ON audit_log
        BEGIN
            SELECT RAISE(ABORT, 'audit log: {op_name.upper()} is not allowed; it is append-only');
        END
        """
        for op_name in ("update", "delete")
    },
}

# GET /v1/audit-log: filters by actor, action, target and time, newest first by id.
AUDIT_INDEXES = {
    "ix_audit_log_actor_id": ["actor", "id"],
    "ix_audit_log_action_id": ["action", "id"],
    "ix_audit_log_occurred_at": ["occurred_at"],
}


def upgrade() -> None:
    for name, columns in AUDIT_INDEXES.items():
        op.create_index(name, "audit_log", columns)
    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_FUNCTIONS.values():
            op.execute(statement)
        for _, statement in PG_TRIGGERS.values():
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS.values():
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, (table, _) in PG_TRIGGERS.items():
            op.execute(f"DROP TRIGGER {name} ON {table}")
        for function in PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION {function}()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    for name in AUDIT_INDEXES:
        op.drop_index(name, table_name="audit_log")

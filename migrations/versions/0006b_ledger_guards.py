"""ledger guards: balanced transactions and append-only postings, enforced by the database

PostgreSQL: a deferred constraint trigger checks, at commit, that every
transaction that received legs has at least two and that they sum to zero;
row triggers refuse UPDATE and DELETE on postings and transactions.

SQLite has no deferred triggers, so the same guarantee is built from what it
has: legs are written before their transaction row (the foreign key is
deferred to commit, so legs without a transaction never commit), the
transaction row is refused unless its legs balance, and legs for a
transaction that already exists are refused. Updates are refused too.

Revision ID: 0006b_ledger_guards
Revises: 0006_money
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006b_ledger_guards"
down_revision: str | Sequence[str] | None = "0006_money"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_UP = [
    """
    CREATE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        txn bigint;
        total numeric;
        legs int;
    BEGIN
        IF TG_TABLE_NAME = 'ledger_postings' THEN
            txn := NEW.transaction_id;
        ELSE
            txn := NEW.id;
        END IF;
        SELECT COALESCE(SUM(amount), 0), COUNT(*) INTO total, legs FROM ledger_postings WHERE transaction_id = txn;
        IF total <> 0 OR legs < 2 THEN
            RAISE EXCEPTION 'ledger transaction % is unbalanced: % legs summing to %', txn, legs, total
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER ledger_postings_balanced AFTER INSERT ON ledger_postings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced()
    """,
    """
    CREATE CONSTRAINT TRIGGER ledger_transactions_balanced AFTER INSERT ON ledger_transactions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced()
    """,
    """
    CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the ledger is append-only (% on %)', TG_OP, TG_TABLE_NAME USING ERRCODE = 'check_violation';
    END $$
    """,
    """
    CREATE TRIGGER ledger_postings_append_only BEFORE UPDATE OR DELETE ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only()
    """,
    """
    CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE OR DELETE ON ledger_transactions
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only()
    """,
]

PG_DOWN = [
    "DROP TRIGGER IF EXISTS ledger_transactions_append_only ON ledger_transactions",
    "DROP TRIGGER IF EXISTS ledger_postings_append_only ON ledger_postings",
    "DROP FUNCTION IF EXISTS ledger_append_only()",
    "DROP TRIGGER IF EXISTS ledger_transactions_balanced ON ledger_transactions",
    "DROP TRIGGER IF EXISTS ledger_postings_balanced ON ledger_postings",
    "DROP FUNCTION IF EXISTS ledger_check_balanced()",
]

SQLITE_UP = [
    """
    CREATE TRIGGER ledger_transactions_balanced BEFORE INSERT ON ledger_transactions
    WHEN (SELECT COALESCE(SUM(amount), 0) FROM ledger_postings WHERE transaction_id = NEW.id) <> 0
      OR (SELECT COUNT(*) FROM ledger_postings WHERE transaction_id = NEW.id) < 2
    BEGIN
        SELECT RAISE(ABORT, 'ledger transaction is unbalanced');
    END
    """,
    """
    CREATE TRIGGER ledger_postings_sealed BEFORE INSERT ON ledger_postings
    WHEN EXISTS (SELECT 1 FROM ledger_transactions WHERE id = NEW.transaction_id)
    BEGIN
        SELECT RAISE(ABORT, 'ledger transaction is already sealed');
    END
    """,
    """
    CREATE TRIGGER ledger_postings_append_only BEFORE UPDATE ON ledger_postings
    BEGIN
        SELECT RAISE(ABORT, 'the ledger is append-only');
    END
    """,
    """
    CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE ON ledger_transactions
    BEGIN
        SELECT RAISE(ABORT, 'the ledger is append-only');
    END
    """,
]

SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS ledger_transactions_append_only",
    "DROP TRIGGER IF EXISTS ledger_postings_append_only",
    "DROP TRIGGER IF EXISTS ledger_postings_sealed",
    "DROP TRIGGER IF EXISTS ledger_transactions_balanced",
]


def _run(statements: list[str]) -> None:
    for sql in statements:
        op.execute(sql)


def upgrade() -> None:
    _run(PG_UP if op.get_bind().dialect.name == "postgresql" else SQLITE_UP)


def downgrade() -> None:
    _run(PG_DOWN if op.get_bind().dialect.name == "postgresql" else SQLITE_DOWN)

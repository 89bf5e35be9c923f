"""ledger guard: the legs of each INSERT balance per statement (one check), not one deferred check per leg

PostgreSQL ran `ledger_check_balanced()` at commit once for every posting row
(seven for a purchase's capture and split) besides once per transaction row.
Every writer (`ledger_post`) inserts all the legs of its transactions in one
statement, so the postings' guard is now one statement-level trigger over
the inserted rows (a transition table): every transaction those rows belong
to must have at least two legs summing to zero when the statement ends. The
deferred per-transaction trigger stays: a transaction row whose legs do not
balance (or never came) still cannot commit. Legs added to a transaction by
several statements must now balance in each, which no writer does.

SQLite keeps its own guards (legs before their sealed transaction row).

Revision ID: 0030_checkout_perf
Revises: 0029_support
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0030_checkout_perf"
down_revision: str | Sequence[str] | None = "0029_support"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_UP = [
    """
    CREATE FUNCTION ledger_check_balanced_legs() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        bad record;
    BEGIN
        SELECT p.transaction_id AS txn, COALESCE(SUM(p.amount), 0) AS total, COUNT(*) AS legs INTO bad
        FROM ledger_postings p
        WHERE p.transaction_id IN (SELECT DISTINCT n.transaction_id FROM new_legs n)
        GROUP BY p.transaction_id
        HAVING COALESCE(SUM(p.amount), 0) <> 0 OR COUNT(*) < 2
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'ledger transaction % is unbalanced: % legs summing to %', bad.txn, bad.legs, bad.total
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    "DROP TRIGGER ledger_postings_balanced ON ledger_postings",
    """
    CREATE TRIGGER ledger_postings_balanced AFTER INSERT ON ledger_postings REFERENCING NEW TABLE AS new_legs
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_balanced_legs()
    """,
]

PG_DOWN = [
    "DROP TRIGGER ledger_postings_balanced ON ledger_postings",
    "DROP FUNCTION ledger_check_balanced_legs()",
    """
    CREATE CONSTRAINT TRIGGER ledger_postings_balanced AFTER INSERT ON ledger_postings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced()
    """,
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for sql in PG_UP:
            op.execute(sql)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for sql in PG_DOWN:
            op.execute(sql)

"""ledger: post balanced transactions in one server-side call (PostgreSQL)

`ledger_post(...)` applies a batch of transactions whose every leg Python
has already decided and checked: it creates accounts never used before,
locks every touched account in id order, finds the keys posted before
(replays add nothing), refuses the whole batch when an account that may
never go negative would (reporting which transaction), then writes the
transaction rows, their legs and the balances and versions. The
database-side guards (the deferred balanced-legs trigger, append-only
triggers, the non-negative CHECK) stay as they are and still judge what it
writes. One statement instead of one round trip per step.

SQLite has no server-side functions; `commerce.ledger.service` keeps the
same steps in Python there.

Revision ID: 0006d_ledger_post
Revises: 0006c_orders
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006d_ledger_post"
down_revision: str | Sequence[str] | None = "0006c_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Transaction i (1-based) of the batch is (p_keys[i], p_kinds[i], p_order_ids[i], p_memos[i]); leg j belongs to
# transaction p_leg_txn[j], on account (p_owner_kinds[j], p_owner_ids[j], p_account_kinds[j]), for p_amounts[j].
# Returns one row per transaction: (n, txn_id, 'posted' | 'replayed'), or a single row
# (n, NULL, 'insufficient') naming the first transaction that would overdraw, having written nothing.
LEDGER_POST = """
CREATE FUNCTION ledger_post(
    p_keys text[], p_kinds text[], p_order_ids bigint[], p_memos text[], p_at timestamptz,
    p_leg_txn int[], p_owner_kinds text[], p_owner_ids bigint[], p_account_kinds text[], p_amounts bigint[]
) RETURNS TABLE (n int, txn_id bigint, outcome text)
LANGUAGE plpgsql AS $$
DECLARE
    leg_account bigint[];
    posted_before bigint[];
    new_ids bigint[];
    short int;
BEGIN
    INSERT INTO ledger_accounts (owner_kind, owner_id, kind, balance, version, created_at)
    SELECT DISTINCT l.ok, l.oid, l.k, 0, 0, p_at
    FROM unnest(p_owner_kinds, p_owner_ids, p_account_kinds) AS l(ok, oid, k)
    WHERE NOT EXISTS (
        SELECT 1 FROM ledger_accounts a WHERE a.owner_kind = l.ok AND a.owner_id = l.oid AND a.kind = l.k
    )
    ORDER BY 1, 2, 3
    ON CONFLICT (owner_kind, owner_id, kind) DO NOTHING;

    SELECT array_agg(a.id ORDER BY l.j) INTO leg_account
    FROM unnest(p_owner_kinds, p_owner_ids, p_account_kinds) WITH ORDINALITY AS l(ok, oid, k, j)
    JOIN ledger_accounts a ON a.owner_kind = l.ok AND a.owner_id = l.oid AND a.kind = l.k;

    -- The fixed lock order of every ledger writer: account id.
    PERFORM 1 FROM ledger_accounts WHERE id = ANY(leg_account) ORDER BY id FOR UPDATE;

    -- Only now: a concurrent posting of the same key held these locks until it committed.
    SELECT array_agg(t.id ORDER BY k.i) INTO posted_before
    FROM unnest(p_keys) WITH ORDINALITY AS k(key, i)
    LEFT JOIN ledger_transactions t ON t.idempotency_key = k.key;

    WITH per AS (
        SELECT l.txn, l.acc, sum(l.amount) AS delta
        FROM unnest(p_leg_txn, leg_account, p_amounts) AS l(txn, acc, amount)
        WHERE posted_before[l.txn] IS NULL
        GROUP BY l.txn, l.acc
    ), running AS (
        SELECT per.txn, a.kind, a.balance + sum(per.delta) OVER (PARTITION BY per.acc ORDER BY per.txn) AS after
        FROM per JOIN ledger_accounts a ON a.id = per.acc
    )
    SELECT min(txn) INTO short FROM running
    WHERE after < 0 AND kind IN ('pending', 'available', 'escrow');
    IF short IS NOT NULL THEN
        RETURN QUERY SELECT short, NULL::bigint, 'insufficient'::text;
        RETURN;
    END IF;

    WITH ins AS (
        INSERT INTO ledger_transactions (idempotency_key, kind, order_id, memo, created_at)
        SELECT k.key, k.kind, k.oid, k.memo, p_at
        FROM unnest(p_keys, p_kinds, p_order_ids, p_memos) WITH ORDINALITY AS k(key, kind, oid, memo, i)
        WHERE posted_before[k.i::int] IS NULL
        ORDER BY k.i
        RETURNING id, idempotency_key
    )
    SELECT array_agg(ins.id ORDER BY k.i) INTO new_ids
    FROM unnest(p_keys) WITH ORDINALITY AS k(key, i) LEFT JOIN ins ON ins.idempotency_key = k.key;

    INSERT INTO ledger_postings (transaction_id, account_id, amount, idempotency_key, created_at)
    SELECT new_ids[l.txn], l.acc, l.amount,
           p_keys[l.txn] || '#' || (row_number() OVER (PARTITION BY l.txn ORDER BY l.j) - 1), p_at
    FROM unnest(p_leg_txn, leg_account, p_amounts) WITH ORDINALITY AS l(txn, acc, amount, j)
    WHERE new_ids[l.txn] IS NOT NULL
    ORDER BY l.j;

    -- Each transaction that changes an account's balance bumps its version once, as posting them one by one does.
    UPDATE ledger_accounts a
    SET balance = a.balance + d.delta, version = a.version + d.changes
    FROM (
        SELECT per.acc, sum(per.delta) AS delta, count(*) FILTER (WHERE per.delta <> 0) AS changes
        FROM (
            SELECT l.txn, l.acc, sum(l.amount) AS delta
            FROM unnest(p_leg_txn, leg_account, p_amounts) AS l(txn, acc, amount)
            WHERE new_ids[l.txn] IS NOT NULL
            GROUP BY l.txn, l.acc
        ) per
        GROUP BY per.acc
    ) d
    WHERE a.id = d.acc AND d.changes > 0;

    RETURN QUERY
    SELECT k.i::int, coalesce(new_ids[k.i], posted_before[k.i]),
           CASE WHEN new_ids[k.i] IS NULL THEN 'replayed' ELSE 'posted' END
    FROM generate_subscripts(p_keys, 1) AS k(i)
    ORDER BY k.i;
END $$
"""

SIGNATURE = "ledger_post(text[], text[], bigint[], text[], timestamptz, int[], text[], bigint[], text[], bigint[])"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(LEDGER_POST)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")

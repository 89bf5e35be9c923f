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
Revises: 0008_booking
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006d_ledger_post"
down_revision: str | Sequence[str] | None = "0008_booking"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# p_txns is a JSON array of [idempotency_key, kind, order_id, memo], one per transaction; p_legs a JSON array of
# [transaction (1-based index into p_txns), owner_kind, owner_id, account_kind, amount], the legs in order.
# Returns one row per transaction: (n, txn_id, 'posted' | 'replayed'), or a single row (n, NULL, 'insufficient')
# naming the first transaction that would overdraw, having written nothing.
LEDGER_POST = """
CREATE FUNCTION ledger_post(p_txns jsonb, p_legs jsonb, p_at timestamptz)
RETURNS TABLE (n int, txn_id bigint, outcome text)
LANGUAGE plpgsql AS $$
DECLARE
    keys text[];
    kinds text[];
    order_ids bigint[];
    memos text[];
    leg_txn int[];
    owner_kinds text[];
    owner_ids bigint[];
    account_kinds text[];
    amounts bigint[];
    leg_account bigint[];
    posted_before bigint[];
    new_ids bigint[];
    short int;
BEGIN
    SELECT array_agg(t->>0 ORDER BY i), array_agg(t->>1 ORDER BY i), array_agg((t->>2)::bigint ORDER BY i),
           array_agg(t->>3 ORDER BY i)
    INTO keys, kinds, order_ids, memos
    FROM jsonb_array_elements(p_txns) WITH ORDINALITY AS x(t, i);

    SELECT array_agg((l->>0)::int ORDER BY j), array_agg(l->>1 ORDER BY j), array_agg((l->>2)::bigint ORDER BY j),
           array_agg(l->>3 ORDER BY j), array_agg((l->>4)::bigint ORDER BY j)
    INTO leg_txn, owner_kinds, owner_ids, account_kinds, amounts
    FROM jsonb_array_elements(p_legs) WITH ORDINALITY AS x(l, j);

    INSERT INTO ledger_accounts (owner_kind, owner_id, kind, balance, version, created_at)
    SELECT DISTINCT l.ok, l.oid, l.k, 0, 0, p_at
    FROM unnest(owner_kinds, owner_ids, account_kinds) AS l(ok, oid, k)
    WHERE NOT EXISTS (
        SELECT 1 FROM ledger_accounts a WHERE a.owner_kind = l.ok AND a.owner_id = l.oid AND a.kind = l.k
    )
    ORDER BY 1, 2, 3
    ON CONFLICT (owner_kind, owner_id, kind) DO NOTHING;

    -- Every touched account, locked in the fixed lock order of every ledger writer (account id), and each leg's.
    SELECT array_agg(a.id ORDER BY l.j) INTO leg_account
    FROM unnest(owner_kinds, owner_ids, account_kinds) WITH ORDINALITY AS l(ok, oid, k, j)
    JOIN (
        SELECT id, owner_kind, owner_id, kind FROM ledger_accounts
        WHERE (owner_kind, owner_id, kind) IN (SELECT * FROM unnest(owner_kinds, owner_ids, account_kinds))
        ORDER BY id
        FOR UPDATE
    ) a ON a.owner_kind = l.ok AND a.owner_id = l.oid AND a.kind = l.k;

    -- Only now, holding the locks: a concurrent posting of the same key held them until it committed. Then the
    -- balances each transaction leaves, in order, on the accounts that may never go negative.
    WITH seen AS (
        SELECT k.i, t.id FROM unnest(keys) WITH ORDINALITY AS k(key, i)
        LEFT JOIN ledger_transactions t ON t.idempotency_key = k.key
    ), per AS (
        SELECT l.txn, l.acc, sum(l.amount) AS delta
        FROM unnest(leg_txn, leg_account, amounts) AS l(txn, acc, amount)
        JOIN seen ON seen.i = l.txn AND seen.id IS NULL
        GROUP BY l.txn, l.acc
    ), running AS (
        SELECT per.txn, a.kind, a.balance + sum(per.delta) OVER (PARTITION BY per.acc ORDER BY per.txn) AS after
        FROM per JOIN ledger_accounts a ON a.id = per.acc
    )
    SELECT (SELECT array_agg(seen.id ORDER BY seen.i) FROM seen),
           (SELECT min(txn) FROM running WHERE after < 0 AND kind IN ('pending', 'available', 'escrow'))
    INTO posted_before, short;
    IF short IS NOT NULL THEN
        RETURN QUERY SELECT short, NULL::bigint, 'insufficient'::text;
        RETURN;
    END IF;

    -- The transactions, their legs, and the balances and versions (each transaction that changes an account's
    -- balance bumps its version once, as posting them one by one does), in one statement.
    WITH ins AS (
        INSERT INTO ledger_transactions (idempotency_key, kind, order_id, memo, created_at)
        SELECT k.key, k.kind, k.oid, k.memo, p_at
        FROM unnest(keys, kinds, order_ids, memos) WITH ORDINALITY AS k(key, kind, oid, memo, i)
        WHERE posted_before[k.i::int] IS NULL
        ORDER BY k.i
        RETURNING id, idempotency_key
    ), ids AS (
        SELECT k.i::int AS i, ins.id FROM unnest(keys) WITH ORDINALITY AS k(key, i)
        JOIN ins ON ins.idempotency_key = k.key
    ), legs AS (
        SELECT l.txn, l.acc, l.amount, l.j
        FROM unnest(leg_txn, leg_account, amounts) WITH ORDINALITY AS l(txn, acc, amount, j)
        WHERE posted_before[l.txn] IS NULL
    ), written AS (
        INSERT INTO ledger_postings (transaction_id, account_id, amount, idempotency_key, created_at)
        SELECT ids.id, legs.acc, legs.amount,
               keys[legs.txn] || '#' || (row_number() OVER (PARTITION BY legs.txn ORDER BY legs.j) - 1), p_at
        FROM legs JOIN ids ON ids.i = legs.txn
        ORDER BY legs.j
    ), applied AS (
        UPDATE ledger_accounts a
        SET balance = a.balance + d.delta, version = a.version + d.changes
        FROM (
            SELECT per.acc, sum(per.delta) AS delta, count(*) FILTER (WHERE per.delta <> 0) AS changes
            FROM (SELECT legs.txn, legs.acc, sum(legs.amount) AS delta FROM legs GROUP BY legs.txn, legs.acc) per
            GROUP BY per.acc
        ) d
        WHERE a.id = d.acc AND d.changes > 0
    )
    SELECT array_agg(ids.id ORDER BY k.i) INTO new_ids
    FROM generate_subscripts(keys, 1) AS k(i) LEFT JOIN ids ON ids.i = k.i;

    RETURN QUERY
    SELECT k.i, coalesce(new_ids[k.i], posted_before[k.i]),
           CASE WHEN new_ids[k.i] IS NULL THEN 'replayed' ELSE 'posted' END
    FROM generate_subscripts(keys, 1) AS k(i)
    ORDER BY k.i;
END $$
"""

SIGNATURE = "ledger_post(jsonb, jsonb, timestamptz)"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(LEDGER_POST)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")

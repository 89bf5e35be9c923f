"""Periodic jobs. Long waits (return windows, timeouts) are rows scanned here, never countdown tasks."""

from __future__ import annotations

from typing import Any


def beat_schedule() -> dict[str, dict[str, Any]]:
    return {
        # Safety net: the relay is also enqueued after every commit that writes an event.
        "outbox-relay": {"task": "outbox.relay", "schedule": 30.0},
        # Counters reach the feed within seconds; repeats are deduplicated when counted.
        "engagement-aggregate": {"task": "engagement.aggregate", "schedule": 15.0},
        # Safety net for anything the outbox missed (rows changed without an event, a restored index).
        "search-reconcile": {"task": "search.reconcile", "schedule": 3600.0},
        # Money path: each scans rows and is safe to overlap with itself.
        "settle-due": {"task": "settlement.settle_due", "schedule": 60.0},
        "expire-unpaid": {"task": "orders.expire_unpaid", "schedule": 60.0},
        # Flash-sale admissions past their pay window (or whose order was cancelled) give their units back.
        "flash-sales-expire": {"task": "flash_sales.expire", "schedule": 15.0},
        # 拼团 groups whose window ended unfilled: every paid member refunded once, unpaid seats released.
        "group-buys-expire": {"task": "marketing.group_buys.expire", "schedule": 30.0},
        "auto-confirm": {"task": "orders.auto_confirm", "schedule": 600.0},
        "sandbox-webhooks": {"task": "payments.deliver_sandbox_notifications", "schedule": 15.0},
        "resubmit-refunds": {"task": "orders.resubmit_refunds", "schedule": 300.0},
        # Processing jobs whose heartbeat stopped (a killed worker) and task messages that were lost.
        "videos-requeue-stalled": {"task": "videos.requeue_stalled", "schedule": 60.0},
        # Upgraded videos: the old version's files, once players that loaded them before the flip are done.
        "videos-sweep-superseded": {"task": "videos.sweep_superseded", "schedule": 3600.0},
        # Resumable uploads nobody finished: abort their parts in storage.
        "uploads-cleanup-abandoned": {"task": "uploads.cleanup_abandoned", "schedule": 3600.0},
        # Reply windows and live checks are rows with a due time; this moves the ones that are due.
        "booking-sweep": {"task": "booking.sweep", "schedule": 300.0},
        # Matching ranks from precomputed metrics; they lag reality by at most this much.
        "artist-metrics": {"task": "booking.refresh_metrics", "schedule": 900.0},
        # Data that grows forever, kept as long as settings say (README, "Retention").
        "prune-idempotency": {"task": "maintenance.prune_idempotency", "schedule": 3600.0},
        "prune-outbox": {"task": "maintenance.prune_outbox", "schedule": 3600.0},
        "prune-views": {"task": "maintenance.prune_views", "schedule": 3600.0},
        "prune-login-attempts": {"task": "maintenance.prune_login_attempts", "schedule": 3600.0},
        "prune-sign-in-codes": {"task": "maintenance.prune_sign_in_codes", "schedule": 3600.0},
    }

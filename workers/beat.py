"""Periodic jobs. Long waits (return windows, timeouts) are rows scanned here, never countdown tasks."""

from __future__ import annotations

from typing import Any


def beat_schedule() -> dict[str, dict[str, Any]]:
    return {
        # Safety net: the relay is also enqueued after every commit that writes an event.
        "outbox-relay": {"task": "outbox.relay", "schedule": 30.0},
        # Processing jobs whose heartbeat stopped (a killed worker) and task messages that were lost.
        "videos-requeue-stalled": {"task": "videos.requeue_stalled", "schedule": 60.0},
        # Resumable uploads nobody finished: abort their parts in storage.
        "uploads-cleanup-abandoned": {"task": "uploads.cleanup_abandoned", "schedule": 3600.0},
    }

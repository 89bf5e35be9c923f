"""Periodic jobs. Long waits (return windows, timeouts) are rows scanned here, never countdown tasks."""

from __future__ import annotations

from typing import Any


def beat_schedule() -> dict[str, dict[str, Any]]:
    return {
        # Safety net: the relay is also enqueued after every commit that writes an event.
        "outbox-relay": {"task": "outbox.relay", "schedule": 30.0},
    }

"""Thin tasks: plain ids in, one service call."""

from workers.tasks import (
    media,  # noqa: F401
    outbox,  # noqa: F401
)

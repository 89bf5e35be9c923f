"""Thin tasks: plain ids in, one service call."""

from workers.tasks import (
    money,  # noqa: F401
    outbox,  # noqa: F401
)

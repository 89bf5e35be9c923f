"""Thin tasks: plain ids in, one service call."""

from workers.tasks import outbox  # noqa: F401
from workers.tasks import money  # noqa: F401

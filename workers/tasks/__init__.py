"""Thin tasks: plain ids in, one service call."""

from workers.tasks import outbox, search  # noqa: F401

"""Thin tasks: plain ids in, one service call."""

from workers.tasks import money, outbox, search  # noqa: F401

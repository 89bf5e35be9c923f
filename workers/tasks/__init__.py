"""Thin tasks: plain ids in, one service call."""

from workers.tasks import booking, outbox, search  # noqa: F401

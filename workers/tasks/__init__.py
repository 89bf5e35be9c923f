"""Thin tasks: plain ids in, one service call."""

from workers.tasks import booking, money, outbox, search  # noqa: F401

"""Thin tasks: plain ids in, one service call."""

from workers.tasks import booking, maintenance, media, money, outbox, search  # noqa: F401

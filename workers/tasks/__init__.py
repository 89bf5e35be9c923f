"""Thin tasks: plain ids in, one service call."""

from workers.tasks import accounts, booking, maintenance, marketing, media, money, outbox, search  # noqa: F401

"""Celery: the app, its queues, the beat schedule and thin tasks.

Queues: `media` (heavy ffmpeg work, scale by adding workers), `search` (exactly
one consumer: the embedded engine allows a single index writer) and `default`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    from workers.celery_app import make_celery

    make_celery(app)

"""Media: video models and services, resumable uploads, probing and the ffmpeg pipelines."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    """Nothing to wire yet; the media issue registers its storage prefixes here."""

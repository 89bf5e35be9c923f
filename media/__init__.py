"""Media: video models and services, resumable uploads, probing and the ffmpeg pipelines."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    """Register the media error codes (rejection reasons the API translates). ffmpeg is found lazily,
    by the worker that needs it, so the web process starts without it."""
    import media.rejections
    import media.uploads
    import media.videos  # noqa: F401

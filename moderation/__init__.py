"""Moderation: content review, and its audit log. It reads media, commerce and accounts; they never import
it. It learns of new videos from the outbox (topic `video`), like search does."""

from __future__ import annotations

from collections.abc import Sequence

from flask import Flask
from sqlalchemy.orm import Session

from core.outbox import Message
from core.settings import Settings
from moderation.review import TOPIC, ReviewPolicy, screen_events


def policy_from(settings: Settings) -> ReviewPolicy:
    return ReviewPolicy(
        mode=settings.review_mode,
        trusted_after=settings.review_trusted_after,
        sample_bp=settings.review_sample_bp,
    )


def init_app(app: Flask) -> None:
    policy = policy_from(app.config["SETTINGS"])

    def consume(session: Session, messages: Sequence[Message]) -> None:
        screen_events(session, messages, policy)

    app.extensions["outbox"].subscribe(TOPIC, consume)

"""The review queue's items: one open item per subject, whatever brought it there."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.models import QueueReason, ReviewItem, Subject


def open_item(session: Session, subject: Subject, subject_id: int, reason: QueueReason) -> ReviewItem:
    """The subject's open item, made if there is none (one per subject: a second reason joins the first)."""
    item = session.scalar(
        select(ReviewItem).where(
            ReviewItem.subject_type == subject, ReviewItem.subject_id == subject_id, ReviewItem.decided_at.is_(None)
        )
    )
    if item is None:
        video_id = subject_id if subject is Subject.VIDEO else None
        item = ReviewItem(subject_type=subject, subject_id=subject_id, video_id=video_id, reason=reason)
        session.add(item)
        session.flush()
    return item

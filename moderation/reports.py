"""Users' reports of videos, comments, products and artists.

One report per user and subject while it is open. When enough different users report the same subject, it
goes into the review queue; the reviewer's decision resolves every open report of it, and each reporter is
told the outcome (in their language when they read it). A report of one's own content is refused.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from commerce.notifications.service import notify, register_templates
from core import clock
from core.accounts.models import User
from core.accounts.permissions import require_user
from core.errors import Conflict, NotFound, ValidationFailed, register_messages
from core.pagination import keyset_page
from moderation import subjects
from moderation.items import open_item
from moderation.models import Decision, QueueReason, Report, ReportReason, ReviewItem, Subject

register_messages(
    {
        "already_reported": (
            "你已经举报过它了，我们会尽快处理",
            "You have reported it already; we will look at it soon",
        ),
        "report_own_content": ("不能举报自己的内容", "You cannot report your own content"),
    }
)
register_templates(
    {
        "report_upheld": (
            "你举报的「{title}」经审核确有问题，已处理。感谢你的举报",
            "You reported “{title}”: a reviewer agreed and acted on it. Thank you",
        ),
        "report_dismissed": (
            "你举报的「{title}」经审核未发现违规，已保留",
            "You reported “{title}”: a reviewer found nothing against the rules, so it stays",
        ),
    }
)


def file_report(
    session: Session,
    reporter: User | None,
    subject: Subject,
    subject_id: int,
    *,
    reason: ReportReason,
    note: str = "",
    threshold: int,
) -> Report:
    """Record a report; the one that brings a subject to `threshold` different reporters queues it. Commits."""
    user = require_user(reporter)
    info = subjects.describe(session, subject, subject_id)
    if info is None:
        raise NotFound(subject.value)
    if user.id in info.owner_ids:
        raise ValidationFailed.one("subject_id", "report_own_content")
    report = Report(reporter_id=user.id, subject_type=subject, subject_id=subject_id, reason=reason,
                    note=note.strip()[:500])  # fmt: skip
    session.add(report)
    try:
        session.flush()
    except IntegrityError as exc:  # the unique open (reporter, subject) index
        session.rollback()
        raise Conflict("already_reported") from exc
    reporters = session.scalar(
        select(func.count(func.distinct(Report.reporter_id))).where(
            Report.subject_type == subject, Report.subject_id == subject_id, Report.resolved_at.is_(None)
        )
    )
    if (reporters or 0) >= threshold:
        item = open_item(session, subject, subject_id, QueueReason.REPORTED)
        session.execute(
            update(Report)
            .where(Report.subject_type == subject, Report.subject_id == subject_id, Report.resolved_at.is_(None))
            .values(review_item_id=item.id)
        )
    session.commit()
    return report


def resolve(session: Session, item: ReviewItem, decision: Decision) -> int:
    """Close the open reports of the item's subject with its decision and tell their reporters; how many."""
    open_reports = session.scalars(
        select(Report).where(
            Report.subject_type == item.subject_type, Report.subject_id == item.subject_id, Report.resolved_at.is_(None)
        )
    ).all()
    if not open_reports:
        return 0
    title = subjects.title_of(session, item.subject_type, item.subject_id)
    now = clock.now()
    for report in open_reports:
        report.resolved_at, report.outcome, report.review_item_id = now, decision, item.id
    kind = "report_dismissed" if decision is Decision.APPROVE else "report_upheld"
    notify(session, [r.reporter_id for r in open_reports], kind, {"title": title})
    return len(open_reports)


def of_subject(session: Session, subject: Subject, subject_id: int) -> list[Report]:
    return list(
        session.scalars(
            select(Report).where(Report.subject_type == subject, Report.subject_id == subject_id).order_by(Report.id)
        )
    )


def mine(
    session: Session, reporter: User | None, *, cursor: str | None = None, limit: int = 20
) -> tuple[list[Report], str | None]:
    """The reporter's own reports, newest first, with their outcomes."""
    user = require_user(reporter)
    stmt = select(Report).where(Report.reporter_id == user.id)
    return keyset_page(session, stmt, [(Report.id, True)], lambda r: [r.id], cursor=cursor, limit=limit)


def subject_titles(session: Session, reports: Sequence[Report]) -> dict[int, str]:
    return {r.id: subjects.title_of(session, r.subject_type, r.subject_id) for r in reports}

"""Brand qualifications (资质审核): a brand's members submit its business licence and the qualification for each
regulated group of categories; each document waits in the review queue; the decision is what the catalog checks
before a regulated product goes on sale (core.accounts.qualifications).

Documents are images or PDFs, told apart by their bytes (not by the name or the declared type), and kept in
private storage: only reviewers get a short-lived signed link.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import clock
from core.accounts.models import Brand, BrandQualification, QualificationKind, QualificationStatus, User
from core.accounts.permissions import require_brand_member
from core.errors import NotFound, ValidationFailed, register_messages
from core.storage import ObjectStorage
from moderation.audit import record_action
from moderation.items import open_item
from moderation.models import QueueReason, Subject

MAX_BYTES = 10 * 1024 * 1024
_SIGNATURES = {b"\xff\xd8\xff": ("image/jpeg", "jpg"), b"\x89PNG\r\n\x1a\n": ("image/png", "png"),
               b"%PDF-": ("application/pdf", "pdf")}  # fmt: skip

register_messages(
    {
        "qualification_file_type": (
            "请上传证照的照片（JPG、PNG）或 PDF 扫描件",
            "Upload a photo (JPG or PNG) or a PDF scan of the document",
        ),
        "qualification_file_size": ("证照文件不能超过 10 MB", "The document may be at most 10 MB"),
        "qualification_expired": ("证照已过有效期", "The document has expired"),
    }
)


def _sniff(data: bytes) -> tuple[str, str] | None:
    return next((kind for magic, kind in _SIGNATURES.items() if data.startswith(magic)), None)


def submit(
    session: Session,
    storage: ObjectStorage,
    user: User | None,
    brand_id: int,
    *,
    kind: QualificationKind,
    licence_number: str,
    expires_on: dt.date | None,
    data: bytes,
) -> BrandQualification:
    """Store the document and queue it for review. Commits (the object is stored first: a failed commit leaves an
    orphan object, never a row without its document)."""
    member = require_brand_member(session, user, brand_id)
    if session.get(Brand, brand_id) is None:
        raise NotFound("brand")
    number = licence_number.strip()
    if not number:
        raise ValidationFailed.one("licence_number", "missing")
    if expires_on is not None and expires_on < clock.now().date():
        raise ValidationFailed.one("expires_on", "qualification_expired")
    if len(data) > MAX_BYTES:
        raise ValidationFailed.one("file", "qualification_file_size")
    sniffed = _sniff(data)
    if sniffed is None:
        raise ValidationFailed.one("file", "qualification_file_type")
    content_type, ext = sniffed
    key = f"qualifications/{brand_id}/{uuid.uuid4().hex}.{ext}"
    storage.put(key, data, content_type=content_type)
    doc = BrandQualification(brand_id=brand_id, kind=kind, licence_number=number[:64], expires_on=expires_on,
                             document_key=key, content_type=content_type, submitted_by=member.user_id)  # fmt: skip
    session.add(doc)
    session.flush()
    open_item(session, Subject.QUALIFICATION, doc.id, QueueReason.SUBMITTED)
    record_action(session, user, "submit", "qualification", doc.id, reason=kind.value)
    session.commit()
    return doc


def of_brand(session: Session, user: User | None, brand_id: int) -> list[BrandQualification]:
    """The brand's documents, newest first (its members only)."""
    require_brand_member(session, user, brand_id)
    return list(
        session.scalars(
            select(BrandQualification)
            .where(BrandQualification.brand_id == brand_id)
            .order_by(BrandQualification.id.desc())
        )
    )


def decide(session: Session, doc_id: int, *, approve: bool, note: str) -> BrandQualification:
    """The review's effect on the document (in the caller's transaction)."""
    doc = session.get(BrandQualification, doc_id)
    if doc is None:
        raise NotFound("qualification")
    doc.status = QualificationStatus.APPROVED if approve else QualificationStatus.REJECTED
    doc.review_note = note or None
    doc.decided_at = clock.now()
    return doc

"""What a brand is approved to sell: its business licence and category qualifications in force.

Moderation decides on the documents; the catalog asks here before a product in a regulated category goes on sale.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core import clock
from core.accounts.models import BrandQualification, QualificationKind, QualificationStatus


def approved_kinds(session: Session, brand_id: int) -> set[QualificationKind]:
    """The kinds with an approved document that has not expired."""
    today = clock.now().date()
    rows = session.scalars(
        select(BrandQualification.kind).where(
            BrandQualification.brand_id == brand_id,
            BrandQualification.status == QualificationStatus.APPROVED,
            or_(BrandQualification.expires_on.is_(None), BrandQualification.expires_on >= today),
        )
    )
    return set(rows)


def missing_for(session: Session, brand_id: int, needed: QualificationKind) -> list[QualificationKind]:
    """What the brand still needs approved to sell in a category that needs `needed`: the licence comes first."""
    have = approved_kinds(session, brand_id)
    return [k for k in (QualificationKind.BUSINESS_LICENCE, needed) if k not in have]

"""Who serves a brand's buyers: members, appointed agents, and admins (for a brand that exists)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from commerce.support import conversations, fees, staff
from core.errors import NotFound, PermissionDenied
from tests import factories


@pytest.mark.parametrize("brand_id", [0, 2**63 - 1])
def test_an_admin_is_told_a_missing_brand_has_no_desk(db_session: Session, brand_id: int) -> None:
    # found probing every brand operation as an admin: GET /brands/0/support, /inbox and /support/performance
    # answered 200 with a default desk and empty lists for a brand that does not exist
    admin = factories.user(db_session, admin=True)
    for read in (staff.list_agents, conversations.inbox, fees.performance, staff.composer_options):
        with pytest.raises(NotFound):
            read(db_session, admin, brand_id)


def test_an_admin_serves_a_brand_they_are_not_a_member_of(db_session: Session) -> None:
    admin, owner = factories.user(db_session, admin=True), factories.user(db_session)
    brand = factories.brand(db_session, owner=owner)
    assert staff.require_staff(db_session, admin, brand.id) == (admin, "member")
    assert staff.list_agents(db_session, admin, brand.id) == []


def test_anyone_else_is_refused_whether_or_not_the_brand_exists(db_session: Session) -> None:
    stranger = factories.user(db_session)
    brand = factories.brand(db_session, owner=factories.user(db_session))
    for brand_id in (brand.id, 0):
        with pytest.raises(PermissionDenied):
            staff.require_staff(db_session, stranger, brand_id)

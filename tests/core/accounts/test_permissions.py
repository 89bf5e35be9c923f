from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from core.accounts.models import BrandRole
from core.accounts.permissions import require_brand_member
from core.errors import NotFound, PermissionDenied
from tests import factories


def test_an_admin_acts_as_the_owner_of_a_brand_that_exists(db_session: Session) -> None:
    admin = factories.user(db_session, admin=True)
    brand = factories.brand(db_session)
    assert require_brand_member(db_session, admin, brand.id, owner=True).role == BrandRole.OWNER


@pytest.mark.parametrize("brand_id", [0, 2**63 - 1])
def test_an_admin_is_told_a_missing_brand_is_missing(db_session: Session, brand_id: int) -> None:
    # found by the API edge fuzzer: the stand-in membership let PATCH /brands/0/support insert a desk for no brand
    admin = factories.user(db_session, admin=True)
    with pytest.raises(NotFound):
        require_brand_member(db_session, admin, brand_id)


def test_a_stranger_is_refused_whether_or_not_the_brand_exists(db_session: Session) -> None:
    stranger = factories.user(db_session)
    brand = factories.brand(db_session)
    for brand_id in (brand.id, 0):
        with pytest.raises(PermissionDenied):
            require_brand_member(db_session, stranger, brand_id)

"""The cart remembers where the buyer found each SKU, when that place exists."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from commerce.orders import cart
from tests import factories

MISSING = [987_654_321, 2**63 - 1]


@pytest.mark.parametrize("missing", MISSING)
def test_a_source_that_does_not_exist_is_not_remembered_and_the_sku_still_goes_in(
    db_session: Session, missing: int
) -> None:
    # found by fuzzing POST /cart/items: an unknown source_artist_id or source_video_id reached the row's foreign
    # key and answered 500
    buyer = factories.user(db_session)
    sku = factories.product(db_session, brand=factories.brand(db_session)).skus[0]
    for source in ({"source_video_id": missing}, {"source_artist_id": missing}):
        item = cart.add_item(db_session, buyer, sku_id=sku.id, **source)
        assert (item.source_video_id, item.source_artist_id) == (None, None)
    assert item.quantity == 2


def test_a_missing_source_leaves_the_known_one_in_place(db_session: Session) -> None:
    buyer, artist = factories.user(db_session), factories.user(db_session, artist=True)
    sku = factories.product(db_session, brand=factories.brand(db_session)).skus[0]
    video = factories.video(db_session, uploader=artist)
    cart.add_item(db_session, buyer, sku_id=sku.id, source_video_id=video.id)
    item = cart.add_item(db_session, buyer, sku_id=sku.id, source_video_id=MISSING[0], source_artist_id=artist.id)
    assert (item.source_video_id, item.source_artist_id) == (None, artist.id)  # the latest place that exists
    item = cart.add_item(db_session, buyer, sku_id=sku.id, source_artist_id=MISSING[0])
    assert (item.source_video_id, item.source_artist_id) == (None, artist.id)
    item = cart.add_item(db_session, buyer, sku_id=sku.id, source_video_id=video.id, source_artist_id=MISSING[0])
    assert (item.source_video_id, item.source_artist_id) == (video.id, None)

"""The documents built from the database: an artist's totals over their live videos only, and a video's product
fields whether it links products or not."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from core import clock
from search.documents import build_artists, build_videos, ms
from tests import factories


def test_an_artists_document_sums_their_live_videos(db_session: Session) -> None:
    artist = factories.user(db_session, artist=True, display_name="小鹿")
    other = factories.user(db_session, artist=True)
    now = clock.now()
    newest = now - dt.timedelta(hours=1)
    for hashtags, age, counters in (
        (["穿搭", "夏日"], dt.timedelta(days=3), {"views": 100, "likes": 10, "completion_sum": 40.0, "purchases": 1}),
        (["穿搭"], dt.timedelta(hours=1), {"views": 300, "likes": 20, "completion_sum": 150.0, "shares": 3}),
        (["穿搭", "通勤"], dt.timedelta(days=9), {}),  # no counters yet
    ):
        v = factories.video(db_session, uploader=artist, hashtags=hashtags)
        v.published_at = now - age
        if counters:
            factories.video_stats(db_session, v, **counters)
    factories.video_stats(db_session, factories.video(db_session, uploader=artist, published=False), views=10_000)
    db_session.flush()
    docs = build_artists(db_session, [artist.id, other.id])
    doc = docs[artist.id]
    assert doc is not None
    assert (doc["name"], doc["videos"], doc["views"], doc["likes"], doc["shares"], doc["purchases"]) == (
        "小鹿", 3, 400, 30, 3, 1,
    )  # fmt: skip
    assert doc["completion_rate"] == round(190.0 / 400, 6)
    assert doc["hashtags"] == ["穿搭", "夏日", "通勤"]  # by how many videos carry each, then by name
    assert doc["last_published_at"] == ms(newest)
    assert docs[other.id] is not None
    assert (docs[other.id]["videos"], docs[other.id]["views"], docs[other.id]["last_published_at"]) == (0, 0, None)


def test_a_videos_product_fields_with_and_without_links(db_session: Session) -> None:
    owner = factories.user(db_session)
    brand = factories.brand(db_session, owner=owner, name="花西子")
    plain = factories.video(db_session, uploader=owner, brand_id=brand.id)
    linked = factories.video(db_session, uploader=owner)
    product = factories.product(db_session, brand=brand, name="空气蜜粉", category="beauty.makeup", prices=(15900,))
    factories.video_link(db_session, video=linked, product=product)
    docs = build_videos(db_session, [plain.id, linked.id])
    assert {k: docs[plain.id][k] for k in ("brands", "product_ids", "categories", "price_bands")} == {  # type: ignore[index]
        "brands": ["花西子"], "product_ids": [], "categories": [], "price_bands": [],
    }  # fmt: skip
    got = docs[linked.id]
    assert got is not None
    assert (got["brands"], got["product_ids"], got["product_names"], got["categories"]) == (
        ["花西子"], [str(product.id)], ["空气蜜粉"], ["beauty.makeup"],
    )  # fmt: skip
    assert len(got["price_bands"]) == 1
    docs[plain.id]["product_ids"].append("x")  # type: ignore[index]
    assert build_videos(db_session, [plain.id])[plain.id]["product_ids"] == []  # type: ignore[index]  # no shared lists

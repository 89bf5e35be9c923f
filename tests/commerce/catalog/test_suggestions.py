"""Tag suggestions on a small Chinese catalog: the right product first, in Chinese and English; decisions stick."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.catalog import affiliate, showcase, suggestions
from commerce.catalog.limits import CatalogLimits
from commerce.catalog.links import LinkSpec, list_links
from commerce.catalog.models import Decision, Product, SuggestionKind, TagDecision
from core.accounts.models import User
from tests import factories
from tests.commerce.catalog.conftest import Shop
from tests.commerce.catalog.helpers import bearer

LIMITS = CatalogLimits(require_qualifications=False)  # papers: tests/moderation/test_qualifications.py

# (key, name, category, description)
CATALOG = [
    ("dress", "法式碎花连衣裙", "apparel.women", "夏季雪纺面料，V领收腰显瘦。Floral chiffon summer dress."),
    (
        "sunscreen",
        "清透防晒霜 SPF50+",
        "beauty.skincare",
        "高倍防晒不油腻，海边度假必备。Lightweight sunscreen lotion.",
    ),
    ("earbuds", "降噪蓝牙耳机", "digital.audio", "主动降噪，三十小时续航。Wireless noise-cancelling earbuds."),
    ("case", "磁吸手机壳", "digital.phone_accessories", "四角气囊防摔，透明不发黄。Clear drop-proof phone case."),
    # Near neighbours of each, to make the ranking earn its keep.
    ("cream", "保湿面霜", "beauty.skincare", "深层补水，秋冬必备。Moisturising face cream."),
    ("skirt", "高腰半身裙", "apparel.women", "垂感西装面料，通勤百搭。High-waist midi skirt."),
    ("charger", "无线充电器", "digital.phone_accessories", "15W 快充，支持手机与耳机。Wireless charger pad."),
    ("keyboard", "机械键盘", "digital.computer", "茶轴，办公游戏两用。Mechanical keyboard."),
]


@dataclass
class Catalog:
    by_key: dict[str, Product]
    artist_brand_id: int

    def key_of(self, product_id: int) -> str:
        return next(k for k, p in self.by_key.items() if p.id == product_id)


@pytest.fixture
def catalog(db_session: Session, shop: Shop) -> Catalog:
    """The artist's own brand sells the catalog; brand B sells a perfect match the artist may not link."""
    artist_brand = factories.brand(db_session, owner=shop.artist, name="小鹿同款")
    by_key = {
        key: factories.product(db_session, brand=artist_brand, name=name, category=category, description=desc)
        for key, name, category, desc in CATALOG
    }
    factories.product(
        db_session, brand=shop.brand_b, name="碎花连衣裙 防晒霜 蓝牙耳机 手机壳", category="apparel.women"
    )
    db_session.commit()
    return Catalog(by_key, artist_brand.id)


def suggested(session: Session, user: User, video_id: int, limit: int = 5) -> list[int]:
    return [s.product.id for s in suggestions.suggest(session, user, video_id, limit=limit).products]


@pytest.mark.parametrize(
    "case",
    [
        ("夏天穿这条碎花连衣裙太好看了", [], "dress"),
        ("海边度假一定要涂防晒", ["夏日"], "sunscreen"),
        ("通勤路上戴的降噪耳机分享", [], "earbuds"),
        ("新买的手机壳开箱", [], "case"),
        ("Summer floral dress try-on", [], "dress"),
        ("Which sunscreen do I use at the beach?", [], "sunscreen"),
        ("My favourite wireless earbuds for the gym", [], "earbuds"),
        ("A drop-proof phone case that stays clear", ["iPhone"], "case"),
    ],
)
def test_the_matching_product_ranks_first(
    db_session: Session, shop: Shop, catalog: Catalog, case: tuple[str, list[str], str]
) -> None:
    title, hashtags, expected = case
    video = factories.video(db_session, uploader=shop.artist, title=title, hashtags=hashtags)
    db_session.commit()
    ranked = suggested(db_session, shop.artist, video.id)
    assert ranked, "nothing suggested"
    assert catalog.key_of(ranked[0]) == expected, [catalog.key_of(p) for p in ranked]


def test_only_linkable_products_are_suggested(db_session: Session, shop: Shop, catalog: Catalog) -> None:
    video = factories.video(db_session, uploader=shop.artist, title="碎花连衣裙和防晒霜还有蓝牙耳机手机壳")
    db_session.commit()
    ranked = suggested(db_session, shop.artist, video.id, limit=20)
    brands = {db_session.get(Product, pid).brand_id for pid in ranked}  # type: ignore[union-attr]
    assert brands == {catalog.artist_brand_id}  # brand B's perfect match is not the artist's to link
    # Once in the showcase it is.
    other = db_session.scalar(select(Product).where(Product.brand_id == shop.brand_b.id))
    assert other is not None
    affiliate.set_offer(db_session, shop.owner_b, other.id, artist_rate_bp=2000, limits=LIMITS)
    showcase.add(db_session, shop.artist, other.id)
    assert suggested(db_session, shop.artist, video.id)[0] == other.id


def test_unrelated_text_suggests_nothing(db_session: Session, shop: Shop, catalog: Catalog) -> None:
    video = factories.video(db_session, uploader=shop.artist, title="今天的晚霞", description="随手拍")
    db_session.commit()
    assert suggested(db_session, shop.artist, video.id) == []


def test_dismissed_products_never_come_back_and_accepted_ones_are_linked(
    client: FlaskClient, db_session: Session, shop: Shop, catalog: Catalog
) -> None:
    video = factories.video(db_session, uploader=shop.artist, title="防晒霜和面霜怎么选", duration=40)
    db_session.commit()
    h = bearer(client, shop.artist)
    url = f"/api/v1/videos/{video.id}/suggestions"
    first = client.get(url, headers=h).get_json()["products"]
    top = first[0]["product"]["id"]
    assert catalog.key_of(top) in {"sunscreen", "cream"}

    assert client.post(f"{url}/products/{top}/dismiss", headers=h).status_code == 204
    again = [p["product"]["id"] for p in client.get(url, headers=h).get_json()["products"]]
    assert top not in again
    assert again
    assert again[0] == first[1]["product"]["id"]

    nxt = again[0]
    r = client.post(f"{url}/products/{nxt}/accept", json={"start_seconds": 5, "end_seconds": 15}, headers=h)
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["product"]["id"], r.get_json()["start_seconds"]) == (nxt, 5.0)
    assert [lk.product_id for lk in list_links(db_session, shop.artist, video.id)] == [nxt]
    remaining = [p["product"]["id"] for p in client.get(url, headers=h).get_json()["products"]]
    assert nxt not in remaining
    assert top not in remaining
    decisions = {
        (d.kind, d.key): d.decision
        for d in db_session.scalars(select(TagDecision).where(TagDecision.video_id == video.id))
    }
    assert decisions == {
        (SuggestionKind.PRODUCT, str(top)): Decision.DISMISSED,
        (SuggestionKind.PRODUCT, str(nxt)): Decision.ACCEPTED,
    }
    # Accepting does what linking does, checks included.
    dress = catalog.by_key["dress"].id
    r = client.post(f"{url}/products/{dress}/accept", json={"end_seconds": 99}, headers=h)
    assert r.status_code == 422
    assert client.get(url, headers=bearer(client, shop.viewer)).status_code == 403


def test_the_uploaders_history_nudges_ties(db_session: Session, shop: Shop) -> None:
    brand = factories.brand(db_session, owner=shop.artist)
    twin_a = factories.product(db_session, brand=brand, name="纯棉T恤", category="apparel.men")
    twin_b = factories.product(db_session, brand=brand, name="纯棉T恤", category="apparel.men")
    earlier = factories.video(db_session, uploader=shop.artist, title="纯棉T恤穿搭", duration=30)
    video = factories.video(db_session, uploader=shop.artist, title="又一件纯棉T恤")
    db_session.commit()
    assert suggested(db_session, shop.artist, video.id)[:2] == [twin_a.id, twin_b.id]  # a tie: lower id first
    suggestions.accept_product(db_session, shop.artist, earlier.id, LinkSpec(twin_b.id), limits=LIMITS)
    assert suggested(db_session, shop.artist, video.id)[:2] == [twin_b.id, twin_a.id]


def test_hashtag_suggestions_and_decisions(
    client: FlaskClient, db_session: Session, shop: Shop, catalog: Catalog
) -> None:
    video = factories.video(db_session, uploader=shop.artist, title="夏天必备的碎花连衣裙", hashtags=["穿搭"])
    db_session.commit()
    h = bearer(client, shop.artist)
    url = f"/api/v1/videos/{video.id}/suggestions"
    tags = [t["tag"] for t in client.get(url, headers=h).get_json()["hashtags"]]
    assert "连衣裙" in tags  # the catalog word the caption uses
    assert "女装" in tags  # the category it belongs to
    assert "连衣" not in tags
    assert "衣裙" not in tags
    assert "穿搭" not in tags  # already on the video
    r = client.post(f"{url}/hashtags/dismiss", json={"hashtag": "#女装"}, headers=h)
    assert r.status_code == 200
    assert r.get_json() == {"hashtag": "女装"}
    assert "女装" not in [t["tag"] for t in client.get(url, headers=h).get_json()["hashtags"]]
    assert client.post(f"{url}/hashtags/accept", json={"hashtag": "连衣裙"}, headers=h).status_code == 200
    r = client.post(f"{url}/hashtags/accept", json={"hashtag": "两个 词"}, headers=h)
    assert r.status_code == 422


def test_hashtags_come_from_categories_even_without_products(db_session: Session, shop: Shop) -> None:
    video = factories.video(db_session, uploader=shop.artist, title="我的露营装备清单：帐篷和睡袋")
    db_session.commit()
    found = suggestions.suggest(db_session, shop.artist, video.id)
    assert found.products == []
    assert [h.tag for h in found.hashtags][:2] == ["户外", "运动户外"]


def test_tokenizer_segments_chinese_and_normalises_english() -> None:
    assert {"连衣裙", "碎花"} <= set(suggestions.tokenize("碎花连衣裙"))
    assert suggestions.tokenize("Wireless EARBUDS, dresses & phone cases!") == [
        "wireless",
        "earbud",
        "dress",
        "phone",
        "case",
    ]
    assert "的" not in suggestions.tokenize("我的连衣裙")

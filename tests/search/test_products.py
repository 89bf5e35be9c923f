"""Product documents from the catalog, and the products on video documents (names, brands, categories, price bands)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.catalog.models import Product, ProductStatus, ShowcaseItem, VideoProduct
from core.outbox import OutboxEvent, emit
from media.models import Video
from search import engagement
from search.backends.embedded import EmbeddedEngine
from search.documents import build_products, price_band
from tests import factories


def link(s: Session, video: Video, *products: Product) -> None:
    for position, p in enumerate(products):
        s.add(VideoProduct(video_id=video.id, product_id=p.id, position=position))
    s.flush()
    emit(s, "video", video.id)
    for p in products:
        emit(s, "product", p.id)


@pytest.fixture
def shop(db_session: Session, search_engine: EmbeddedEngine, index_now: Callable[[], None]) -> dict[str, Any]:
    hua = factories.brand(db_session, name="花西子")
    anta = factories.brand(db_session, name="安踏")
    artist = factories.user(db_session, artist=True, display_name="试色达人")
    items = {
        "lipstick": factories.product(
            db_session, brand=hua, name="雕花口红 Lipstick", category="beauty.makeup", prices=[12900, 15900]
        ),
        "cream": factories.product(db_session, brand=hua, name="玉容面霜", category="beauty.skincare", prices=[25900]),
        "shoes": factories.product(
            db_session, brand=anta, name="C202 竞速跑鞋 running shoes", category="apparel.shoes", prices=[69900]
        ),
        "draft": factories.product(
            db_session, brand=anta, name="未上架 draft", category="apparel.shoes", status="draft"
        ),
    }
    for p in items.values():
        emit(db_session, "product", p.id)
    swatch = factories.video(db_session, uploader=artist, title="口红试色", hashtags=["美妆"])
    run = factories.video(db_session, uploader=artist, title="晨跑装备分享", hashtags=["跑步"])
    link(db_session, swatch, items["lipstick"], items["cream"])
    link(db_session, run, items["shoes"])
    db_session.add(ShowcaseItem(artist_id=artist.id, product_id=items["lipstick"].id))
    emit(db_session, "artist", artist.id)
    index_now()
    return {**items, "swatch": swatch, "run": run, "artist": artist, "hua": hua, "anta": anta}


def test_product_documents_come_from_the_catalog(db_session: Session, shop: dict[str, Any]) -> None:
    lipstick, draft = shop["lipstick"], shop["draft"]
    docs = build_products(db_session, [lipstick.id, draft.id])
    assert docs[draft.id] is None  # drafts are not for sale
    doc = docs[lipstick.id]
    assert doc is not None
    assert (doc["brand"], doc["category"], doc["price_min"], doc["price_max"]) == (
        "花西子",
        "beauty.makeup",
        12900,
        15900,
    )
    assert doc["price_band"] == price_band(12900) == "100-300"
    assert "彩妆" in doc["category_text"]
    assert "Makeup" in doc["category_text"]
    assert (doc["videos"], doc["artists"], doc["in_stock"]) == (1, 1, True)


def test_video_documents_carry_their_products(search_engine: EmbeddedEngine, shop: dict[str, Any]) -> None:
    swatch = shop["swatch"]
    doc = search_engine.get("videos", [str(swatch.id)])[str(swatch.id)].source
    assert doc["product_names"] == ["雕花口红 Lipstick", "玉容面霜"]
    assert doc["brands"] == ["花西子"]
    assert doc["categories"] == ["beauty.makeup", "beauty.skincare"]
    assert doc["price_bands"] == ["100-300"]
    artist = shop["artist"]
    assert search_engine.get("artists", [str(artist.id)])[str(artist.id)].source["categories"][:1] == ["beauty.makeup"]


def test_a_product_change_reaches_the_videos_that_show_it(
    db_session: Session, search_engine: EmbeddedEngine, index_now: Callable[[], None], shop: dict[str, Any]
) -> None:
    lipstick, swatch = shop["lipstick"], shop["swatch"]
    lipstick.name = "同心锁口红"
    emit(db_session, "product", lipstick.id)
    db_session.commit()
    index_now()
    doc = search_engine.get("videos", [str(swatch.id)])[str(swatch.id)].source
    assert doc["product_names"][0] == "同心锁口红"
    # A change videos do not show (the showcase count) queues no video events.
    db_session.add(ShowcaseItem(artist_id=factories.user(db_session, artist=True).id, product_id=lipstick.id))
    emit(db_session, "product", lipstick.id)
    db_session.commit()
    last = db_session.scalar(select(OutboxEvent.id).order_by(OutboxEvent.id.desc()).limit(1))
    index_now()
    later = db_session.scalars(select(OutboxEvent.topic).where(OutboxEvent.id > (last or 0))).all()
    assert "video" not in later
    assert search_engine.get("products", [str(lipstick.id)])[str(lipstick.id)].source["artists"] == 2
    # Taken off sale: gone from product search and from the video's cards.
    lipstick.status = ProductStatus.ARCHIVED
    emit(db_session, "product", lipstick.id)
    index_now()
    assert search_engine.get("products", [str(lipstick.id)]) == {}
    assert search_engine.get("videos", [str(swatch.id)])[str(swatch.id)].source["product_names"] == ["玉容面霜"]


def test_purchases_count_on_the_product(
    db_session: Session, search_engine: EmbeddedEngine, index_now: Callable[[], None], shop: dict[str, Any]
) -> None:
    cream, swatch = shop["cream"], shop["swatch"]
    buyer = factories.user(db_session)
    engagement.record_purchase(
        db_session, video_id=swatch.id, user_id=buyer.id, order_line_ref="L1", product_id=cream.id
    )
    db_session.commit()
    engagement.drain(db_session)
    index_now()
    assert search_engine.get("products", [str(cream.id)])[str(cream.id)].source["purchases"] == 1
    assert search_engine.get("videos", [str(swatch.id)])[str(swatch.id)].source["purchases"] == 1


def test_product_search_with_facets_and_sorting(client: FlaskClient, shop: dict[str, Any]) -> None:
    r = client.get("/api/v1/search", query_string={"type": "products", "q": "口红"})
    body = r.get_json()
    assert r.status_code == 200, body
    assert [p["name"] for p in body["products"]] == ["雕花口红 Lipstick"]
    assert body["products"][0]["highlight"]["name"] == "雕花<em>口红</em> Lipstick"
    everything = client.get("/api/v1/search", query_string={"type": "products", "sort": "price_asc"}).get_json()
    assert [p["name"] for p in everything["products"]] == [
        "雕花口红 Lipstick",
        "玉容面霜",
        "C202 竞速跑鞋 running shoes",
    ]
    assert {b["key"]: b["count"] for b in everything["facets"]["brand"]} == {"花西子": 2, "安踏": 1}
    labels = {b["key"]: b["label"] for b in everything["facets"]["category"]}
    assert labels["beauty.makeup"] == "美妆/彩妆"
    beauty = client.get("/api/v1/search", query_string={"type": "products", "category": "beauty"}).get_json()
    assert beauty["total"] == 2  # a top-level category selects its leaves
    assert {b["key"]: b["count"] for b in beauty["facets"]["category"]} == {
        "beauty.makeup": 1, "beauty.skincare": 1, "apparel.shoes": 1,
    }  # fmt: skip
    cheap = client.get("/api/v1/search", query_string={"type": "products", "price_band": "100-300"}).get_json()
    assert cheap["total"] == 2
    english = client.get(
        "/api/v1/search", query_string={"type": "products", "q": "skincare"}, headers={"Accept-Language": "en"}
    ).get_json()
    assert [p["name"] for p in english["products"]] == ["玉容面霜"]  # found by its category's English name
    assert client.get("/api/v1/search", query_string={"type": "products", "sort": "latest"}).status_code == 422
    assert client.get("/api/v1/search", query_string={"type": "videos", "sort": "price_asc"}).status_code == 422


def test_video_search_by_product_and_its_facets(client: FlaskClient, shop: dict[str, Any]) -> None:
    _swatch, run = shop["swatch"], shop["run"]
    found = client.get("/api/v1/search", query_string={"q": "running shoes"}).get_json()
    assert [v["id"] for v in found["videos"]] == [run.id]  # matched through the linked product's name
    everything = client.get("/api/v1/search").get_json()
    assert {b["key"]: b["count"] for b in everything["facets"]["category"]} == {
        "beauty.makeup": 1, "beauty.skincare": 1, "apparel.shoes": 1,
    }  # fmt: skip
    assert {b["key"]: b["count"] for b in everything["facets"]["price_band"]} == {"100-300": 1, "300-1000": 1}
    shoes = client.get("/api/v1/search", query_string={"category": "apparel"}).get_json()
    assert [v["id"] for v in shoes["videos"]] == [run.id]
    assert client.get("/api/v1/suggest", query_string={"q": "玉容"}).get_json()[0]["kind"] == "product"

"""The catalog API is in the OpenAPI document, and the demo seed builds a browsable catalog."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.catalog import affiliate, showcase
from commerce.catalog.models import Product, ProductStatus
from core.accounts.models import User


def test_catalog_endpoints_are_documented(client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    paths = doc["paths"]
    for path, method in [
        ("/api/v1/catalog/categories", "get"),
        ("/api/v1/brands/{brand_id}/products", "post"),
        ("/api/v1/brands/{brand_id}/products", "get"),
        ("/api/v1/products/{product_id}", "patch"),
        ("/api/v1/products/{product_id}/skus/{sku_id}", "delete"),
        ("/api/v1/products/{product_id}/images", "post"),
        ("/api/v1/brands/{brand_id}/catalog/import", "post"),
        ("/api/v1/brands/{brand_id}/catalog/export", "get"),
        ("/api/v1/products/{product_id}/affiliate", "put"),
        ("/api/v1/affiliate/products", "get"),
        ("/api/v1/me/showcase", "post"),
        ("/api/v1/artists/{artist_id}/showcase", "get"),
        ("/api/v1/videos/{video_id}/products", "put"),
        ("/api/v1/videos/{video_id}/suggestions", "get"),
        ("/api/v1/videos/{video_id}/suggestions/products/{product_id}/dismiss", "post"),
    ]:
        assert method in paths.get(path, {}), (path, method)
    upload = paths["/api/v1/products/{product_id}/images"]["post"]
    schema = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["properties"]["file"] == {"type": "string", "format": "binary"}
    assert "413" in upload["responses"]
    export = paths["/api/v1/brands/{brand_id}/catalog/export"]["get"]
    assert "text/csv" in export["responses"]["200"]["content"]
    market = paths["/api/v1/affiliate/products"]["get"]
    assert {p["name"] for p in market["parameters"]} >= {
        "category",
        "price_min_fen",
        "price_max_fen",
        "min_rate_bp",
        "brand_id",
        "sort",
        "cursor",
        "limit",
    }
    assert "ProductOut" in doc["components"]["schemas"]
    hashtags = paths["/api/v1/videos/{video_id}/suggestions/hashtags/{action}"]["post"]
    action = next(p for p in hashtags["parameters"] if p["name"] == "action")
    assert action["schema"] == {"type": "string", "enum": ["accept", "dismiss"]}


def test_demo_seed_creates_a_catalog_with_pictures_offers_and_a_showcase(app_ctx: Flask, db_session: Session) -> None:
    from web.demo import seed

    with app_ctx.app_context():
        summary = seed(db_session)
    assert any("demo catalog" in line for line in summary)
    brand_user = db_session.scalar(select(User).where(User.email == "brand@xinglian.local"))
    artist = db_session.scalar(select(User).where(User.email == "artist@xinglian.local"))
    assert brand_user is not None
    assert artist is not None
    items = list(db_session.scalars(select(Product).where(Product.brand_id == brand_user.brand_ids()[0])).unique())
    assert len(items) == 5
    assert all(p.status == ProductStatus.ACTIVE and p.skus and p.images for p in items)
    store = app_ctx.extensions["storage"]
    assert all(store.exists(key) for p in items for key in p.images[0].renditions.values())
    open_items = [p for p in items if affiliate.commission_rates(db_session, p.id).offer_id is not None]
    assert len(open_items) == 4
    carried, _ = showcase.list_showcase(db_session, None, artist.id)
    assert {e.product.id for e in carried} == {p.id for p in open_items}

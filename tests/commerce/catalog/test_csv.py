"""Catalog CSV: every bad row reported, nothing half-imported; Excel-style files; export imports back."""

from __future__ import annotations

import io

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from commerce.catalog import csv_io
from commerce.catalog.limits import CatalogLimits
from commerce.catalog.models import Product, ProductStatus, Sku
from core.errors import ValidationFailed
from tests import factories
from tests.commerce.catalog.conftest import Shop
from tests.commerce.catalog.helpers import bearer, events_since, outbox_mark, problem_fields

LIMITS = CatalogLimits()
HEADER = "product_code,name,category,status,description,sku_code,attributes,price,list_price,stock\n"
GOOD = HEADER + (
    "DRESS-1,法式碎花连衣裙,服饰/女装,active,夏季雪纺,DR-S,颜色:蓝;尺码:S,259.00,399.00,10\n"
    "DRESS-1,法式碎花连衣裙,服饰/女装,active,夏季雪纺,DR-M,颜色:蓝;尺码:M,259,399,20\n"
    "SUN-1,清透防晒霜,beauty.skincare,,,SUN-50,规格:50ml,129.00,,100\n"
    "DRAFT-1,新品预告,Beauty/Makeup,draft,,,,,,\n"
)


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_good_file_creates_products_and_skus_with_outbox_events(db_session: Session, shop: Shop) -> None:
    mark = outbox_mark(db_session)
    summary = csv_io.import_catalog(db_session, shop.member_a, shop.brand_a.id, GOOD.encode(), limits=LIMITS)
    assert (summary.products_created, summary.skus_created, summary.products_updated) == (3, 3, 0)
    dress = db_session.scalar(select(Product).where(Product.code == "DRESS-1"))
    assert dress is not None
    assert dress.status == ProductStatus.ACTIVE
    assert dress.category == "apparel.women"
    assert [(s.code, s.attributes, s.price_fen, s.list_price_fen, s.stock) for s in dress.skus] == [
        ("DR-S", {"颜色": "蓝", "尺码": "S"}, 25900, 39900, 10),
        ("DR-M", {"颜色": "蓝", "尺码": "M"}, 25900, 39900, 20),
    ]
    sun = db_session.scalar(select(Product).where(Product.code == "SUN-1"))
    assert sun is not None
    assert sun.status == ProductStatus.DRAFT
    draft = db_session.scalar(select(Product).where(Product.code == "DRAFT-1"))
    assert draft is not None
    assert draft.skus == []
    assert draft.category == "beauty.makeup"
    touched = {e for e in events_since(db_session, mark)}
    assert touched == {("product", str(p.id)) for p in (dress, sun, draft)}


def test_bad_rows_are_each_reported_and_nothing_is_imported(
    client: FlaskClient, db_session: Session, shop: Shop
) -> None:
    existing = factories.product(db_session, brand=shop.brand_a, code="OLD", prices=[5000])
    db_session.commit()
    bad = HEADER + (
        "A-1,好商品,beauty.skincare,active,,A-1-S,,99.00,,5\n"  # row 2: fine
        "B-1,坏价格,beauty.skincare,active,,B-1-S,,12.345,,5\n"  # row 3: three decimals
        "C-1,坏类目,美妆/不存在,active,,C-1-S,,10.00,,5\n"  # row 4: unknown category
        "D-1,重复SKU,food.snacks,active,,A-1-S,,10.00,,5\n"  # row 5: SKU code already used on row 2
        "E-1,文字价格,food.snacks,active,,E-1-S,,十块,,5\n"  # row 6: not a number
        "F-1,负库存,food.snacks,active,,F-1-S,,10.00,,-3\n"  # row 7: negative stock
        f"G-1,抢SKU,food.snacks,active,,{existing.skus[0].code},,10.00,,1\n"  # row 8: another product's SKU
    )
    products_before, skus_before = count(db_session, Product), count(db_session, Sku)
    mark = outbox_mark(db_session)
    r = client.post(
        f"/api/v1/brands/{shop.brand_a.id}/catalog/import",
        data={"file": (io.BytesIO(bad.encode()), "catalog.csv")},
        headers={**bearer(client, shop.owner_a), "Accept-Language": "en"},
        content_type="multipart/form-data",
    )
    assert r.status_code == 422
    body = r.get_json()
    assert body["code"] == "catalog_import_failed"
    assert body["title"] == "The CSV has 6 problem(s); nothing was imported. Fix them and retry"
    fields = problem_fields(r)
    assert {f: e["code"] for f, e in fields.items()} == {
        "rows.3.price": "invalid_price",
        "rows.4.category": "unknown_category",
        "rows.5.sku_code": "duplicate_sku",
        "rows.6.price": "invalid_price",
        "rows.7.stock": "stock_negative",
        "rows.8.sku_code": "sku_of_other_product",
    }
    assert fields["rows.5.sku_code"]["message"] == "Row 5: Duplicate SKU code (first used on row 2)"
    assert fields["rows.8.sku_code"]["message"] == "Row 8: This SKU code already belongs to product OLD"
    assert fields["rows.3.price"]["message"] == "Row 3: Price (price) is not an amount; use yuan such as 129.00"
    assert (fields["rows.3.price"]["row"], fields["rows.3.price"]["column"]) == (3, "price")
    assert fields["rows.4.category"]["message"] == (
        "Row 4: There is no category \u201c美妆/不存在\u201d; use one of the category codes listed below"
    )
    assert body["detail"].startswith("Valid category codes: beauty.skincare (Beauty/Skincare), beauty.makeup")
    assert "food.snacks (Food/Snacks)" in body["detail"]
    # Not even the good row 2 went in.
    assert (count(db_session, Product), count(db_session, Sku)) == (products_before, skus_before)
    assert events_since(db_session, mark) == []


def test_conflicting_product_columns_and_duplicate_attributes(db_session: Session, shop: Shop) -> None:
    data = HEADER + (
        "X,裙子,apparel.women,active,,X-1,颜色:红,10.00,,1\n"
        "X,裙子,服饰/女装,active,,X-2,颜色:蓝,10.00,,1\n"  # same category written as a path: fine
        "X,别的名字,apparel.women,archived,,X-3,颜色:绿,10.00,,1\n"
        "X,,,,,X-4,颜色:红,10.00,,1\n"
        "Y,无SKU在售,food.snacks,active,,,,,,\n"
        "Z,多余字段,food.snacks,draft,,,,,,7\n"
    )
    with pytest.raises(ValidationFailed) as err:
        csv_io.import_catalog(db_session, shop.owner_a, shop.brand_a.id, data.encode(), limits=LIMITS)
    assert {(f.field, f.code) for f in err.value.fields} == {
        ("rows.4.name", "conflicting_product_field"),
        ("rows.4.status", "conflicting_product_field"),
        ("rows.5.attributes", "duplicate_sku_attributes"),
        ("rows.6.status", "active_needs_sku"),
        ("rows.7.sku_code", "sku_fields_without_sku"),
    }


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "csv_empty"),
        (HEADER.encode(), "csv_empty"),
        (b"product_code,name\nA,B\n", "csv_missing_columns"),
        (HEADER.replace("stock", "stok").encode(), "csv_unknown_columns"),
        (b"\xff\xfe\x00\x00garbage", "csv_encoding"),
    ],
)
def test_malformed_files_get_a_file_level_error(db_session: Session, shop: Shop, data: bytes, code: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        csv_io.import_catalog(db_session, shop.owner_a, shop.brand_a.id, data, limits=LIMITS)
    assert err.value.fields[0].code == code


def test_excel_gbk_file_with_chinese_headers_imports(db_session: Session, shop: Shop) -> None:
    data = (
        "商品编码,商品名称,类目,状态,描述,SKU编码,规格,售价,划线价,库存\r\n"
        "EAR-1,降噪蓝牙耳机,数码/耳机音响,在售,通勤必备,EAR-1-K,颜色：黑；版本：Pro,399.00,499.00,8\r\n"
    ).encode("gb18030")
    summary = csv_io.import_catalog(db_session, shop.owner_a, shop.brand_a.id, data, limits=LIMITS)
    assert summary.skus_created == 1
    product = db_session.scalar(select(Product).where(Product.code == "EAR-1"))
    assert product is not None
    assert (product.name, product.category, product.status) == ("降噪蓝牙耳机", "digital.audio", ProductStatus.ACTIVE)
    assert product.skus[0].attributes == {"颜色": "黑", "版本": "Pro"}


def test_export_imports_back_unchanged_and_reimport_updates_in_place(
    client: FlaskClient, db_session: Session, shop: Shop
) -> None:
    tricky = HEADER + "=HYPERLINK,=cmd|' /C calc'!A0,food.snacks,active,\"- 多行\n描述, 带逗号\",T-1,,10.00,,3\n"
    with pytest.raises(ValidationFailed):  # '=HYPERLINK' is not a valid product code
        csv_io.import_catalog(db_session, shop.owner_a, shop.brand_a.id, tricky.encode(), limits=LIMITS)
    tricky = tricky.replace("=HYPERLINK", "T")
    csv_io.import_catalog(
        db_session, shop.owner_a, shop.brand_a.id, (GOOD + tricky[len(HEADER) :]).encode(), limits=LIMITS
    )
    factories.product(db_session, brand=shop.brand_b, code="OTHER-BRAND")
    db_session.commit()

    r = client.get(f"/api/v1/brands/{shop.brand_a.id}/catalog/export", headers=bearer(client, shop.member_a))
    assert r.status_code == 200
    assert r.mimetype == "text/csv"
    exported = r.data
    assert exported.startswith("\ufeff".encode())  # Excel needs the BOM to read UTF-8
    text = exported.decode("utf-8-sig")
    assert "OTHER-BRAND" not in text
    assert "'=cmd|" in text  # a formula is neutralised for spreadsheets
    assert "'- 多行" in text
    before = {(p.code, p.name, p.description, p.status, p.category) for p in db_session.scalars(select(Product))}
    skus_before = {
        (s.code, s.price_fen, s.list_price_fen, s.stock, tuple(s.attributes.items()))
        for s in db_session.scalars(select(Sku))
    }

    mark = outbox_mark(db_session)
    summary = csv_io.import_catalog(db_session, shop.owner_a, shop.brand_a.id, exported, limits=LIMITS)
    assert (summary.products_created, summary.skus_created) == (0, 0)
    assert (summary.products_updated, summary.skus_updated) == (0, 0)
    assert (summary.products_unchanged, summary.skus_unchanged) == (4, 4)  # skipped: nothing differs
    assert events_since(db_session, mark) == []
    assert {
        (p.code, p.name, p.description, p.status, p.category) for p in db_session.scalars(select(Product))
    } == before
    assert {
        (s.code, s.price_fen, s.list_price_fen, s.stock, tuple(s.attributes.items()))
        for s in db_session.scalars(select(Sku))
    } == skus_before
    t = db_session.scalar(select(Product).where(Product.code == "T"))
    assert t is not None
    assert t.name == "=cmd|' /C calc'!A0"
    assert t.description == "- 多行\n描述, 带逗号"

    changed = text.replace("DR-M,颜色:蓝;尺码:M,259.00", "DR-M,颜色:蓝;尺码:M,199.00")
    mark = outbox_mark(db_session)
    summary = csv_io.import_catalog(db_session, shop.owner_a, shop.brand_a.id, changed.encode(), limits=LIMITS)
    assert (summary.products_updated, summary.skus_updated, summary.skus_unchanged) == (1, 1, 3)
    dress = db_session.scalar(select(Product).where(Product.code == "DRESS-1"))
    assert dress is not None
    assert (dress.price_min_fen, dress.price_max_fen) == (19900, 25900)
    assert ("product", str(dress.id)) in events_since(db_session, mark)  # search hears of the new price


def test_dry_run_reports_without_writing(client: FlaskClient, db_session: Session, shop: Shop) -> None:
    before = count(db_session, Product)
    mark = outbox_mark(db_session)
    r = client.post(
        f"/api/v1/brands/{shop.brand_a.id}/catalog/import?dry_run=true",
        data={"file": (io.BytesIO(GOOD.encode()), "catalog.csv")},
        headers=bearer(client, shop.owner_a),
        content_type="multipart/form-data",
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {
        "products_created": 3,
        "products_updated": 0,
        "products_unchanged": 0,
        "skus_created": 3,
        "skus_updated": 0,
        "skus_unchanged": 0,
        "dry_run": True,
    }
    assert count(db_session, Product) == before
    assert events_since(db_session, mark) == []


def test_other_brands_cannot_import_or_export(client: FlaskClient, shop: Shop) -> None:
    h = bearer(client, shop.owner_b)
    r = client.post(
        f"/api/v1/brands/{shop.brand_a.id}/catalog/import",
        data={"file": (io.BytesIO(GOOD.encode()), "catalog.csv")},
        headers=h,
        content_type="multipart/form-data",
    )
    assert r.status_code == 403
    assert client.get(f"/api/v1/brands/{shop.brand_a.id}/catalog/export", headers=h).status_code == 403
    r = client.post(f"/api/v1/brands/{shop.brand_a.id}/catalog/import", json={}, headers=bearer(client, shop.owner_a))
    assert r.status_code == 400
    assert r.get_json()["code"] == "multipart_required"


def test_every_bad_cell_of_every_row_is_reported_in_both_languages(
    client: FlaskClient, db_session: Session, shop: Shop
) -> None:
    bad = HEADER + (
        "坏 编码,,美妆/不存在,maybe,,S 1,颜色,-5.00,,x\n"  # row 2: every column wrong at once
        "OK-1,好商品,beauty.skincare,active,,OK-1-S,,-0.5,,1\n"  # row 3: a negative price
        "OK-2,好商品,food.snacks,draft,,,,,,\n"  # row 4: fine
        "NO-CAT,无类目,,draft,,NC-1,,abc,,2\n"  # row 5: no category, a price that is not a number
    )

    def send(lang: str) -> dict:
        r = client.post(
            f"/api/v1/brands/{shop.brand_a.id}/catalog/import",
            data={"file": (io.BytesIO(bad.encode()), "catalog.csv")},
            headers={**bearer(client, shop.owner_a), "Accept-Language": lang},
            content_type="multipart/form-data",
        )
        assert r.status_code == 422
        return r.get_json()

    en = send("en")
    assert {(e["row"], e["column"], e["code"]) for e in en["errors"]} == {
        (2, "product_code", "invalid_code"),
        (2, "name", "required"),
        (2, "category", "unknown_category"),
        (2, "status", "invalid_status"),
        (2, "sku_code", "invalid_code"),
        (2, "attributes", "invalid_attributes"),
        (2, "price", "price_negative"),
        (2, "stock", "invalid_stock"),
        (3, "price", "price_negative"),
        (5, "category", "required"),
        (5, "price", "invalid_price"),
    }
    said = {(e["row"], e["column"]): e["message"] for e in en["errors"]}
    assert said[(3, "price")] == "Row 3: The price cannot be negative"
    assert said[(2, "name")] == "Row 2: Name (name) is required"
    assert en["title"] == "The CSV has 11 problem(s); nothing was imported. Fix them and retry"
    assert "beauty.skincare (Beauty/Skincare)" in en["detail"]

    zh = send("zh-CN")
    said = {(e["row"], e["column"]): e["message"] for e in zh["errors"]}
    assert said[(3, "price")] == "第 3 行：价格不能为负数"
    assert said[(2, "name")] == "第 2 行：请填写商品名称（name）"
    assert said[(5, "price")] == "第 5 行：售价（price）格式无效，应为以元为单位的数字，如 129.00"
    assert said[(2, "category")] == "第 2 行：没有「美妆/不存在」这个类目，请填写下方列出的类目编码"
    assert zh["detail"].startswith("可用的类目编码：beauty.skincare（美妆/护肤），")
    assert count(db_session, Product) == 0

"""Coupons over HTTP: brand and admin create and grant, buyers claim and see their wallet, checkout quotes and
places with wallet coupons, the brand sees the numbers; every refusal a sentence in both languages."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient

from core.clock import FrozenClock
from core.settings import Settings
from tests.commerce.conftest import START
from tests.commerce.money import Market
from tests.factories import bearer
from tests.web.test_money_api import ADDRESS, webhooks


def as_(m: Market, user: Any, lang: str = "zh-CN") -> dict[str, str]:
    return {**bearer(m.session, user), "Accept-Language": lang}


def create(m: Market, client: FlaskClient, **kw: Any) -> Any:
    body = {"kind": "amount", "value": 1_000, **kw}
    return client.post(f"/api/v1/brands/{m.brand.id}/coupons", json=body, headers=as_(m, m.owner))


def claim(m: Market, client: FlaskClient, coupon_id: int, lang: str = "zh-CN") -> Any:
    return client.post(f"/api/v1/coupons/{coupon_id}/claim", headers=as_(m, m.buyer, lang))


def refused(ask: Any, status: int, code: str, zh: str, en: str) -> None:
    for lang, text in (("zh-CN", zh), ("en", en)):
        r = ask(lang)
        assert r.status_code == status, r.get_json()
        assert r.headers["Content-Type"].startswith("application/problem+json")
        body = r.get_json()
        said = [body["title"], *(e.get("message") for e in body.get("errors", []))]
        assert body["code"] == code or code in [e.get("code") for e in body.get("errors", [])], body
        assert any(text in (s or "") for s in said), (said, text)


def test_claim_quote_place_pay_and_count(m: Market, client: FlaskClient, settings: Settings) -> None:
    r = create(m, client, kind="threshold", value=2_000, min_subtotal=10_000, name="满百减二十", max_uses=10)
    assert r.status_code == 201, r.get_json()
    coupon = r.get_json()
    assert (coupon["funded_by"], coupon["kind"], coupon["claimed_count"]) == ("brand", "threshold", 0)
    r = client.post("/api/v1/admin/coupons", json={"kind": "percent", "value": 1_000, "max_discount": 500},
                    headers=as_(m, m.admin))  # fmt: skip
    assert r.status_code == 201, r.get_json()
    site = r.get_json()
    offered = client.get(f"/api/v1/products/{m.product.id}/coupons", headers=as_(m, m.buyer)).get_json()
    assert [(c["id"], c["held"]) for c in offered] == [(coupon["id"], 0), (site["id"], 0)]
    mine = claim(m, client, coupon["id"])
    assert mine.status_code == 201, mine.get_json()
    theirs = client.post(f"/api/v1/admin/coupons/{site['id']}/grants", json={"user_ids": [m.buyer.id]},
                         headers={**as_(m, m.admin), "Idempotency-Key": "grant-1"})  # fmt: skip
    assert theirs.get_json() == {"granted": [m.buyer.id], "refused": {}}
    wallet = client.get("/api/v1/me/coupons", headers=as_(m, m.buyer)).get_json()
    ids = [w["id"] for w in wallet]
    assert {w["coupon"]["funded_by"] for w in wallet} == {"brand", "platform"}

    items = [{"sku_id": m.sku.id, "quantity": 1}]
    q = client.post("/api/v1/checkouts/quote", json={"items": items, "coupon_ids": ids}, headers=as_(m, m.buyer))
    assert q.status_code == 200, q.get_json()
    # 10_000 - 2_000 (brand) = 8_000, then 10% of it, capped at 500 (platform).
    assert {k: q.get_json()[k] for k in ("subtotal", "brand_discount", "platform_discount", "total")} == {
        "subtotal": 10_000, "brand_discount": 2_000, "platform_discount": 500, "total": 7_500}  # fmt: skip
    r = client.post("/api/v1/checkouts", json={"items": items, "address": ADDRESS, "coupon_ids": ids},
                    headers={**as_(m, m.buyer), "Idempotency-Key": "coupon-checkout-1"})  # fmt: skip
    assert r.status_code == 201, r.get_json()
    placed = r.get_json()
    assert placed["total"] == 7_500
    (line,) = placed["orders"][0]["lines"]
    assert (line["discount"], line["platform_discount"], line["paid_amount"]) == (2_500, 500, 7_500)
    pay_path = urlsplit(placed["pay_url"]).path
    page = client.get(pay_path).get_data(as_text=True)
    assert "¥75.00" in page  # the provider asks for the reduced total
    token = re.search(r'name="form_token" value="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]
    client.post(pay_path, data={"form_token": token, "action": "pay"})
    assert webhooks(client, settings, m.session) == [200]
    listed = client.get(f"/api/v1/brands/{m.brand.id}/coupons", headers=as_(m, m.owner)).get_json()
    assert {k: listed[0][k] for k in ("claimed", "used", "gmv", "cost")} == {
        "claimed": 1, "used": 1, "gmv": 7_500, "cost": 2_000}  # fmt: skip


def test_refusals_are_sentences_in_both_languages(m: Market, client: FlaskClient, clock: FrozenClock) -> None:
    later = create(m, client, starts_at=(START + dt.timedelta(days=1)).isoformat()).get_json()
    refused(lambda lang: claim(m, client, later["id"], lang), 409, "coupon_not_started", "优惠券尚未开始",
            "This coupon is not valid until")  # fmt: skip
    short = create(m, client, ends_at=(START + dt.timedelta(hours=1)).isoformat(), max_uses=1).get_json()
    assert claim(m, client, short["id"]).status_code == 201
    refused(lambda lang: claim(m, client, short["id"], lang), 409, "coupon_user_limit", "每人限领 1 张",
            "You already hold the 1 allowed per person")  # fmt: skip
    other = client.post(f"/api/v1/coupons/{short['id']}/claim", headers=as_(m, m.sharer))
    assert other.get_json()["code"] == "coupon_exhausted"
    big = create(m, client, kind="threshold", value=1_000, min_subtotal=50_000).get_json()
    two = [claim(m, client, big["id"]).get_json()["id"]]
    items = [{"sku_id": m.sku.id, "quantity": 1}]

    def quote(ids: list[int]) -> Any:
        return lambda lang: client.post("/api/v1/checkouts/quote", json={"items": items, "coupon_ids": ids},
                                        headers=as_(m, m.buyer, lang))  # fmt: skip

    refused(quote(two), 422, "coupon_min_not_met", "未达到优惠券使用门槛", "do not reach the coupon's minimum")
    plain = [claim(m, client, create(m, client, value=100).get_json()["id"]).get_json()["id"] for _ in range(1)]
    plain.append(claim(m, client, create(m, client, value=200).get_json()["id"]).get_json()["id"])
    refused(quote(plain), 422, "coupon_stacking", "每笔订单最多使用一张品牌券和一张平台券",
            "at most one brand coupon and one platform coupon")  # fmt: skip
    clock.advance(hours=2)
    wallet = client.get("/api/v1/me/coupons", headers=as_(m, m.buyer)).get_json()
    expired = next(w["id"] for w in wallet if w["coupon"]["id"] == short["id"])
    refused(quote([expired]), 422, "coupon_expired", "优惠券已过期", "This coupon has expired")


def test_only_members_and_admins_manage_coupons(m: Market, client: FlaskClient) -> None:
    r = client.post(f"/api/v1/brands/{m.brand.id}/coupons", json={"kind": "amount", "value": 100},
                    headers=as_(m, m.buyer))  # fmt: skip
    assert r.status_code == 403
    r = client.post("/api/v1/admin/coupons", json={"kind": "amount", "value": 100}, headers=as_(m, m.owner))
    assert r.status_code == 403
    r = create(m, client, kind="threshold", value=1_000, min_subtotal=500)
    assert r.status_code == 422
    assert r.get_json()["errors"][0]["field"] == "min_subtotal"

"""The distributor programme over HTTP: terms, invite + QR, join, approve, pick, shop, visit, buy, reports;
refusals are sentences in both languages."""

from __future__ import annotations

import io
from typing import Any

from flask.testing import FlaskClient

from commerce.orders.models import Checkout
from core.clock import FrozenClock
from core.settings import Settings
from tests.commerce.money import Market, payment_of
from tests.web import test_coupons_api
from tests.web.test_coupons_api import as_
from tests.web.test_money_api import ADDRESS, webhooks

# The coupons API tests' market and frozen clock, as fixtures of this module too.
clock, m = test_coupons_api.clock, test_coupons_api.m


def _open(m: Market, client: FlaskClient, **kw: Any) -> Any:
    body = {"binding_days": 15, "default_rate_bp": 1000, "level2_share_bp": 2000, **kw}
    return client.put(f"/api/v1/brands/{m.brand.id}/distribution", json=body, headers=as_(m, m.owner))


def _join(m: Market, client: FlaskClient, user: Any, inviter: Any) -> dict[str, Any]:
    invite = client.post(f"/api/v1/brands/{m.brand.id}/distribution/invites", headers=as_(m, inviter))
    assert invite.status_code == 201, invite.get_json()
    joined = client.post("/api/v1/distribution/join", json={"invite": invite.get_json()["token"], "store": "徐汇店"},
                         headers=as_(m, user))  # fmt: skip
    assert joined.status_code == 201, joined.get_json()
    d = joined.get_json()
    r = client.patch(f"/api/v1/brands/{m.brand.id}/distributors/{d['id']}", json={"status": "approved"},
                     headers=as_(m, m.owner))  # fmt: skip
    assert r.status_code == 200, r.get_json()
    return d


def test_the_whole_programme_over_http(m: Market, client: FlaskClient, clock: FrozenClock, settings: Settings) -> None:
    r = _open(m, client)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["levels"] == 2
    invite = client.post(f"/api/v1/brands/{m.brand.id}/distribution/invites", headers=as_(m, m.owner)).get_json()
    assert "<svg" in invite["qr_svg"]
    assert "/distribution/join/" in invite["url"]
    preview = client.get("/api/v1/distribution/invite", query_string={"invite": invite["token"]}).get_json()
    assert preview["brand_name"] == m.brand.name
    up = _join(m, client, m.upstream, m.owner)
    down = _join(m, client, m.sharer, m.upstream)
    assert down["inviter_id"] == up["id"]
    assert client.put(f"/api/v1/me/distribution/{down['id']}/picks/{m.product.id}",
                      headers=as_(m, m.sharer)).status_code == 204  # fmt: skip
    shop = client.get(f"/api/v1/shops/{down['id']}").get_json()
    assert [i["product_id"] for i in shop["items"]] == [m.product.id]
    assert "/s/" in shop["items"][0]["share_url"]
    visit = client.post(f"/api/v1/shops/{down['id']}/visits", headers=as_(m, m.buyer))
    assert visit.get_json() == {"bound": True}
    clock.advance(minutes=5)
    r = client.post("/api/v1/checkouts", json={"items": [{"sku_id": m.sku.id, "quantity": 1}], "address": ADDRESS},
                    headers={**as_(m, m.buyer), "Idempotency-Key": "d-1"})  # fmt: skip
    assert r.status_code == 201, r.get_json()
    line = r.get_json()["orders"][0]["lines"][0]
    assert (line["sharer_id"], line["sharer_rate_bp"]) == (m.sharer.id, 1000)
    checkout = m.session.get(Checkout, r.get_json()["id"])
    assert checkout is not None
    payment = payment_of(m, checkout)
    assert payment.provider_payment_id is not None
    m.provider.complete(payment.provider_payment_id, succeed=True)
    m.session.commit()
    assert webhooks(client, settings, m.session) == [200]
    dash = client.get(f"/api/v1/me/distribution/{down['id']}", headers=as_(m, m.sharer)).get_json()
    assert [o["level"] for o in dash["orders"]] == [1]
    assert dash["earned"] == 800  # 10 % of ¥100, less the inviter's 20 % share
    assert dash["customers"] == 1
    sales = client.get(f"/api/v1/brands/{m.brand.id}/distribution/sales", headers=as_(m, m.owner)).get_json()
    assert sales["gmv"] == 10_000
    for lang, words in (("zh-CN", "因招募或加入支付的奖励：0 分"), ("en", "Paid for recruiting or joining: 0 fen")):
        c = client.get(f"/api/v1/brands/{m.brand.id}/distribution/compliance", headers=as_(m, m.owner, lang))
        body = c.get_json()
        assert body["paid_by_level"] == {"1": 800, "2": 200}
        assert words in body["statement"]


def test_refusals_are_sentences(m: Market, client: FlaskClient) -> None:
    r = _open(m, client, default_rate_bp=9000)
    assert r.status_code == 422
    for lang, text in (("zh-CN", "默认佣金率"), ("en", "default commission rate")):
        body = client.put(f"/api/v1/brands/{m.brand.id}/distribution", headers=as_(m, m.owner, lang),
                          json={"binding_days": 0, "default_rate_bp": 9000}).get_json()  # fmt: skip
        messages = " ".join(e["message"] for e in body["errors"])
        assert text in messages
        assert "default_rate_bp" not in messages
    _open(m, client)
    for lang, text in (("zh-CN", "邀请链接无效"), ("en", "invite link is not valid")):
        bad = client.post("/api/v1/distribution/join", json={"invite": "k1.nope.nope"}, headers=as_(m, m.buyer, lang))
        assert bad.status_code == 422
        assert text in " ".join(e["message"] for e in bad.get_json()["errors"])
    assert client.get(f"/api/v1/brands/{m.brand.id}/distributors", headers=as_(m, m.buyer)).status_code == 403
    assert client.get("/api/v1/shops/999999").status_code == 404
    assert client.get("/api/v1/me/distribution/999999", headers=as_(m, m.buyer)).status_code == 404


def test_staff_csv_import(m: Market, client: FlaskClient) -> None:
    _open(m, client)
    csv = f"手机号,邮箱,门店,区域\n,{m.sharer.email},静安店,上海\n,nobody@example.com,静安店,上海\n"
    url = f"/api/v1/brands/{m.brand.id}/distributors/import"
    bad = client.post(url, data={"file": (io.BytesIO(csv.encode()), "staff.csv")}, headers=as_(m, m.owner, "en"))
    assert bad.status_code == 422
    assert any("Row 3" in e["message"] for e in bad.get_json()["errors"])
    first_row = "\n".join(csv.splitlines()[:2]).encode()
    good = client.post(url, data={"file": (io.BytesIO(first_row), "s.csv")}, headers=as_(m, m.owner))
    assert good.get_json() == {"created": 1, "updated": 0}
    rows = client.get(f"/api/v1/brands/{m.brand.id}/distributors", headers=as_(m, m.owner)).get_json()
    assert [(r["user_id"], r["status"], r["store"]) for r in rows] == [(m.sharer.id, "approved", "静安店")]

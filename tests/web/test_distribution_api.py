"""The distributor programme over HTTP: terms, invite + QR, join, approve, pick, shop, visit, buy, reports;
refusals are sentences in both languages."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from flask.testing import FlaskClient

from commerce.orders.models import Checkout
from core.clock import FrozenClock
from core.settings import Settings
from tests import factories
from tests.commerce.money import Market, payment_of
from tests.web.test_coupons_api import as_
from tests.web.test_money_api import ADDRESS, webhooks


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


def _said(r: Any) -> str:
    """The response's sentence for people: the title, and each field's message."""
    body = r.get_json() or {}
    return " ".join([body.get("title", ""), *(e.get("message", "") for e in body.get("errors", []))])


def test_every_route_refuses_strangers_other_brands_and_the_suspended(m: Market, client: FlaskClient) -> None:
    """Each distribution route, asked by nobody signed in, a signed-in stranger, a member of another brand, and a
    distributor the brand suspended: a refusal with a sentence (never the code), or what is theirs to see."""
    assert _open(m, client).status_code == 200
    d = _join(m, client, m.sharer, m.owner)
    theirs = client.post(f"/api/v1/brands/{m.brand.id}/distribution/invites", headers=as_(m, m.sharer)).get_json()
    assert client.put(f"/api/v1/me/distribution/{d['id']}/picks/{m.product.id}",
                      headers=as_(m, m.sharer)).status_code == 204  # fmt: skip
    r = client.patch(f"/api/v1/brands/{m.brand.id}/distributors/{d['id']}", json={"status": "suspended"},
                     headers=as_(m, m.owner))  # fmt: skip
    assert r.get_json()["status"] == "suspended"
    rival = factories.user(m.session)
    other = factories.brand(m.session, owner=rival)
    m.session.commit()
    fresh = client.post(f"/api/v1/brands/{m.brand.id}/distribution/invites", headers=as_(m, m.owner)).get_json()
    b, did, pid = m.brand.id, d["id"], m.product.id
    csv = {"file": (io.BytesIO(f",{m.buyer.email},店,区\n".encode()), "s.csv")}
    terms = {"binding_days": 15, "default_rate_bp": 1000}
    # method, path, json body, and the status for: stranger, rival, suspended (nobody signed in: 401 throughout)
    brand_only = [
        ("GET", f"/api/v1/brands/{b}/distribution", None),
        ("PUT", f"/api/v1/brands/{b}/distribution", terms),
        ("POST", f"/api/v1/brands/{b}/distribution/invites", None),
        ("POST", f"/api/v1/brands/{b}/distributors/import", "csv"),
        ("GET", f"/api/v1/brands/{b}/distributors", None),
        ("PATCH", f"/api/v1/brands/{b}/distributors/{did}", {"status": "approved"}),
        ("GET", f"/api/v1/brands/{b}/distribution/sales", None),
        ("GET", f"/api/v1/brands/{b}/distribution/compliance", None),
    ]
    cases = [(method, path, body, (403, 403, 403)) for method, path, body in brand_only]
    cases += [
        ("GET", f"/api/v1/me/distribution/{did}/catalog", None, (404, 404, 403)),
        ("PUT", f"/api/v1/me/distribution/{did}/picks/{pid}", None, (404, 404, 403)),
        ("DELETE", f"/api/v1/me/distribution/{did}/picks/{pid}", None, (404, 404, 403)),
        ("GET", f"/api/v1/me/distribution/{did}", None, (404, 404, 200)),  # their own earnings stay theirs to see
        ("POST", f"/api/v1/shops/{did}/visits", None, (404, 404, 404)),
        ("POST", "/api/v1/distribution/join", {"invite": fresh["token"]}, (201, 201, 403)),
    ]
    people = {"stranger": m.buyer, "rival": rival, "suspended": m.sharer}
    for method, path, body, expected in cases:
        for (who, user), status in zip(people.items(), expected, strict=True):
            for lang in ("zh-CN", "en"):
                kw: dict[str, Any] = {"headers": as_(m, user, lang)}
                if body == "csv":
                    csv["file"][0].seek(0)
                    kw["data"] = {"file": (io.BytesIO(csv["file"][0].read()), "s.csv")}
                elif body is not None:
                    kw["json"] = body
                r = client.open(path, method=method, **kw)
                assert r.status_code == status, (method, path, who, r.get_json())
                if status >= 400:
                    said, code = _said(r), r.get_json()["code"]
                    assert said.strip()
                    assert code not in said, (method, path, who, said)
                    if lang == "en":
                        assert " " in said.strip(), said  # a sentence, not a code
                    if who == "suspended" and status == 403 and not path.startswith(f"/api/v1/brands/{b}/"):
                        assert code == "distribution_suspended"
        anon = client.open(path, method=method, json=body if isinstance(body, dict) else None)
        assert anon.status_code == 401, (method, path)
    # Another brand's member cannot decide on this brand's distributor through their own brand either.
    r = client.patch(f"/api/v1/brands/{other.id}/distributors/{did}", json={"status": "approved"},
                     headers=as_(m, rival, "en"))  # fmt: skip
    assert r.status_code == 404
    assert "no such distributor" in _said(r)
    # A suspended distributor's shop is closed to everyone, and their invite brings nobody in.
    for lang, text in (("zh-CN", "找不到这个小店"), ("en", "does not exist or is closed")):
        shop = client.get(f"/api/v1/shops/{did}", headers={"Accept-Language": lang})
        assert shop.status_code == 404
        assert text in _said(shop)
        preview = client.get("/api/v1/distribution/invite", query_string={"invite": theirs["token"]},
                             headers={"Accept-Language": lang})  # fmt: skip
        assert preview.status_code == 422
        assert ("已被品牌暂停" if lang == "zh-CN" else "is suspended") in _said(preview)
    newcomer = factories.user(m.session)
    m.session.commit()
    joined = client.post("/api/v1/distribution/join", json={"invite": theirs["token"]}, headers=as_(m, newcomer, "en"))
    assert joined.status_code == 422
    assert "ask the brand for a new invite" in _said(joined)
    rows = client.get(f"/api/v1/brands/{b}/distributors", headers=as_(m, m.owner)).get_json()
    assert {r["user_id"] for r in rows} == {m.sharer.id, m.buyer.id, rival.id}  # the stranger and rival who joined
    assert next(r["status"] for r in rows if r["user_id"] == m.sharer.id) == "suspended"  # never self-reinstated


def test_report_ranges_over_http(m: Market, client: FlaskClient, clock: FrozenClock) -> None:
    assert _open(m, client, product_rates=[{"product_id": m.product.id, "rate_bp": 1500}]).status_code == 200
    kept = _open(m, client, renew_on_purchase=False).get_json()  # no product_rates: the rates stay
    assert kept["rates"] == [{"product_id": m.product.id, "rate_bp": 1500}]
    assert kept["renew_on_purchase"] is False
    d = _join(m, client, m.sharer, m.owner)
    today = clock.now().date()
    sales_url, dash_url = f"/api/v1/brands/{m.brand.id}/distribution/sales", f"/api/v1/me/distribution/{d['id']}"
    sales = client.get(sales_url, headers=as_(m, m.owner)).get_json()
    assert sales["period"] == {"from": (today - dt.timedelta(days=29)).isoformat(), "to": today.isoformat()}
    dash = client.get(dash_url, headers=as_(m, m.sharer)).get_json()
    assert dash["period"] == sales["period"]
    span = {"from": "2020-01-01", "to": "2020-01-31"}
    assert client.get(sales_url, query_string=span, headers=as_(m, m.owner)).get_json()["period"] == span
    assert client.get(dash_url, query_string=span, headers=as_(m, m.sharer)).get_json()["period"] == span
    only_to = client.get(sales_url, query_string={"to": "2020-01-31"}, headers=as_(m, m.owner)).get_json()
    assert only_to["period"] == {"from": "2020-01-02", "to": "2020-01-31"}
    bad = [{"from": "2020-02-01", "to": "2020-01-01"}, {"from": "2019-01-01", "to": "2020-06-01"},
           {"from": "not-a-day"}, {"to": "2020-13-40"}, {"to": "9" * 30}]  # fmt: skip
    for query in bad:
        for url, who in ((sales_url, m.owner), (dash_url, m.sharer)):
            for lang, words in (("zh-CN", "日期"), ("en", "")):
                r = client.get(url, query_string=query, headers=as_(m, who, lang))
                assert r.status_code == 422, (query, r.get_json())
                said = _said(r)
                assert words in said
                assert "query." not in said
                assert "report_range" not in said
                assert "Input should" not in said  # pydantic's own words are not shown to people
    nul = client.get(sales_url, query_string={"from": "2020-01-01\x00"}, headers=as_(m, m.owner))
    assert nul.status_code == 400
    assert _said(nul).strip()
    assert "from" in {p["name"] for p in _parameters(client, "/api/v1/brands/{brand_id}/distribution/sales")}


def _parameters(client: FlaskClient, path: str) -> list[dict[str, Any]]:
    doc = client.get("/api/v1/openapi.json").get_json()
    return doc["paths"][path]["get"]["parameters"]

"""砍价 over HTTP: the brand makes an offer, a buyer starts a bargain, friends help, the checkout charges the
bargained price; who may do what; every refusal a 4xx with a sentence in both languages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask.testing import FlaskClient

from core.clock import FrozenClock
from tests.commerce.conftest import START
from tests.commerce.money import Market
from tests.factories import bearer
from tests.web.test_money_api import ADDRESS


def make_offer(m: Market, client: FlaskClient, user: Any = None, lang: str = "zh-CN", **kw: Any) -> Any:
    body: dict[str, Any] = {"sku_id": m.sku.id, "floor_fen": 7_000, "max_helpers": 3, "window_hours": 24,
                            "starts_at": START, "ends_at": START + dt.timedelta(days=2)}  # fmt: skip
    body.update(kw)
    body = {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in body.items()}
    return client.post(f"/api/v1/brands/{m.brand.id}/bargains", json=body,
                       headers={**bearer(m.session, user or m.owner), "Accept-Language": lang})  # fmt: skip


def as_(m: Market, user: Any, lang: str = "zh-CN") -> dict[str, str]:
    return {**bearer(m.session, user), "Accept-Language": lang}


def start(m: Market, client: FlaskClient, offer: dict[str, Any], user: Any, lang: str = "zh-CN") -> Any:
    return client.post(f"/api/v1/bargain-offers/{offer['id']}/start", headers=as_(m, user, lang))


def refused(ask: Any, code: str, zh: str, en: str) -> None:
    for lang, title in (("zh-CN", zh), ("en", en)):
        r = ask(lang)
        assert r.status_code == 409, r.get_json()
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert (r.get_json()["code"], r.get_json()["title"]) == (code, title)


def test_a_bargain_from_offer_to_checkout_over_http(m: Market, client: FlaskClient) -> None:
    r = make_offer(m, client)
    assert r.status_code == 201, r.get_json()
    offer = r.get_json()
    assert (offer["price_fen"], offer["floor_fen"], offer["max_helpers"]) == (10_000, 7_000, 3)

    listed = client.get(f"/api/v1/products/{m.product.id}/bargains").get_json()  # what the product sheet asks
    assert [(x["id"], x["phase"], x["schedule"], x["my_bargain_id"]) for x in listed] == [
        (offer["id"], "live", [1_000, 1_000, 1_000], None)]  # fmt: skip
    assert [x["id"] for x in client.get(f"/api/v1/videos/{m.video.id}/bargains").get_json()] == [offer["id"]]

    assert client.post(f"/api/v1/bargain-offers/{offer['id']}/start").status_code == 401
    started = client.post(f"/api/v1/bargain-offers/{offer['id']}/start", headers=as_(m, m.buyer))
    assert started.status_code == 201, started.get_json()
    b = started.get_json()
    assert (b["price_now_fen"], b["left_fen"], b["helps_left"], b["phase"], b["is_owner"]) == (
        10_000, 3_000, 3, "active", True)  # fmt: skip
    again = client.post(f"/api/v1/bargain-offers/{offer['id']}/start", headers=as_(m, m.buyer)).get_json()
    assert again["id"] == b["id"]  # the running one
    mine = client.get(f"/api/v1/products/{m.product.id}/bargains", headers=as_(m, m.buyer)).get_json()
    assert mine[0]["my_bargain_id"] == b["id"]

    url = f"/api/v1/bargains/{b['id']}"
    assert client.post(f"{url}/help").status_code == 401
    refused(lambda lang: client.post(f"{url}/help", headers=as_(m, m.buyer, lang)), "bargain_self_help",
            "不能给自己的砍价助力，请邀请好友", "You cannot help your own bargain: ask a friend")  # fmt: skip
    helped = client.post(f"{url}/help", headers=as_(m, m.sharer))
    assert helped.status_code == 201, helped.get_json()
    assert (helped.get_json()["price_now_fen"], helped.get_json()["helped"]) == (9_000, True)
    refused(lambda lang: client.post(f"{url}/help", headers=as_(m, m.sharer, lang)), "bargain_already_helped",
            "您已为这个砍价助力过", "You have already helped this bargain")  # fmt: skip
    seen = client.get(url).get_json()  # anyone with the link
    assert (seen["cut_fen"], seen["left_fen"], seen["helps_left"], seen["is_owner"]) == (1_000, 2_000, 2, False)
    assert [h["cut_fen"] for h in seen["helpers"]] == [1_000]

    # The checkout page and the order: the bargained price, the cut a brand-funded discount.
    page = client.get(f"/checkout?product={m.product.id}&sku={m.sku.id}", headers=bearer(m.session, m.buyer))
    text = page.get_data(as_text=True)
    assert "data-bargain-cut>−¥10.00<" in text
    assert "data-total>¥90.00<" in text
    r = client.post("/api/v1/checkouts", json={"items": [{"sku_id": m.sku.id, "quantity": 1}], "address": ADDRESS},
                    headers={**bearer(m.session, m.buyer), "Idempotency-Key": "bargain-1"})  # fmt: skip
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["total"] == 9_000
    refused(lambda lang: client.post(f"{url}/help", headers=as_(m, m.upstream, lang)), "bargain_ordered",
            "这个砍价已下单，不能再助力", "This bargain has been ordered; it takes no more help")  # fmt: skip
    assert client.get(url).get_json()["phase"] == "ordered"


def test_offers_are_for_members_and_bad_terms_are_422_with_sentences(m: Market, client: FlaskClient) -> None:
    assert make_offer(m, client, user=m.buyer).status_code == 403
    assert client.post(f"/api/v1/brands/{m.brand.id}/bargains", json={}).status_code == 401
    r = make_offer(m, client, floor_fen=10_000)
    assert r.status_code == 422
    error = r.get_json()["errors"][0]
    assert (error["field"], error["code"]) == ("floor_fen", "bargain_floor_too_high")
    assert "砍价底价须低于商品原价" in str(r.get_json())
    en = make_offer(m, client, lang="en", floor_fen=9_999, max_helpers=5)
    assert en.status_code == 422
    assert "at least 5 fen, so that every help cuts at least one fen" in str(en.get_json())
    for bad in ({"max_helpers": 0}, {"max_helpers": 101}, {"window_hours": 0}, {"floor_fen": 0},
                {"floor_fen": 2**63}, {"max_helpers": 10**30}, {"sku_id": 2**64}, {"floor_fen": "100"},
                {"per_user_limit": 11}, {"extra": 1}, {"ends_at": "2026-05-01T00:00:00"}):  # fmt: skip
        r = make_offer(m, client, **bad)
        assert r.status_code == 422, (bad, r.get_json())
        assert r.get_json()["errors"][0]["message"], bad
    assert make_offer(m, client, sku_id=999_999).status_code == 404
    listed = client.get(f"/api/v1/brands/{m.brand.id}/bargains", headers=bearer(m.session, m.owner))
    assert (listed.status_code, listed.get_json()) == (200, [])
    assert client.get(f"/api/v1/brands/{m.brand.id}/bargains", headers=bearer(m.session, m.buyer)).status_code == 403


def test_huge_ids_nul_bytes_and_wrong_types_are_4xx(m: Market, client: FlaskClient) -> None:
    for path in (f"/api/v1/bargains/{2**63}", f"/api/v1/bargains/{10**30}", f"/bargain/{2**64}",
                 f"/api/v1/products/{2**63}/bargains"):  # fmt: skip
        assert 400 <= client.get(path).status_code < 500, path
    assert client.post(f"/api/v1/bargain-offers/{2**63}/start", headers=as_(m, m.buyer)).status_code in (404, 422)
    assert client.post(f"/api/v1/bargains/{2**63}/help", headers=as_(m, m.buyer)).status_code in (404, 422)
    assert client.get("/api/v1/bargains/999999").status_code == 404
    assert client.post("/api/v1/bargains/999999/help", headers=as_(m, m.buyer)).status_code == 404
    r = make_offer(m, client, starts_at="2026-05-01T00:00:00\x00Z")
    assert r.status_code == 422
    r = client.post(f"/api/v1/brands/{m.brand.id}/bargains", data=b"\x00" * 10,
                    headers={**bearer(m.session, m.owner), "Content-Type": "application/json"})  # fmt: skip
    assert 400 <= r.status_code < 500
    r = client.post(f"/api/v1/brands/{m.brand.id}/bargains", json=["not", "an", "object"],
                    headers=bearer(m.session, m.owner))  # fmt: skip
    assert r.status_code == 422


def test_start_refusals_and_the_window(m: Market, client: FlaskClient, clock: FrozenClock) -> None:
    later = make_offer(m, client, starts_at=START + dt.timedelta(hours=1)).get_json()
    opens = (START + dt.timedelta(hours=1)).isoformat()
    refused(lambda lang: start(m, client, later, m.buyer, lang), "bargain_not_started",
            f"砍价活动尚未开始，{opens} 起可发起", f"This bargain offer opens at {opens}")  # fmt: skip
    offer = make_offer(m, client, window_hours=1).get_json()
    b = client.post(f"/api/v1/bargain-offers/{offer['id']}/start", headers=as_(m, m.buyer)).get_json()
    clock.advance(hours=1)
    refused(lambda lang: client.post(f"/api/v1/bargains/{b['id']}/help", headers=as_(m, m.sharer, lang)),
            "bargain_expired", "这个砍价已过期", "This bargain has expired")  # fmt: skip
    refused(lambda lang: start(m, client, offer, m.buyer, lang), "bargain_user_limit", "每人限发起 1 次砍价，您已用完",
            "You have used up your bargains on this offer (at most 1 per person)")  # fmt: skip
    clock.advance(days=2)
    refused(lambda lang: start(m, client, offer, m.sharer, lang), "bargain_offer_ended", "砍价活动已结束",
            "This bargain offer has ended")  # fmt: skip
    assert client.get(f"/api/v1/products/{m.product.id}/bargains").get_json() == []


def test_the_pages_bargain_and_brand_dashboard(m: Market, client: FlaskClient) -> None:
    offer = make_offer(m, client).get_json()
    b = client.post(f"/api/v1/bargain-offers/{offer['id']}/start", headers=as_(m, m.buyer)).get_json()
    client.post(f"/api/v1/bargains/{b['id']}/help", headers=as_(m, m.sharer))
    friend = client.get(f"/bargain/{b['id']}", headers=bearer(m.session, m.upstream)).get_data(as_text=True)
    assert "帮 TA 砍 ¥10.00" in friend
    assert "data-left>¥20.00<" in friend
    assert "data-buy-now" not in friend
    owner = client.get(f"/bargain/{b['id']}?lang=en", headers=bearer(m.session, m.buyer)).get_data(as_text=True)
    assert "Buy now at ¥90.00" in owner
    assert "data-help " not in owner
    assert client.get("/bargain/999999").status_code == 404
    dash = client.get(f"/brand/{m.brand.id}/bargains", headers=bearer(m.session, m.owner))
    assert dash.status_code == 200
    assert f'data-bargain-offer="{offer["id"]}"' in dash.get_data(as_text=True)
    assert "data-started>1<" in dash.get_data(as_text=True).replace("</td>", "<")
    assert client.get(f"/brand/{m.brand.id}/bargains", headers=bearer(m.session, m.buyer)).status_code == 403

"""Customer service over HTTP: the buyer opens a chat from a product, the agent answers and sends a cart card, the
buyer checks it out (the order credits the agent); every route refuses strangers, and bad input is a 4xx sentence."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image

from commerce.support import conversations, staff
from core.accounts.models import BrandMember, BrandRole
from core.clock import FrozenClock
from tests.commerce.money import Market
from tests.web.test_coupons_api import as_
from tests.web.test_money_api import ADDRESS
from tests.web.test_rate_limits import limited_app

__all__ = ["limited_app"]  # a fixture


@pytest.fixture
def agent(m: Market) -> Any:
    u = m.user(display_name="小美客服")
    m.session.add(BrandMember(brand_id=m.brand.id, user_id=u.id, role=BrandRole.MEMBER))
    m.session.commit()
    staff.appoint(m.session, m.owner, m.brand.id, u.id)
    return u


def _start(m: Market, client: FlaskClient) -> dict[str, Any]:
    r = client.post("/api/v1/conversations", json={"brand_id": m.brand.id, "product_id": m.product.id},
                    headers=as_(m, m.buyer))  # fmt: skip
    assert r.status_code == 201, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def test_a_chat_from_product_to_checkout(m: Market, client: FlaskClient, agent: Any, clock: FrozenClock) -> None:
    r = client.patch(f"/api/v1/brands/{m.brand.id}/support", json={"agent_fee_bp": 300, "routing": "least_busy"},
                     headers=as_(m, m.owner))  # fmt: skip
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["agents"] == [{"user_id": agent.id, "is_available": True}]
    c = _start(m, client)
    assert (c["agent_id"], c["agent_name"], c["agent_unread"]) == (agent.id, "小美客服", 1)
    inbox = client.get(f"/api/v1/brands/{m.brand.id}/inbox", headers=as_(m, agent)).get_json()
    assert [i["id"] for i in inbox] == [c["id"]]
    sent = client.post(
        f"/api/v1/conversations/{c['id']}/messages", json={"text": "有优惠吗？"}, headers=as_(m, m.buyer)
    )
    assert sent.status_code == 201, sent.get_json()
    clock.advance(seconds=42)
    card = client.post(
        f"/api/v1/conversations/{c['id']}/messages",
        json={"kind": "cart", "items": [{"sku_id": m.sku.id, "quantity": 2}]},
        headers=as_(m, agent),
    )
    assert card.status_code == 201, card.get_json()
    body = card.get_json()
    assert body["card"]["total"] == 2 * m.sku.price_fen
    assert body["card"]["items"][0]["name"] == m.product.name
    page = client.get(f"/api/v1/conversations/{c['id']}/messages", headers=as_(m, m.buyer)).get_json()
    assert [x["kind"] for x in page["items"]] == ["cart", "text", "product"]
    assert client.get(f"/api/v1/conversations/{c['id']}", headers=as_(m, m.buyer)).get_json()["buyer_unread"] == 1
    read = client.post(f"/api/v1/conversations/{c['id']}/read", headers=as_(m, m.buyer)).get_json()
    assert read["buyer_unread"] == 0
    out = client.post(f"/api/v1/conversations/{c['id']}/cards/{body['id']}/checkout", json={"address": ADDRESS},
                      headers={**as_(m, m.buyer), "Idempotency-Key": "card-1"})  # fmt: skip
    assert out.status_code == 201, out.get_json()
    assert out.get_json()["pay_url"]
    (order,) = out.get_json()["orders"]
    page = client.get(f"/api/v1/conversations/{c['id']}/messages", headers=as_(m, agent)).get_json()
    assert page["items"][0]["kind"] == "order"
    assert page["items"][0]["card"]["order_id"] == order["id"]
    perf = client.get(f"/api/v1/brands/{m.brand.id}/support/performance", headers=as_(m, m.owner)).get_json()
    assert perf[0]["conversations"] == 1
    assert perf[0]["first_response_seconds"] == 42
    mine = client.get("/api/v1/me/conversations", headers=as_(m, m.buyer)).get_json()
    assert [x["id"] for x in mine] == [c["id"]]


def test_images_over_http(m: Market, client: FlaskClient, agent: Any) -> None:
    c = _start(m, client)
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 120, 200)).save(buf, "PNG")
    r = client.post(f"/api/v1/conversations/{c['id']}/images", data={"file": (io.BytesIO(buf.getvalue()), "a.png")},
                    headers=as_(m, m.buyer), content_type="multipart/form-data")  # fmt: skip
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["kind"] == "image"
    assert r.get_json()["card"]["thumb_url"]
    bad = client.post(f"/api/v1/conversations/{c['id']}/images", data={"file": (io.BytesIO(b"%PDF-1.4"), "a.png")},
                      headers=as_(m, m.buyer), content_type="multipart/form-data")  # fmt: skip
    assert bad.status_code == 422
    assert "图片" in bad.get_json()["errors"][0]["message"]


def _routes(m: Market, cid: int, mid: int, uid: int) -> list[tuple[str, str, dict[str, Any] | None]]:
    b = m.brand.id
    return [
        ("GET", f"/api/v1/conversations/{cid}", None),
        ("GET", f"/api/v1/conversations/{cid}/messages", None),
        ("POST", f"/api/v1/conversations/{cid}/messages", {"text": "hi"}),
        ("POST", f"/api/v1/conversations/{cid}/read", None),
        ("POST", f"/api/v1/conversations/{cid}/close", None),
        ("POST", f"/api/v1/conversations/{cid}/cards/{mid}/checkout", {"address": ADDRESS}),
        ("GET", f"/api/v1/brands/{b}/inbox", None),
        ("GET", f"/api/v1/brands/{b}/support", None),
        ("PATCH", f"/api/v1/brands/{b}/support", {"routing": "least_busy"}),
        ("PUT", f"/api/v1/brands/{b}/support/agents/{uid}", None),
        ("DELETE", f"/api/v1/brands/{b}/support/agents/{uid}", None),
        ("PUT", f"/api/v1/brands/{b}/support/availability", {"available": False}),
        ("GET", f"/api/v1/brands/{b}/support/performance", None),
    ]


def test_every_route_refuses_strangers_and_anonymous_callers(m: Market, client: FlaskClient, agent: Any) -> None:
    c = _start(m, client)
    card = client.post(
        f"/api/v1/conversations/{c['id']}/messages",
        json={"kind": "cart", "items": [{"sku_id": m.sku.id, "quantity": 1}]},
        headers=as_(m, agent),
    )
    stranger = m.user()
    routes = _routes(m, c["id"], card.get_json()["id"], agent.id)
    for method, path, body in routes:
        headers = {"Idempotency-Key": f"k-{method}-{path}"}
        anon = client.open(path, method=method, json=body, headers=headers)
        assert anon.status_code == 401, (method, path, anon.status_code)
        r = client.open(path, method=method, json=body, headers={**as_(m, stranger), **headers})
        assert r.status_code in (403, 404), (method, path, r.status_code, r.get_json())
        assert r.get_json()["title"]
    # The agent cannot check out the buyer's card nor set the fee; the buyer cannot send a cart.
    r = client.post(f"/api/v1/conversations/{c['id']}/cards/{card.get_json()['id']}/checkout",
                    json={"address": ADDRESS}, headers={**as_(m, agent), "Idempotency-Key": "agent-1"})  # fmt: skip
    assert r.status_code == 404
    assert client.patch(f"/api/v1/brands/{m.brand.id}/support", json={"agent_fee_bp": 200},
                        headers=as_(m, agent)).status_code == 403  # fmt: skip
    r = client.post(
        f"/api/v1/conversations/{c['id']}/messages",
        json={"kind": "cart", "items": [{"sku_id": m.sku.id, "quantity": 1}]},
        headers=as_(m, m.buyer),
    )
    assert r.status_code == 403
    assert r.get_json()["title"] == "只有客服可以发送购物车和优惠券"


@pytest.mark.parametrize(
    "body",
    [
        {"text": "a\x00b"},
        {"text": "长" * 2001},
        {"text": 5},
        {"kind": "video"},
        {"kind": "product", "product_id": 2**64},
        {"kind": "product", "product_id": "1"},
        {"kind": "cart", "items": []},
        {"kind": "cart", "items": [{"sku_id": 1, "quantity": 2**63}]},
        {"kind": "cart", "items": [{"sku_id": 1, "quantity": 1}] * 11},
        {"kind": "coupon"},
        {"text": "hi", "extra": 1},
    ],
)
def test_bad_messages_are_4xx_sentences(m: Market, client: FlaskClient, agent: Any, body: dict[str, Any]) -> None:
    c = _start(m, client)
    r = client.post(f"/api/v1/conversations/{c['id']}/messages", json=body, headers=as_(m, agent))
    assert r.status_code == 422, (body, r.get_json())
    assert r.get_json()["errors"][0]["message"]


def test_bad_paths_starts_and_settings_are_4xx(m: Market, client: FlaskClient, agent: Any) -> None:
    h = as_(m, m.buyer)
    for body in ({"brand_id": 2**63}, {"brand_id": "x"}, {"brand_id": m.brand.id, "product_id": -1}, {}):
        assert client.post("/api/v1/conversations", json=body, headers=h).status_code == 422
    assert client.post("/api/v1/conversations", json={"brand_id": 10**15}, headers=h).status_code == 404
    assert client.get(f"/api/v1/conversations/{2**64}", headers=h).status_code == 404
    assert client.get("/api/v1/conversations/1%00", headers=h).status_code in (400, 404)
    c = _start(m, client)
    bad_cursor = client.get(f"/api/v1/conversations/{c['id']}/messages", query_string={"cursor": "\x00"}, headers=h)
    assert 400 <= bad_cursor.status_code < 500
    assert client.get(f"/api/v1/conversations/{c['id']}/messages", query_string={"limit": "1000"},
                      headers=h).status_code == 422  # fmt: skip
    owner = as_(m, m.owner)
    for body in ({"agent_fee_bp": 50}, {"agent_fee_bp": 2**63}, {"routing": "random"}, {"agent_fee_bp": "3"}):
        r = client.patch(f"/api/v1/brands/{m.brand.id}/support", json=body, headers=owner)
        assert r.status_code == 422, body
    r = client.patch(f"/api/v1/brands/{m.brand.id}/support", json={"agent_fee_bp": 50}, headers=owner)
    assert "客服服务费" in r.get_json()["errors"][0]["message"]
    assert client.put(f"/api/v1/brands/{m.brand.id}/support/agents/{m.buyer.id}", headers=owner).status_code == 422
    card = client.post(f"/api/v1/conversations/{c['id']}/cards/1/checkout", json={"address": {"name": "x"}},
                       headers={**h, "Idempotency-Key": "bad-1"})  # fmt: skip
    assert card.status_code == 422


def test_a_chat_from_the_order_page_carries_the_order(m: Market, client: FlaskClient, agent: Any) -> None:
    from tests.commerce.money import orders_of, place

    (order,) = orders_of(m, place(m, from_video=False))
    r = client.post("/api/v1/conversations", json={"brand_id": m.brand.id, "order_id": order.id},
                    headers=as_(m, m.buyer))  # fmt: skip
    assert r.status_code == 201, r.get_json()
    page = client.get(f"/api/v1/conversations/{r.get_json()['id']}/messages", headers=as_(m, agent)).get_json()
    assert page["items"][0]["kind"] == "order"
    assert page["items"][0]["card"]["order_id"] == order.id
    assert page["items"][0]["card"]["status"] == "pending_payment"
    other = client.post("/api/v1/conversations", json={"brand_id": m.brand.id, "order_id": order.id},
                        headers=as_(m, m.sharer))  # fmt: skip
    assert other.status_code == 422  # not their order
    assert other.get_json()["errors"][0]["field"] == "order_id"
    html = client.get(f"/orders/{order.id}", headers=as_(m, m.buyer)).get_data(as_text=True)
    assert f'data-contact-order="{order.id}"' in html


def test_the_pages_refuse_strangers(m: Market, client: FlaskClient, agent: Any) -> None:
    c = _start(m, client)
    card = client.post(
        f"/api/v1/conversations/{c['id']}/messages",
        json={"kind": "cart", "items": [{"sku_id": m.sku.id, "quantity": 1}]},
        headers=as_(m, agent),
    )
    stranger = as_(m, m.user())
    pages = [
        f"/chat/{c['id']}",
        f"/chat/{c['id']}/cards/{card.get_json()['id']}/checkout",
        f"/brand/{m.brand.id}/inbox",
    ]
    for path in pages:
        assert client.get(path).status_code == 302  # signed out: to sign-in
        assert client.get(path, headers=stranger).status_code in (403, 404), path
    assert client.get(pages[0], headers=as_(m, m.buyer)).status_code == 200
    assert client.get(pages[1], headers=as_(m, m.buyer)).status_code == 200
    assert client.get(pages[1], headers=as_(m, agent)).status_code == 404  # the buyer's card to check out
    inbox = client.get(pages[2], headers=as_(m, agent, "en"))
    assert inbox.status_code == 200
    assert "Agent performance" in inbox.get_data(as_text=True)


def test_the_fee_setting_says_a_commission_is_not_paid_twice(m: Market, client: FlaskClient) -> None:
    for locale, sentence in (("en", "that item pays them no agent fee"), ("zh-CN", "这件商品不再另付客服服务费")):
        page = client.get(f"/brand/{m.brand.id}/inbox", headers=as_(m, m.owner, locale))
        assert page.status_code == 200
        assert sentence in page.get_data(as_text=True)


def test_a_sender_is_limited_with_a_sentence_and_the_other_side_still_writes(
    m: Market, agent: Any, limited_app: Any
) -> None:
    app = limited_app(rate_limit_support_messages="2 per minute")
    c = conversations.start(m.session, m.buyer, m.brand.id)
    http = app.test_client()
    url = f"/api/v1/conversations/{c.id}/messages"

    def say(who: Any, lang: str = "zh-CN") -> Any:
        return http.post(url, json={"kind": "text", "text": "在吗"}, headers=as_(m, who, lang))

    assert [say(m.buyer).status_code for _ in range(2)] == [201, 201]
    refused = say(m.buyer)
    assert refused.status_code == 429
    problem = refused.get_json()
    assert problem["code"] == "support_too_fast"
    wait = int(refused.headers["Retry-After"])
    assert 0 < wait <= 60
    assert f"消息发得太快了，请 {wait} 秒后再发" == problem["title"]
    english = say(m.buyer, "en")
    assert english.status_code == 429
    assert "You are sending messages too fast" in english.get_json()["title"]
    assert say(agent).status_code == 201  # per sender: the agent's answer goes through
    images = http.post(f"/api/v1/conversations/{c.id}/images", headers=as_(m, m.buyer),
                       data={"file": (io.BytesIO(b"x"), "a.png")})  # fmt: skip
    assert images.status_code == 429  # images count with the texts

"""The money path over HTTP: share link, checkout with Idempotency-Key, hosted pay page, signed webhooks,
order lifecycle and refunds, wallet and payouts, and owner-only access."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from commerce.attribution.models import ShareClick
from commerce.ledger import verify
from commerce.payments.sandbox import SIGNATURE_HEADER, deliver_due, signature_header
from core.clock import FrozenClock
from core.settings import Settings
from tests.commerce.money import Market
from tests.factories import bearer

ADDRESS = {"name": "王五", "phone": "13700000000", "province": "北京市", "city": "北京市", "district": "朝阳区",
           "detail": "建国路 88 号"}  # fmt: skip


def webhooks(client: FlaskClient, settings: Settings, session: Session) -> list[int]:
    """Run the sandbox's webhook sender against the app through the test client."""
    codes: list[int] = []

    def transport(url: str, headers: dict[str, str], body: bytes) -> int:
        r = client.post(urlsplit(url).path, data=body, headers=headers)
        codes.append(r.status_code)
        return r.status_code

    deliver_due(session, settings.sandbox_secrets()[0], transport)
    return codes


def checkout_body(m: Market, **kw: object) -> dict[str, object]:
    body: dict[str, object] = {"items": [{"sku_id": m.sku.id, "quantity": 1, "source_video_id": m.video.id}],
                               "address": ADDRESS}  # fmt: skip
    body.update(kw)
    return body


def test_share_link_click_checkout_pay_and_split_over_http(
    m: Market, client: FlaskClient, app: Flask, settings: Settings, clock: FrozenClock
) -> None:
    s = m.session
    r = client.post("/api/v1/share-links", json={"target": "video", "target_id": m.video.id},
                    headers=bearer(s, m.sharer))  # fmt: skip
    assert r.status_code == 201, r.get_json()
    link = r.get_json()
    assert link["url"].startswith(settings.public_base_url + "/s/")
    # A visitor opens the link: logged, and sent on with the click id in the URL and a cookie.
    visit = client.get(urlsplit(link["url"]).path)
    assert visit.status_code == 302
    click_id = re.search(r"click=(c[0-9a-f]+)", visit.headers["Location"]).group(1)  # type: ignore[union-attr]
    cookies = visit.headers.getlist("Set-Cookie")
    assert any(c.startswith(f"xl_click={click_id}") for c in cookies)
    assert any(c.startswith("xl_did=") for c in cookies)
    click = s.scalar(select(ShareClick).where(ShareClick.click_id == click_id))
    assert click is not None
    assert click.sharer_id == m.sharer.id
    assert click.device_hash is not None
    clock.advance(minutes=3)
    # The buyer signs in and checks out; the click cookie travels with them.
    headers = {**bearer(s, m.buyer), "Idempotency-Key": "order-1"}
    r = client.post("/api/v1/checkouts", json=checkout_body(m), headers=headers)
    assert r.status_code == 201, r.get_json()
    checkout = r.get_json()
    line = checkout["orders"][0]["lines"][0]
    assert (line["sharer_id"], line["artist_id"], line["sharer_rate_bp"], line["artist_rate_bp"]) == (
        m.sharer.id, m.artist.id, 1000, 2000,
    )  # fmt: skip
    # The hosted pay page of the sandbox provider.
    pay_path = urlsplit(checkout["pay_url"]).path
    page = client.get(pay_path)
    assert page.status_code == 200
    assert "¥100.00" in page.get_data(as_text=True)
    token = re.search(r'name="form_token" value="([0-9a-f]+)"', page.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    assert client.post(pay_path, data={"form_token": "forged", "action": "pay"}).status_code == 400
    paid = client.post(pay_path, data={"form_token": token, "action": "pay"})
    assert paid.status_code == 302
    assert urlsplit(paid.headers["Location"]).path == f"/pay/return/{checkout['id']}"
    assert webhooks(client, settings, s) == [200]  # the signed notification, over HTTP
    order = client.get(f"/api/v1/orders/{checkout['orders'][0]['id']}", headers=bearer(s, m.buyer)).get_json()
    assert order["status"] == "paid"
    assert [e["to_status"] for e in order["events"]] == ["pending_payment", "paid"]
    wallet = client.get("/api/v1/wallet", headers=bearer(s, m.sharer)).get_json()
    assert (wallet["pending"], wallet["available"]) == (1000, 0)
    brand_wallet = client.get(f"/api/v1/wallet?brand_id={m.brand.id}", headers=bearer(s, m.owner)).get_json()
    assert brand_wallet["pending"] == 6500
    assert client.get(f"/api/v1/wallet?brand_id={m.brand.id}", headers=bearer(s, m.sharer)).status_code == 403
    assert verify(s).ok


def test_tampered_and_expired_share_links_say_so_and_count_nothing(
    m: Market, client: FlaskClient, clock: FrozenClock
) -> None:
    r = client.post("/api/v1/share-links", json={"target": "video", "target_id": m.video.id},
                    headers=bearer(m.session, m.sharer))  # fmt: skip
    path = urlsplit(r.get_json()["url"]).path
    for bad in (path[:-2] + "zz", "/s/not-a-token", "/s/" + "x" * 3000, path.replace("/s/k0.", "/s/k9.")):
        resp = client.get(bad, headers={"Accept": "text/html"})
        assert resp.status_code == 404, bad
        assert "这个分享链接无效" in resp.get_data(as_text=True)
        assert f"/v/{m.video.id}" not in resp.get_data(as_text=True)  # nothing in a forged link is trusted
    clock.advance(days=31)
    expired = client.get(path + "?lang=en")
    assert expired.status_code == 410
    assert "This share link has expired" in expired.get_data(as_text=True)
    assert f'href="/v/{m.video.id}?lang=en"' in expired.get_data(as_text=True)
    assert "xl_click" not in expired.headers.get("Set-Cookie", "")
    assert m.session.scalar(select(func.count()).select_from(ShareClick)) == 0


def test_checkout_is_idempotent(m: Market, client: FlaskClient) -> None:
    headers = {**bearer(m.session, m.buyer), "Idempotency-Key": "k-42"}
    first = client.post("/api/v1/checkouts", json=checkout_body(m), headers=headers)
    again = client.post("/api/v1/checkouts", json=checkout_body(m), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    m.session.refresh(m.sku)
    assert m.sku.stock == 9  # reserved once
    other = client.post("/api/v1/checkouts", json=checkout_body(m, items=[{"sku_id": m.sku.id, "quantity": 2}]),
                        headers=headers)  # fmt: skip
    assert other.status_code == 422
    assert other.get_json()["errors"][0]["code"] == "idempotency_mismatch"
    missing = client.post("/api/v1/checkouts", json=checkout_body(m), headers=bearer(m.session, m.buyer))
    assert missing.status_code == 422


def test_checkout_errors_are_clear(m: Market, client: FlaskClient) -> None:
    h = {**bearer(m.session, m.buyer), "Idempotency-Key": "e-1"}
    r = client.post("/api/v1/checkouts", json=checkout_body(m, items=[{"sku_id": m.sku.id, "quantity": 11}]), headers=h)
    assert r.status_code == 409
    assert r.get_json()["code"] == "out_of_stock"
    assert r.get_json()["errors"][0]["field"] == "items.0.quantity"
    h["Idempotency-Key"] = "e-2"
    bad = dict(ADDRESS, phone="call me")
    r = client.post("/api/v1/checkouts", json=checkout_body(m, address=bad), headers=h)
    assert r.status_code == 422
    assert r.get_json()["errors"][0]["field"] == "address.phone"
    h["Idempotency-Key"] = "e-3"
    r = client.post("/api/v1/checkouts", json=checkout_body(m, items=[{"sku_id": "1", "quantity": 1}]), headers=h)
    assert r.status_code == 422
    m.session.refresh(m.sku)
    assert m.sku.stock == 10


def test_checkout_field_errors_are_sentences_naming_the_field_in_both_languages(m: Market, client: FlaskClient) -> None:
    """Each field error carries the field's human label and a sentence with it, never only the path."""
    body = checkout_body(m, items=[{"sku_id": m.sku.id, "quantity": 0}], address=dict(ADDRESS, name="  ", city=""))
    said = {}
    for n, lang in enumerate(("zh-CN", "en")):
        h = {**bearer(m.session, m.buyer), "Idempotency-Key": f"labels-{n}", "Accept-Language": lang}
        r = client.post("/api/v1/checkouts", json=body, headers=h)
        assert r.status_code == 422
        said[lang] = {e["field"]: (e["label"], e["message"]) for e in r.get_json()["errors"]}
    assert said["zh-CN"] == {
        "items.0.quantity": ("第 1 件商品的数量", "第 1 件商品的数量太小"),
        "address.name": ("收货人姓名", "请填写收货人姓名"),
        "address.city": ("城市", "请填写城市"),
    }
    assert said["en"] == {
        "items.0.quantity": ("Quantity of item 1", "Quantity of item 1 is too small"),
        "address.name": ("Recipient's name", "Recipient's name is required"),
        "address.city": ("The city", "The city is required"),
    }
    h = {**bearer(m.session, m.buyer), "Idempotency-Key": "labels-phone", "Accept-Language": "en"}
    r = client.post("/api/v1/checkouts", json=checkout_body(m, address=dict(ADDRESS, phone="call me")), headers=h)
    assert [(e["label"], e["message"]) for e in r.get_json()["errors"]] == [
        ("Recipient's phone number", "The phone number is not valid")
    ]


def test_webhook_endpoint_checks_signature_and_amount(m: Market, client: FlaskClient, settings: Settings) -> None:
    h = {**bearer(m.session, m.buyer), "Idempotency-Key": "w-1"}
    checkout = client.post("/api/v1/checkouts", json=checkout_body(m), headers=h).get_json()
    pid = urlsplit(checkout["pay_url"]).path.rsplit("/", 1)[1]
    from commerce.payments import open_provider
    from commerce.payments.provider import EventType

    provider = open_provider(settings, m.session)
    payment = provider.query_payment(pid)
    body = provider.event_body(EventType.PAYMENT_SUCCEEDED, {"payment_id": pid, "merchant_ref": payment.merchant_ref,
                                                             "amount": 1, "currency": "CNY", "fee": 0})  # fmt: skip
    url = "/api/v1/payments/webhooks/sandbox"
    forged = client.post(url, data=body, headers={SIGNATURE_HEADER: signature_header(b"guess", body)})
    assert forged.status_code == 400
    assert forged.get_json()["code"] == "webhook_bad_signature"
    secret = settings.sandbox_secrets()[0]
    wrong = client.post(url, data=body, headers={SIGNATURE_HEADER: signature_header(secret, body)})
    assert wrong.status_code == 422
    assert wrong.get_json()["code"] == "payment_amount_mismatch"
    mixed_data = {"payment_id": pid, "merchant_ref": "xlp_someoneelse", "amount": payment.amount, "currency": "CNY"}
    other_ref = provider.event_body(EventType.PAYMENT_SUCCEEDED, {**mixed_data, "fee": 0})
    mixed = client.post(url, data=other_ref, headers={SIGNATURE_HEADER: signature_header(secret, other_ref)})
    assert mixed.status_code == 422
    assert mixed.headers["Content-Type"] == "application/problem+json"
    assert mixed.get_json()["code"] == "payment_reference_mismatch"
    assert "商户订单号" in mixed.get_json()["title"] or "merchant reference" in mixed.get_json()["title"]
    assert client.post("/api/v1/payments/webhooks/paypal", data=body).status_code == 404
    assert (
        client.get(f"/api/v1/payments/{checkout['payment_id']}", headers=bearer(m.session, m.sharer)).status_code == 404
    )
    mine = client.get(f"/api/v1/payments/{checkout['payment_id']}", headers=bearer(m.session, m.buyer)).get_json()
    assert mine["status"] == "pending"


def test_lifecycle_refund_and_payout_over_http(
    m: Market, client: FlaskClient, settings: Settings, clock: FrozenClock
) -> None:
    s = m.session
    buyer, owner = bearer(s, m.buyer), bearer(s, m.owner)
    checkout = client.post("/api/v1/checkouts", json=checkout_body(m, items=[
        {"sku_id": m.sku.id, "quantity": 2, "source_video_id": m.video.id}]),
        headers={**buyer, "Idempotency-Key": "l-1"}).get_json()  # fmt: skip
    order_id = checkout["orders"][0]["id"]
    pay_path = urlsplit(checkout["pay_url"]).path
    token = re.search(r'name="form_token" value="([0-9a-f]+)"', client.get(pay_path).get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    client.post(pay_path, data={"form_token": token, "action": "pay"})
    # The buyer came back before the webhook: the return page asks the provider.
    assert "支付成功" in client.get(f"/pay/return/{checkout['id']}", headers=buyer).get_data(as_text=True)
    assert webhooks(client, settings, s) == [200]
    assert client.post(f"/api/v1/orders/{order_id}/ship", json={"carrier": "顺丰", "tracking_no": "SF99887766"},
                       headers=bearer(s, m.sharer)).status_code == 403  # fmt: skip
    r = client.post(f"/api/v1/orders/{order_id}/ship", json={"carrier": "顺丰", "tracking_no": "SF99887766"},
                    headers=owner)  # fmt: skip
    assert r.get_json()["status"] == "shipped"
    assert client.post(f"/api/v1/orders/{order_id}/confirm", headers=buyer).get_json()["status"] == "delivered"
    line_id = r.get_json()["lines"][0]["id"]
    ask = {"lines": [{"order_line_id": line_id, "quantity": 1}], "reason": "尺码不合适"}
    refund = client.post(f"/api/v1/orders/{order_id}/refunds", json=ask, headers={**buyer, "Idempotency-Key": "rf-1"})
    assert refund.status_code == 201, refund.get_json()
    refund_id = refund.get_json()["id"]
    queue = f"/api/v1/brands/{m.brand.id}/refunds?status=requested"
    assert [r["id"] for r in client.get(queue, headers=owner).get_json()["items"]] == [refund_id]
    assert client.get(queue, headers=buyer).status_code == 403
    assert client.post(f"/api/v1/refunds/{refund_id}/approve", json={}, headers={**buyer, "Idempotency-Key": "a"}
                       ).status_code == 403  # fmt: skip
    approved = client.post(f"/api/v1/refunds/{refund_id}/approve", json={"note": "同意"},
                           headers={**owner, "Idempotency-Key": "a"})  # fmt: skip
    assert approved.get_json()["status"] == "approved"
    assert client.get(queue, headers=owner).get_json()["items"] == []  # decided: out of the queue
    assert webhooks(client, settings, s) == [200]
    assert client.get(f"/api/v1/orders/{order_id}/refunds", headers=buyer).get_json()[0]["status"] == "refunded"
    clock.advance(days=8)
    from commerce.orders import settlement

    settlement.settle_due(s)
    assert client.get(f"/api/v1/orders/{order_id}", headers=buyer).get_json()["status"] == "completed"
    artist = bearer(s, m.artist)
    assert client.get("/api/v1/wallet", headers=artist).get_json()["available"] == 2000
    assert client.put("/api/v1/wallet/payout-account", json={"method": "alipay", "account_no": "artist@example.com",
                      "account_name": "小鹿"}, headers=artist).status_code == 204  # fmt: skip
    r = client.post("/api/v1/wallet/payouts", json={"amount": 2000}, headers={**artist, "Idempotency-Key": "p-1"})
    assert r.status_code == 201, r.get_json()
    replay = client.post("/api/v1/wallet/payouts", json={"amount": 2000}, headers={**artist, "Idempotency-Key": "p-1"})
    assert replay.get_json()["id"] == r.get_json()["id"]
    again = client.post("/api/v1/wallet/payouts", json={"amount": 1000}, headers={**artist, "Idempotency-Key": "p-2"})
    assert again.status_code == 409
    from commerce.payments import open_provider
    from commerce.payouts.service import execute_payout

    execute_payout(s, open_provider(settings, s), r.get_json()["id"])
    listed = client.get("/api/v1/wallet/payouts", headers=artist).get_json()
    assert listed[0]["status"] == "paid"
    assert client.get("/api/v1/wallet", headers=artist).get_json()["paid_out"] == 2000
    assert verify(s).ok


def test_orders_are_visible_to_buyer_and_seller_only(m: Market, client: FlaskClient) -> None:
    s = m.session
    checkout = client.post("/api/v1/checkouts", json=checkout_body(m),
                           headers={**bearer(s, m.buyer), "Idempotency-Key": "v-1"}).get_json()  # fmt: skip
    order_id = checkout["orders"][0]["id"]
    assert client.get(f"/api/v1/orders/{order_id}", headers=bearer(s, m.sharer)).status_code == 404
    assert client.get(f"/api/v1/orders/{order_id}", headers=bearer(s, m.owner)).status_code == 200
    assert [o["id"] for o in client.get("/api/v1/orders", headers=bearer(s, m.buyer)).get_json()["items"]] == [order_id]
    assert client.get("/api/v1/orders", headers=bearer(s, m.sharer)).get_json()["items"] == []
    assert client.get(f"/api/v1/orders?brand_id={m.brand.id}", headers=bearer(s, m.owner)).get_json()["items"]
    assert client.get(f"/api/v1/orders?brand_id={m.brand.id}", headers=bearer(s, m.sharer)).status_code == 403
    assert client.get(f"/api/v1/checkouts/{checkout['id']}", headers=bearer(s, m.sharer)).status_code == 404


def test_cart_and_checkout_from_cart(m: Market, client: FlaskClient) -> None:
    h = bearer(m.session, m.buyer)
    r = client.post("/api/v1/cart/items", json={"sku_id": m.sku.id, "quantity": 2, "source_video_id": m.video.id},
                    headers=h)  # fmt: skip
    assert r.status_code == 201
    item_id = r.get_json()[0]["id"]
    assert client.patch(f"/api/v1/cart/items/{item_id}", json={"quantity": 3}, headers=h).get_json()[0]["quantity"] == 3
    r = client.post("/api/v1/checkouts", json={"from_cart": True, "address": ADDRESS},
                    headers={**h, "Idempotency-Key": "c-1"})  # fmt: skip
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["orders"][0]["lines"][0]["quantity"] == 3
    assert r.get_json()["orders"][0]["lines"][0]["artist_id"] == m.artist.id
    assert client.get("/api/v1/cart", headers=h).get_json() == []


def test_the_openapi_document_lists_the_money_endpoints(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/checkouts", "/api/v1/payments/webhooks/{provider}", "/api/v1/share-links",
                 "/api/v1/wallet/payouts", "/api/v1/orders/{order_id}/refunds", "/api/v1/admin/reviews"):  # fmt: skip
        assert path in paths, path

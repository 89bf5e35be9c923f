"""After-sale over HTTP, as the buyer's pages drive it: a declined payment retried on the hosted page, cancelling an
unpaid order, confirming receipt, refunds with photos and the brand's decision, and who may do each of them."""

from __future__ import annotations

import io
import re
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient

from commerce.orders.models import Order, OrderRefund, RefundPhoto, RefundState
from core.accounts.models import User
from core.settings import Settings
from tests import factories
from tests.commerce.catalog.test_images import assert_no_exif, camera_jpeg
from tests.commerce.money import Market
from tests.factories import bearer
from tests.web.test_money_api import ADDRESS, webhooks


def place(client: FlaskClient, m: Market, key: str = "order-1", qty: int = 1) -> dict:  # type: ignore[type-arg]
    body = {"items": [{"sku_id": m.sku.id, "quantity": qty, "source_video_id": m.video.id}], "address": ADDRESS}
    r = client.post("/api/v1/checkouts", json=body, headers={**bearer(m.session, m.buyer), "Idempotency-Key": key})
    assert r.status_code == 201, r.get_json()
    checkout: dict = r.get_json()  # type: ignore[type-arg]
    return checkout


def on_pay_page(client: FlaskClient, pay_url: str, action: str) -> str:
    """Press a button on the sandbox's hosted page; returns where it sends the buyer."""
    path = urlsplit(pay_url).path
    html = client.get(path).get_data(as_text=True)
    token = re.search(r'name="form_token" value="([0-9a-f]+)"', html).group(1)  # type: ignore[union-attr]
    r = client.post(path, data={"form_token": token, "action": action})
    assert r.status_code == 302
    return urlsplit(r.headers["Location"]).path


def test_a_declined_payment_is_retried_from_the_return_page(m: Market, client: FlaskClient, settings: Settings) -> None:
    checkout = place(client, m)
    order_id = checkout["orders"][0]["id"]
    back = on_pay_page(client, checkout["pay_url"], "fail")
    page = client.get(back, headers=bearer(m.session, m.buyer)).get_data(as_text=True)
    assert "支付未成功" in page
    assert 'data-payment-failure="declined"' in page
    assert "银行卡被拒绝" in page
    assert urlsplit(checkout["pay_url"]).path in page  # the way back to the hosted page
    assert webhooks(client, settings, m.session) == [200]  # the provider's payment.failed changes nothing
    order = client.get(f"/api/v1/orders/{order_id}", headers=bearer(m.session, m.buyer)).get_json()
    assert order["status"] == "pending_payment"
    english = client.get(back + "?lang=en", headers=bearer(m.session, m.buyer)).get_data(as_text=True)
    assert "the card was declined" in english
    assert "Try again" in english
    # The hosted page says so too, and takes the second attempt.
    assert "上次支付被拒绝" in client.get(urlsplit(checkout["pay_url"]).path).get_data(as_text=True)
    assert on_pay_page(client, checkout["pay_url"], "pay") == back
    assert "支付成功" in client.get(back, headers=bearer(m.session, m.buyer)).get_data(as_text=True)
    assert webhooks(client, settings, m.session) == [200]
    order = client.get(f"/api/v1/orders/{order_id}", headers=bearer(m.session, m.buyer)).get_json()
    assert order["status"] == "paid"


def api_post(client: FlaskClient, m: Market, user: User, path: str, body: object = None, *, key: str = "k") -> tuple:  # type: ignore[type-arg]
    r = client.post(f"/api/v1{path}", json=body, headers={**bearer(m.session, user), "Idempotency-Key": key})
    return r.status_code, r.get_json()


def test_the_buyer_cancels_an_unpaid_order_and_nobody_else_can(m: Market, client: FlaskClient) -> None:
    checkout = place(client, m, qty=2)
    order_id = checkout["orders"][0]["id"]
    page = client.get(f"/orders/{order_id}", headers=bearer(m.session, m.buyer)).get_data(as_text=True)
    assert 'data-order-action="cancel"' in page
    assert urlsplit(checkout["pay_url"]).path in page  # pay now, from the order
    assert 'data-order-action="confirm"' not in page
    stranger = m.user()
    assert client.get(f"/orders/{order_id}", headers=bearer(m.session, stranger)).status_code == 404
    assert api_post(client, m, stranger, f"/orders/{order_id}/cancel", {"reason": "x"})[0] == 404
    assert api_post(client, m, m.owner, f"/orders/{order_id}/cancel", {"reason": "x"})[0] == 409  # the brand
    m.session.refresh(m.sku)
    assert m.sku.stock == 8
    code, order = api_post(client, m, m.buyer, f"/orders/{order_id}/cancel", {"reason": "不想要了"}, key="c2")
    assert (code, order["status"], order["cancel_reason"]) == (200, "cancelled", "不想要了")
    m.session.refresh(m.sku)
    assert m.sku.stock == 10
    page = client.get(f"/orders/{order_id}", headers=bearer(m.session, m.buyer)).get_data(as_text=True)
    assert 'data-order-action="cancel"' not in page
    assert 'data-status="cancelled"' in page
    # The hosted page no longer takes the money.
    assert "确认支付" not in client.get(urlsplit(checkout["pay_url"]).path).get_data(as_text=True)


def paid_order(client: FlaskClient, m: Market, settings: Settings, *, qty: int = 2) -> int:
    checkout = place(client, m, qty=qty, key=f"paid-{qty}")
    on_pay_page(client, checkout["pay_url"], "pay")
    assert webhooks(client, settings, m.session) == [200]
    return int(checkout["orders"][0]["id"])


def test_only_the_buyer_confirms_receipt(m: Market, client: FlaskClient, settings: Settings) -> None:
    order_id = paid_order(client, m, settings)
    code, _ = api_post(
        client, m, m.owner, f"/orders/{order_id}/ship", {"carrier": "顺丰速运", "tracking_no": "SF123456"}
    )
    assert code == 200
    page = client.get(f"/orders/{order_id}", headers=bearer(m.session, m.buyer)).get_data(as_text=True)
    assert 'data-order-action="confirm"' in page
    assert 'data-order-action="cancel"' not in page
    stranger = m.user()
    assert api_post(client, m, stranger, f"/orders/{order_id}/confirm")[0] == 404
    assert api_post(client, m, m.owner, f"/orders/{order_id}/confirm")[0] == 404  # the seller cannot confirm for them
    code, order = api_post(client, m, m.buyer, f"/orders/{order_id}/confirm")
    assert (code, order["status"]) == (200, "delivered")
    assert order["return_window_ends_at"] is not None
    page = client.get(f"/orders/{order_id}", headers=bearer(m.session, m.buyer)).get_data(as_text=True)
    assert 'data-order-action="confirm"' not in page
    assert "退货期至" in page


def shipped_order(client: FlaskClient, m: Market, settings: Settings, *, qty: int = 2) -> int:
    order_id = paid_order(client, m, settings, qty=qty)
    code, _ = api_post(
        client, m, m.owner, f"/orders/{order_id}/ship", {"carrier": "顺丰速运", "tracking_no": "SF123456"}
    )
    assert code == 200
    return order_id


def upload_photo(
    client: FlaskClient, m: Market, user: User, order_id: int, data: bytes, *, name: str = "p.jpg"
) -> tuple:  # type: ignore[type-arg]
    r = client.post(
        f"/api/v1/orders/{order_id}/refund-photos",
        data={"file": (io.BytesIO(data), name)},
        headers=bearer(m.session, user),
        content_type="multipart/form-data",
    )
    return r.status_code, r.get_json()


def test_a_refund_request_carries_private_exif_free_photos(
    m: Market, client: FlaskClient, settings: Settings, app: Flask
) -> None:
    order_id = shipped_order(client, m, settings)
    line_id = m.session.get(Order, order_id).lines[0].id  # type: ignore[union-attr]
    # Not an image, and too big: refused with a sentence, nothing kept.
    code, problem = upload_photo(client, m, m.buyer, order_id, b"%PDF-1.7 not a photo", name="receipt.jpg")
    assert code == 422
    assert problem["errors"][0]["message"] == "文件不是可识别的图片（支持 JPEG、PNG、WebP、GIF）"
    code, problem = upload_photo(client, m, m.buyer, order_id, b"\xff" * (10 * 1024 * 1024 + 1))
    assert (code, problem["title"]) == (413, "图片不能超过 10 MB")
    # Nobody else may add photos to the buyer's order.
    assert upload_photo(client, m, m.user(), order_id, camera_jpeg())[0] == 404
    assert upload_photo(client, m, m.owner, order_id, camera_jpeg())[0] == 404
    code, photo = upload_photo(client, m, m.buyer, order_id, camera_jpeg())
    assert code == 201, photo
    code, abandoned = upload_photo(client, m, m.buyer, order_id, camera_jpeg((400, 300)))
    assert code == 201
    storage = app.extensions["storage"]
    stored = m.session.get(RefundPhoto, photo["id"])
    assert stored is not None
    assert not stored.key.startswith("public/")  # private: reached only through presigned links
    assert_no_exif(storage.get(stored.key))
    served = client.get(urlsplit(photo["url"]).path + "?" + urlsplit(photo["url"]).query)
    assert served.status_code == 200
    assert_no_exif(served.data)
    assert client.get(urlsplit(photo["url"]).path).status_code == 403  # not without the signature
    # Someone else's photo cannot be named in the buyer's request.
    other = m.user()
    body = {"lines": [{"order_line_id": line_id, "quantity": 1}], "reason": "商品破损：瓶盖裂了", "photo_ids": [999999]}
    code, problem = api_post(client, m, m.buyer, f"/orders/{order_id}/refunds", body, key="bad-photo")
    assert (code, problem["errors"][0]["message"]) == (422, "照片不存在或已用于其他申请，请重新上传")
    assert api_post(client, m, other, f"/orders/{order_id}/refunds", {**body, "photo_ids": []}, key="o")[0] == 404
    code, problem = api_post(client, m, m.buyer, f"/orders/{order_id}/refunds", {**body, "reason": " "}, key="r")
    assert (code, problem["errors"][0]["message"]) == (422, "请选择或写明退款原因")
    code, refund = api_post(client, m, m.buyer, f"/orders/{order_id}/refunds", {**body, "photo_ids": [photo["id"]]},
                            key="refund-1")  # fmt: skip
    assert code == 201, refund
    assert (refund["status"], refund["amount"], [p["id"] for p in refund["photos"]]) == ("requested", 10_000,
                                                                                          [photo["id"]])  # fmt: skip
    # The photo uploaded and not used is gone, rows and objects.
    assert m.session.get(RefundPhoto, abandoned["id"]) is None
    gone = m.session.get(RefundPhoto, photo["id"])
    assert gone is not None
    assert gone.refund_id == refund["id"]
    # The buyer's order page shows the request, its amount and its photo; the brand's dashboard too.
    page = client.get(f"/orders/{order_id}", headers=bearer(m.session, m.buyer)).get_data(as_text=True)
    assert f'data-refund-id="{refund["id"]}"' in page
    assert 'data-refund-status="requested"' in page
    assert "¥100.00" in page
    assert page.count("data-refund-photo") == 1
    brand = client.get(f"/brand/{m.brand.id}", headers=bearer(m.session, m.owner)).get_data(as_text=True)
    assert f'data-refund-id="{refund["id"]}"' in brand
    assert brand.count("data-refund-photo") == 1


def test_only_the_selling_brand_decides_a_refund(m: Market, client: FlaskClient, settings: Settings) -> None:
    order_id = shipped_order(client, m, settings)
    line_id = m.session.get(Order, order_id).lines[0].id  # type: ignore[union-attr]
    body = {"lines": [{"order_line_id": line_id, "quantity": 1}], "reason": "不想要了"}
    code, refund = api_post(client, m, m.buyer, f"/orders/{order_id}/refunds", body, key="ask")
    assert code == 201
    rival_owner = m.user()
    factories.brand(m.session, owner=rival_owner)
    m.session.commit()
    for who in (rival_owner, m.buyer, m.artist):
        assert api_post(client, m, who, f"/refunds/{refund['id']}/approve", {}, key=f"a{who.id}")[0] == 403
        assert api_post(client, m, who, f"/refunds/{refund['id']}/reject", {}, key=f"r{who.id}")[0] == 403
    assert m.session.get(OrderRefund, refund["id"]).status == RefundState.REQUESTED  # type: ignore[union-attr]
    code, decided = api_post(client, m, m.owner, f"/refunds/{refund['id']}/reject", {"note": "已签收无破损"})
    assert (code, decided["status"], decided["decision_note"]) == (200, "rejected", "已签收无破损")


def test_the_openapi_document_lists_the_after_sale_endpoints(client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    photos = doc["paths"]["/api/v1/orders/{order_id}/refund-photos"]["post"]
    assert "multipart/form-data" in photos["requestBody"]["content"]
    assert "photo_ids" in doc["components"]["schemas"]["RefundIn"]["properties"]


def notification_texts(client: FlaskClient, m: Market, user: User, *, lang: str = "") -> list[str]:
    page = client.get(f"/api/v1/notifications{lang}", headers=bearer(m.session, user)).get_json()
    return [n["text"] for n in page["items"]]


def test_the_brands_decision_and_the_money_back_are_told_to_the_buyer(
    m: Market, client: FlaskClient, settings: Settings
) -> None:
    order_id = shipped_order(client, m, settings)
    line_id = m.session.get(Order, order_id).lines[0].id  # type: ignore[union-attr]
    body = {"lines": [{"order_line_id": line_id, "quantity": 1}], "reason": "商品破损"}
    _, first = api_post(client, m, m.buyer, f"/orders/{order_id}/refunds", body, key="ask-1")
    api_post(client, m, m.owner, f"/refunds/{first['id']}/reject", {"note": "请提供照片"}, key="no")
    assert notification_texts(client, m, m.buyer) == [f"订单 #{order_id} 的退款申请（¥100.00）被商家拒绝：请提供照片"]
    me = client.get("/me", headers=bearer(m.session, m.buyer)).get_data(as_text=True)
    assert 'data-unread="1"' in me
    _, second = api_post(client, m, m.buyer, f"/orders/{order_id}/refunds", body, key="ask-2")
    code, approved = api_post(client, m, m.owner, f"/refunds/{second['id']}/approve", {}, key="yes")
    assert (code, approved["status"]) == (200, "approved")
    assert notification_texts(client, m, m.buyer, lang="?lang=en")[0] == (
        f"Your refund of ¥100.00 on order #{order_id} was approved; the money is on its way back"
    )
    assert webhooks(client, settings, m.session) == [200]  # the provider pays it back
    assert notification_texts(client, m, m.buyer)[0] == f"订单 #{order_id} 的 ¥100.00 已退回你的支付账户"
    assert notification_texts(client, m, m.owner) == []  # the brand decided; nobody tells it of its own decision
    page = client.get(f"/orders/{order_id}", headers=bearer(m.session, m.buyer)).get_data(as_text=True)
    assert page.count('data-refund-status="rejected"') == 1
    assert page.count('data-refund-status="refunded"') == 1
    assert "请提供照片" in page

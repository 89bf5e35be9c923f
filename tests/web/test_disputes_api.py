"""Disputes and chargebacks over HTTP: after settlement, who may open, decide and escalate, and what each party sees."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from sqlalchemy import select

from commerce.ledger import verify
from commerce.orders import settlement
from commerce.payments import open_provider
from commerce.payments.models import Payment
from core.clock import FrozenClock
from core.settings import Settings
from tests.commerce.money import Market
from tests.web.test_money_api import bearer, checkout_body, webhooks


def _settled_order(m: Market, client: FlaskClient, settings: Settings, clock: FrozenClock) -> int:
    s = m.session
    buyer, owner = bearer(s, m.buyer), bearer(s, m.owner)
    checkout = client.post("/api/v1/checkouts", json=checkout_body(m),
                           headers={**buyer, "Idempotency-Key": "d-1"}).get_json()  # fmt: skip
    order_id = checkout["orders"][0]["id"]
    pay_path = urlsplit(checkout["pay_url"]).path
    token = re.search(r'name="form_token" value="([0-9a-f]+)"', client.get(pay_path).get_data(as_text=True))
    assert token is not None
    client.post(pay_path, data={"form_token": token.group(1), "action": "pay"})
    assert webhooks(client, settings, s) == [200]
    client.post(f"/api/v1/orders/{order_id}/ship", json={"carrier": "顺丰", "tracking_no": "SF10203040"}, headers=owner)
    client.post(f"/api/v1/orders/{order_id}/confirm", headers=buyer)
    clock.advance(days=8)
    settlement.settle_due(s)
    assert client.get(f"/api/v1/orders/{order_id}", headers=buyer).get_json()["status"] == "completed"
    return order_id


def test_a_dispute_after_settlement_is_decided_escalated_and_clawed_back_over_http(
    m: Market, client: FlaskClient, settings: Settings, clock: FrozenClock
) -> None:
    s = m.session
    buyer, owner, admin = bearer(s, m.buyer), bearer(s, m.owner), bearer(s, m.admin)
    artist, stranger = bearer(s, m.artist), bearer(s, m.sharer)
    order_id = _settled_order(m, client, settings, clock)
    order = client.get(f"/api/v1/orders/{order_id}", headers=buyer).get_json()
    ask = {"lines": [{"order_line_id": order["lines"][0]["id"], "quantity": 1}], "reason": "坏了"}
    late = client.post(f"/api/v1/orders/{order_id}/refunds", headers={**buyer, "Idempotency-Key": "r-1"}, json=ask)
    assert late.status_code == 409
    assert "发起售后争议" in late.get_json()["title"]  # it says what to do instead
    assert client.post(f"/api/v1/orders/{order_id}/disputes", json={"reason": "假货"},
                       headers={**stranger, "Idempotency-Key": "x"}).status_code == 404  # fmt: skip
    opened = client.post(f"/api/v1/orders/{order_id}/disputes", json={"reason": "收到的是假货", "amount": 5000},
                         headers={**buyer, "Idempotency-Key": "dp-1"})  # fmt: skip
    assert opened.status_code == 201, opened.get_json()
    dispute = opened.get_json()
    assert (dispute["state"], dispute["source"], dispute["amount"]) == ("open", "buyer", 5000)
    queue = f"/api/v1/brands/{m.brand.id}/disputes?state=open"
    assert [d["id"] for d in client.get(queue, headers=owner).get_json()["items"]] == [dispute["id"]]
    assert client.get(queue, headers=buyer).status_code == 403
    decide = f"/api/v1/disputes/{dispute['id']}"
    assert client.post(f"{decide}/approve", json={}, headers={**buyer, "Idempotency-Key": "a-0"}).status_code == 403
    rejected = client.post(f"{decide}/reject", json={"note": "商品为正品"}, headers={**owner, "Idempotency-Key": "j"})
    assert rejected.get_json()["state"] == "rejected"
    assert client.post(f"{decide}/escalate", headers={**stranger, "Idempotency-Key": "e-0"}).status_code == 404
    assert client.post(f"{decide}/escalate", headers={**buyer, "Idempotency-Key": "e-1"}).get_json()["state"] == (
        "escalated"
    )
    assert client.get("/api/v1/admin/disputes", headers=owner).status_code == 403
    assert [d["id"] for d in client.get("/api/v1/admin/disputes", headers=admin).get_json()] == [dispute["id"]]
    assert client.post(f"{decide}/approve", json={}, headers={**owner, "Idempotency-Key": "a-1"}).status_code == 403
    approved = client.post(f"{decide}/approve", json={"note": "平台判定"}, headers={**admin, "Idempotency-Key": "a-2"})
    assert approved.get_json()["state"] == "approved"
    assert webhooks(client, settings, s) == [200]  # the provider paid the buyer back
    (refund,) = client.get(f"/api/v1/orders/{order_id}/refunds", headers=buyer).get_json()
    assert (refund["id"], refund["amount"], refund["status"]) == (approved.get_json()["refund_id"], 5000, "refunded")
    # The artist's settled 20.00 lost half: they see it on their wallet, and why.
    assert client.get("/api/v1/wallet", headers=artist).get_json()["available"] == 1000
    kinds = [n["kind"] for n in client.get("/api/v1/notifications", headers=artist).get_json()["items"]]
    assert "commission_clawed_back" in kinds
    assert verify(s).ok


def test_a_chargeback_arrives_by_webhook_and_only_the_brand_or_an_admin_answers_it(
    m: Market, client: FlaskClient, settings: Settings, clock: FrozenClock
) -> None:
    s = m.session
    buyer, owner = bearer(s, m.buyer), bearer(s, m.owner)
    order_id = _settled_order(m, client, settings, clock)
    provider = open_provider(settings, s)
    payment = s.scalars(select(Payment)).one()
    provider.open_chargeback(payment.provider_payment_id, amount=3000, reason="持卡人否认交易")  # type: ignore[attr-defined]
    s.commit()
    assert webhooks(client, settings, s) == [200]
    (chargeback,) = client.get(f"/api/v1/orders/{order_id}/disputes", headers=owner).get_json()
    assert (chargeback["source"], chargeback["state"], chargeback["amount"]) == ("provider", "open", 3000)
    assert client.get(f"/api/v1/orders/{order_id}", headers=buyer).get_json()["status"] == "completed"  # no refund yet
    contest = client.post(f"/api/v1/disputes/{chargeback['id']}/reject", json={"note": "有签收记录"},
                          headers={**owner, "Idempotency-Key": "c-1"})  # fmt: skip
    assert contest.get_json()["state"] == "contested"
    again = client.post(f"/api/v1/disputes/{chargeback['id']}/approve", json={},
                        headers={**owner, "Idempotency-Key": "c-2"})  # fmt: skip
    assert again.status_code == 409
    assert "支付机构" in again.get_json()["title"]
    # An admin's refund of last resort is for admins only.
    line_id = client.get(f"/api/v1/orders/{order_id}", headers=buyer).get_json()["lines"][0]["id"]
    body = {"lines": [{"order_line_id": line_id, "amount": 100}], "reason": "线下仲裁"}
    assert client.post(f"/api/v1/admin/orders/{order_id}/refund", json=body,
                       headers={**owner, "Idempotency-Key": "f-1"}).status_code == 403  # fmt: skip
    assert verify(s).ok

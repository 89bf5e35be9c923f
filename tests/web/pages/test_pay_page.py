"""The whole purchase on a real server: a share link, checkout over HTTP, the sandbox's hosted pay page in
Chromium, the return page, and the provider's webhook delivered over real HTTP with its signature."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select

from commerce.ledger import verify
from commerce.orders.models import Order, OrderStatus
from commerce.payments.sandbox import SandboxNotification, deliver_due, http_transport
from core.accounts import service as accounts
from tests.browser import LiveServer, screenshot_path
from tests.commerce.money import make_market

pytestmark = pytest.mark.browser

ADDRESS = {"name": "李雷", "phone": "13911112222", "province": "广东省", "city": "深圳市", "district": "南山区",
           "detail": "科技园 1 号"}  # fmt: skip


def test_buy_through_a_share_link_and_pay_on_the_hosted_page(page: Any, site: LiveServer) -> None:
    db = site.app.extensions["db"]
    with db.session() as s:
        m = make_market(s)
        sharer_token = accounts.issue_token(s, m.sharer)
        video_id, sku_id = m.video.id, m.sku.id
    share = requests.post(f"{site.url}/api/v1/share-links", json={"target": "video", "target_id": video_id},
                          headers={"Authorization": f"Bearer {sharer_token}"}, timeout=10).json()  # fmt: skip
    # The buyer opens the link in the browser (click logged, cookie set), then signs in there.
    page.goto(share["url"])
    assert "click=" in page.url
    with db.session() as s:
        buyer = s.get(type(m.buyer), m.buyer.id)
        email = buyer.email  # type: ignore[union-attr]
    r = page.request.post(f"{site.url}/api/v1/auth/login", data={"email": email, "password": "correct horse battery"})
    assert r.status == 200, r.text()
    csrf = r.json()["csrf_token"]
    page.wait_for_timeout(1)
    placed = page.request.post(
        f"{site.url}/api/v1/checkouts",
        data={"items": [{"sku_id": sku_id, "quantity": 1, "source_video_id": video_id}], "address": ADDRESS},
        headers={"Idempotency-Key": "browser-1", "X-CSRF-Token": csrf},
    )
    assert placed.status == 201, placed.text()
    checkout = placed.json()
    assert checkout["orders"][0]["lines"][0]["sharer_id"] == m.sharer.id  # the click cookie travelled
    page.goto(checkout["pay_url"])
    page.get_by_text("¥100.00").wait_for()
    page.screenshot(path=screenshot_path("sandbox-pay-page"))
    page.get_by_test_id("pay").click()
    page.wait_for_url(f"{site.url}/pay/return/{checkout['id']}")
    page.get_by_test_id("payment-status").filter(has_text="支付成功").wait_for()
    page.screenshot(path=screenshot_path("sandbox-paid"))
    # The provider's notification, now sent over HTTP to the app: signed, and a no-op after the return page.
    with db.session() as s:
        report = deliver_due(s, site.app.config["SETTINGS"].sandbox_secrets()[0], http_transport)
        assert (report.delivered, report.failed) == (1, 0)
        note = s.scalar(select(SandboxNotification))
        assert note is not None
        assert urlsplit(note.url).path == "/api/v1/payments/webhooks/sandbox"
        order = s.scalar(select(Order).where(Order.checkout_id == checkout["id"]))
        assert order is not None
        assert order.status == OrderStatus.PAID
        assert verify(s).ok

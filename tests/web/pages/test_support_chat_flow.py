"""客服 in Chromium, two browser contexts chatting in real time: the buyer (a phone) opens the chat from the product
sheet; the agent sees it arrive in the brand's inbox without reloading, answers, and the buyer sees the answer
without reloading; the agent sends a cart card, the buyer checks out from it and pays in the sandbox, and the order
credits the agent's service fee through the ledger. The inbox and the chat also read in English."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from commerce.catalog.limits import CatalogLimits
from commerce.orders.models import Earning, EarningRole
from commerce.orders.split import split_line
from commerce.support import staff
from commerce.support.models import Conversation
from core import clock
from core.accounts.models import BrandMember, BrandRole, User
from tests import factories
from tests.browser import LiveServer, screenshot_path
from tests.web.pages.shops import ADDRESS, PRICE, open_shop, sign_in
from tests.web.pages.test_csp import RECORD

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN"}
LABELS = {"name": "收货人", "phone": "手机号", "province": "省份", "city": "城市", "district": "区县",
          "detail": "详细地址"}  # fmt: skip


def _agent(site: LiveServer, brand_id: int, owner_email: str) -> str:
    with site.app.extensions["db"].session() as s:
        owner = s.scalar(select(User).where(User.email == owner_email))
        agent = factories.user(s, email="kefu-agent@example.com", display_name="客服小美",
                               created_at=clock.now().replace(year=clock.now().year - 1))  # fmt: skip
        s.add(BrandMember(brand_id=brand_id, user_id=agent.id, role=BrandRole.MEMBER))
        s.commit()
        staff.appoint(s, owner, brand_id, agent.id)
        staff.configure(s, owner, brand_id, routing=None, agent_fee_bp=300,
                        limits=CatalogLimits.from_settings(site.app.config["SETTINGS"]))  # fmt: skip
        return agent.email  # type: ignore[return-value]


def _watched(browser: Any, violations: list[str], **options: Any) -> Any:
    """A context that reports every Content-Security-Policy violation of its pages (the socket's connect too)."""
    context = browser.new_context(**options)
    context.expose_binding("__cspViolation", lambda _source, text: violations.append(text))
    context.add_init_script(RECORD)
    return context


def test_buyer_and_agent_chat_in_real_time_and_the_cart_card_checks_out(browser: Any, site: LiveServer) -> None:
    shop = open_shop(site, slug="kefu", prefix="客服")
    agent_email = _agent(site, shop.brand_id, shop.owner_email)
    violations: list[str] = []

    # The agent opens the inbox first: empty, connected.
    agent_ctx = _watched(browser, violations, **DESKTOP)
    agent = agent_ctx.new_page()
    sign_in(agent, site, agent_email, f"/brand/{shop.brand_id}/inbox")
    expect(agent.locator("#inbox [data-live-status]")).to_have_text("已连接")

    # The buyer, on a phone, asks from the product sheet.
    buyer_ctx = _watched(browser, violations, **PHONE)
    buyer = buyer_ctx.new_page()
    sign_in(buyer, site, shop.buyer_email, f"/p/{shop.product_id}")
    buyer.get_by_role("button", name="选择规格并购买").click()
    buyer.get_by_role("button", name="联系客服").click()
    buyer.wait_for_url(f"{site.url}/chat/**")
    expect(buyer.locator("[data-live-status]")).to_have_text("已连接")
    thread = buyer.locator("[data-thread]")
    expect(thread.locator('[data-kind="product"]')).to_contain_text("客服精华液")
    buyer.get_by_label("输入消息").fill("这款精华适合敏感肌吗？")
    buyer.get_by_role("button", name="发送").click()
    expect(thread.locator('[data-kind="text"]').last).to_contain_text("这款精华适合敏感肌吗？")

    # The agent sees the new conversation arrive, with its unread count, without reloading.
    item = agent.locator("[data-conversations] [data-conversation]").first
    expect(item).to_contain_text("买家")
    expect(item.locator("[data-unread]")).to_have_text("2")
    item.click()
    pane = agent.locator("[data-pane]")
    expect(pane.locator('[data-kind="text"]')).to_contain_text("这款精华适合敏感肌吗？")
    pane.get_by_label("输入消息").fill("适合的，温和无刺激")
    pane.get_by_role("button", name="发送", exact=True).click()

    # The buyer sees the answer without reloading.
    expect(thread.locator(".sp-theirs").last).to_contain_text("适合的，温和无刺激")
    buyer.screenshot(path=screenshot_path("support-chat-buyer"))

    # A cart card: two bottles, checked out from the chat in one go.
    pane.get_by_label("商品规格").select_option(str(shop.sku_id))
    pane.get_by_label("数量").fill("2")
    pane.get_by_role("button", name="发送购物车").click()
    cart = thread.locator('[data-kind="cart"]')
    expect(cart).to_contain_text(f"合计 ¥{2 * PRICE / 100:.2f}")
    agent.screenshot(path=screenshot_path("support-inbox"))
    cart.get_by_role("link", name="一键下单").click()
    buyer.wait_for_url(f"{site.url}/chat/**/checkout")
    expect(buyer.locator("[data-total]")).to_have_text(f"¥{2 * PRICE / 100:.2f}")
    for field, label in LABELS.items():
        buyer.get_by_label(label, exact=True).fill(ADDRESS[field])
    buyer.get_by_role("button", name="提交订单并支付").click()
    expect(buyer.locator("h1")).to_have_text(f"¥{2 * PRICE / 100:.2f}")
    buyer.get_by_test_id("pay").click()
    buyer.wait_for_url(f"{site.url}/pay/return/**")

    # The order is in the conversation for the agent, and its fee is the agent's in the ledger.
    expect(pane.locator('[data-kind="order"]')).to_contain_text("订单 #")
    with site.app.extensions["db"].session() as s:
        conversation = s.scalar(select(Conversation).where(Conversation.brand_id == shop.brand_id))
        assert conversation is not None
        fee = s.scalar(
            select(Earning).where(Earning.role == EarningRole.AGENT, Earning.owner_id == conversation.agent_id)
        )
        assert fee is not None
        platform_bp = site.app.config["SETTINGS"].platform_fee_bp
        expected = split_line(2 * PRICE, artist_bp=0, sharer_bp=0, platform_bp=platform_bp, agent_bp=300).agent
        assert fee.amount == expected
        assert fee.amount > 0
    agent.reload()
    expect(agent.locator("[data-performance] [data-orders]")).to_have_text("1")
    expect(agent.locator("[data-performance] [data-fees]")).to_have_text(f"¥{fee.amount / 100:.2f}")

    # In English.
    buyer.goto(f"{site.url}/chat/{conversation.id}?lang=en")
    expect(buyer.locator("[data-live-status]")).to_have_text("Connected")
    expect(buyer.get_by_role("button", name="Send")).to_be_visible()
    agent.goto(f"{site.url}/brand/{shop.brand_id}/inbox?lang=en")
    expect(agent.get_by_role("heading", name="Agent performance")).to_be_visible()
    assert violations == []
    buyer_ctx.close()
    agent_ctx.close()


def test_without_websocket_the_chat_falls_back_to_sse(browser: Any, site: LiveServer) -> None:
    """A network that refuses WebSocket: both pages stream the same events over SSE."""
    from commerce.support import conversations

    shop = open_shop(site, slug="kefu-sse", prefix="流式")
    with site.app.extensions["db"].session() as s:
        buyer = s.scalar(select(User).where(User.email == shop.buyer_email))
        conversation_id = conversations.start(s, buyer, shop.brand_id, product_id=shop.product_id).id
    violations: list[str] = []
    contexts = [_watched(browser, violations, **PHONE), _watched(browser, violations, **DESKTOP)]
    for ctx in contexts:
        ctx.add_init_script("delete window.WebSocket;")
    buyer_page, owner_page = (ctx.new_page() for ctx in contexts)
    sign_in(buyer_page, site, shop.buyer_email, f"/chat/{conversation_id}")
    expect(buyer_page.locator("[data-live-status]")).to_have_text("已连接（SSE）")
    # The brand's owner (a member: every conversation) answers from the inbox, itself on SSE.
    sign_in(owner_page, site, shop.owner_email, f"/brand/{shop.brand_id}/inbox")
    expect(owner_page.locator("#inbox [data-live-status]")).to_have_text("已连接（SSE）")
    owner_page.locator(f'[data-conversation="{conversation_id}"]').click()
    pane = owner_page.locator("[data-pane]")
    expect(pane.locator('[data-kind="product"]')).to_contain_text("流式精华液")
    pane.get_by_label("输入消息").fill("通过 SSE 送达")
    pane.get_by_role("button", name="发送", exact=True).click()
    expect(buyer_page.locator("[data-thread] .sp-theirs").last).to_contain_text("通过 SSE 送达")
    assert violations == []
    for ctx in contexts:
        ctx.close()

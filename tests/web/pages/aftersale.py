"""What the after-sale browser tests share: the words of each language, a buyer's purchase through the pages, the
brand's steps on its dashboard, and the provider delivering its notifications."""

from __future__ import annotations

from typing import Any

from PIL import Image

from commerce.payments.sandbox import deliver_due, http_transport
from tests import factories
from tests.browser import LiveServer
from tests.web.pages.shops import Shop

WORDS = {
    "zh-CN": {
        "email": "邮箱",
        "password": "密码",
        "sign_in": "登录",
        "choose_and_buy": "选择规格并购买",
        "quantity": "数量",
        "buy_now": "立即购买",
        "place_and_pay": "提交订单并支付",
        "view_order": "查看订单",
        "paid": "支付成功",
        "not_through": "支付未成功",
        "declined": "银行卡被拒绝",
        "try_again": "重新支付",
        "last_declined": "上次支付被拒绝",
        "cancel": "取消订单",
        "confirm": "确认收货",
        "reason": "退款原因",
        "details": "补充说明（可选）",
        "damaged": "商品破损",
        "send_refund": "提交退款申请",
        "not_image": "文件不是可识别的图片",
        "carrier": "快递公司",
        "tracking": "运单号",
        "ship": "发货",
        "note": "备注（可选）",
        "approve": "同意退款",
        "reject": "拒绝",
        "nothing_to_ship": "没有待发货的订单",
        "no_refunds": "没有待处理的退款",
        "notifications": "通知",
        "rejected_text": "被商家拒绝：",
        "approved_text": "已同意",
        "paid_back": "已退回你的支付账户",
        "units": "退货数量",
        "share": "分享赚佣金",
        "orders": "全部订单",
        "my_orders": "我的订单",
        "address": {
            "收货人": "韩梅梅",
            "手机号": "13911112222",
            "省份": "浙江省",
            "城市": "杭州市",
            "区县": "西湖区",
            "详细地址": "文三路 1 号",
        },
    },
    "en": {
        "email": "E-mail",
        "password": "Password",
        "sign_in": "Sign in",
        "choose_and_buy": "Choose options and buy",
        "quantity": "Quantity",
        "buy_now": "Buy now",
        "place_and_pay": "Place order and pay",
        "view_order": "View order",
        "paid": "Paid",
        "not_through": "The payment did not go through",
        "declined": "the card was declined",
        "try_again": "Try again",
        "last_declined": "The last attempt was declined",
        "cancel": "Cancel order",
        "confirm": "Confirm receipt",
        "reason": "Reason",
        "details": "Details (optional)",
        "damaged": "Arrived damaged",
        "send_refund": "Send refund request",
        "not_image": "Not a readable image",
        "carrier": "Carrier",
        "tracking": "Tracking number",
        "ship": "Ship",
        "note": "Note (optional)",
        "approve": "Approve",
        "reject": "Reject",
        "nothing_to_ship": "Nothing to ship",
        "no_refunds": "No refund requests",
        "notifications": "Notifications",
        "rejected_text": "The brand declined your refund request",
        "approved_text": "was approved",
        "paid_back": "is back in your payment account",
        "units": "Units to return",
        "share": "Share and earn",
        "orders": "All orders",
        "my_orders": "My orders",
        "address": {
            "Recipient": "Han Meimei",
            "Phone": "13911112222",
            "Province": "Zhejiang",
            "City": "Hangzhou",
            "District": "Xihu",
            "Street address": "1 Wensan Road",
        },
    },
}


def phone(browser: Any, site: LiveServer, locale: str) -> Any:
    """A fresh phone-sized browser (its own cookies: another person) speaking `locale`."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale=locale)  # fmt: skip
    if locale == "en":
        context.add_cookies([{"name": "lang", "value": "en", "url": site.url}])
    return context.new_page()


def sign_in_here(page: Any, email: str, w: dict[str, Any]) -> None:
    """On the login page the app sent us to; it sends us back."""
    page.wait_for_url(lambda url: "/login?next=" in url)
    page.get_by_label(w["email"]).fill(email)
    page.get_by_label(w["password"]).fill(factories.PASSWORD)
    page.get_by_role("button", name=w["sign_in"]).click()
    page.wait_for_url(lambda url: "/login" not in url)


def sign_in_at(page: Any, site: LiveServer, email: str, path: str, w: dict[str, Any]) -> None:
    page.goto(f"{site.url}{path}")
    if "/login" in page.url:
        sign_in_here(page, email, w)


def checkout_from_product(page: Any, site: LiveServer, shop: Shop, w: dict[str, Any], *, qty: int = 1,
                          email: str | None = None, url: str | None = None) -> None:  # fmt: skip
    """From the product page (or a share link landing on it) to the provider's hosted pay page."""
    page.goto(url or f"{site.url}/p/{shop.product_id}")
    page.get_by_role("button", name=w["choose_and_buy"]).click()
    sheet = page.get_by_role("dialog")
    sheet.locator("[data-price]").wait_for()
    sheet.get_by_label(w["quantity"]).fill(str(qty))
    sheet.get_by_role("button", name=w["buy_now"]).click()
    page.wait_for_url(lambda u: "/login?" in u or "/checkout?" in u)
    if "/login" in page.url:
        sign_in_here(page, email or shop.buyer_email, w)
    page.wait_for_url("**/checkout?*")
    for label, value in w["address"].items():
        page.get_by_label(label).fill(value)
    page.get_by_role("button", name=w["place_and_pay"]).click()
    page.wait_for_url("**/sandbox/pay/*")


def pay_and_open_order(page: Any, w: dict[str, Any]) -> int:
    page.get_by_test_id("pay").click()
    page.wait_for_url("**/pay/return/*")
    page.get_by_test_id("payment-status").filter(has_text=w["paid"]).wait_for()
    page.get_by_role("link", name=w["view_order"]).click()
    page.wait_for_url("**/orders/*")
    return int(page.url.split("/orders/")[1].split("?")[0].split("#")[0])


def provider_delivers(site: LiveServer) -> None:
    """The sandbox provider sends its signed notifications to the site over HTTP (its worker's job)."""
    with site.app.extensions["db"].session() as s:
        report = deliver_due(s, site.app.config["SETTINGS"].sandbox_secrets()[0], http_transport)
        assert report.failed == 0


def ship_on_dashboard(page: Any, site: LiveServer, shop: Shop, order_id: int, w: dict[str, Any]) -> None:
    page.goto(f"{site.url}/brand/{shop.brand_id}")
    card = page.locator(f'#to-ship [data-order-id="{order_id}"]')
    card.get_by_label(w["carrier"]).fill("顺丰速运")
    card.get_by_label(w["tracking"]).fill(f"SF{order_id:010d}")
    card.get_by_role("button", name=w["ship"]).click()
    card.wait_for(state="detached")


def photo(path: Any) -> Any:
    Image.new("RGB", (800, 600), (200, 60, 60)).save(path, "JPEG")
    return path

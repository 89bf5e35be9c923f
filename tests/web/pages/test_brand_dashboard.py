"""The brand dashboard in Chromium, on the live site with its Celery worker: a buyer purchases through a video
(real checkout, the sandbox's hosted pay page, the provider's webhook delivered by the worker); the brand sees the
order to ship, ships it with a tracking number, and finds the sale attributed to the artist and the video."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests import factories
from tests.browser import LiveServer, screenshot_path
from tests.celery_worker import wait_until
from tests.web.pages.shops import XSS_NAME, buy_through_video, open_shop, order_status, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_brand_sees_its_sale_ships_it_and_finds_it_attributed(
    browser: Any, page: Any, worker_site: LiveServer
) -> None:
    site = worker_site
    shop = open_shop(site, slug="star", prefix="星")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    # Signed out, the dashboard asks for sign-in first; a member who is not of this brand gets 403.
    page.goto(f"{site.url}/brand")
    assert "/login?next=/brand" in page.url
    buyer = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                locale="zh-CN")  # fmt: skip
    bp = buyer.new_page()
    order_id = buy_through_video(bp, site, shop, quantity=2)
    assert bp.goto(f"{site.url}/brand/{shop.brand_id}").status == 403
    buyer.close()
    # The provider's signed notification reaches the app from the worker, which marks the order paid.
    wait_until(lambda: order_status(site, order_id) == "paid", timeout=60, message="the order being paid")

    sign_in(page, site, shop.owner_email, "/brand")
    card = page.locator(f'#to-ship [data-order-id="{order_id}"]')
    card.wait_for()
    assert "¥246.90" in card.inner_text()
    assert "星精华液" in card.inner_text()
    page.screenshot(path=screenshot_path("brand-orders"), full_page=True)
    card.get_by_label("快递公司").fill("顺丰速运")
    card.get_by_label("运单号").fill("SF1234567890")
    card.get_by_role("button", name="发货").click()
    page.locator("#to-ship").get_by_text("没有待发货的订单").wait_for()
    assert order_status(site, order_id) == "shipped"

    page.get_by_role("link", name="销售").click()
    page.wait_for_url(f"**/brand/{shop.brand_id}/sales")
    artist_row = page.locator("#table-artist tbody tr").filter(has_text=shop.artist_name)
    assert "¥246.90" in artist_row.inner_text()
    assert "¥49.38" in artist_row.inner_text()  # the artist's 20 % commission on ¥246.90
    video_row = page.locator("#table-video tbody tr").filter(has_text=shop.video_title)
    assert "¥246.90" in video_row.inner_text()
    assert video_row.get_by_role("link").get_attribute("href") == f"/v/{shop.video_id}"
    page.locator('[data-chart="artist"][data-drawn="true"]').wait_for()
    assert page.evaluate("Chart.getChart('chart-video').data.datasets[0].data") == [246.9]
    page.locator('[data-chart="day"]').scroll_into_view_if_needed()
    page.screenshot(path=screenshot_path("brand-sales-chart"), full_page=True)

    # A product name with markup is shown as text in the catalog, and nothing in it ran.
    page.get_by_role("link", name="商品").click()
    page.wait_for_url(f"**/brand/{shop.brand_id}/catalog")
    page.get_by_role("link", name=XSS_NAME).wait_for()
    assert page.locator("#products img").count() == 0
    assert page.evaluate("window.__xss") is None
    assert dialogs == []

    # The buyer asks to return one unit; the brand approves on the dashboard and the provider pays it back.
    refund_id = ask_refund(site, order_id, shop.buyer_email, reason="包装破损")
    page.get_by_role("link", name="待办").click()
    request = page.locator(f'#refunds [data-refund-id="{refund_id}"]')
    assert "包装破损" in request.inner_text()
    assert "¥123.45" in request.inner_text()
    request.get_by_role("button", name="同意退款").click()
    page.locator("#refunds").get_by_text("没有待处理的退款").wait_for()
    wait_until(lambda: refund_status(site, refund_id) == "refunded", timeout=60, message="the refund being paid")


def ask_refund(site: LiveServer, order_id: int, buyer_email: str, *, reason: str) -> int:
    from sqlalchemy import select

    from commerce.orders import refunds
    from commerce.orders.models import Order
    from core.accounts.models import User

    with site.app.extensions["db"].session() as s:
        buyer = s.scalar(select(User).where(User.email == buyer_email))
        order = s.get(Order, order_id)
        assert order is not None
        items = [refunds.RefundItem(order.lines[0].id, quantity=1)]
        return refunds.request_refund(s, buyer, order_id, items=items, reason=reason).id


def refund_status(site: LiveServer, refund_id: int) -> str:
    from commerce.orders.models import OrderRefund

    with site.app.extensions["db"].session() as s:
        refund = s.get(OrderRefund, refund_id)
        assert refund is not None
        return refund.status.value


def test_a_brand_manages_its_catalog(page: Any, site: LiveServer, tmp_path: Path) -> None:
    from PIL import Image

    with site.app.extensions["db"].session() as s:
        owner = factories.user(s, email="catalog-owner@example.com")
        first = factories.brand(s, owner=owner, name="一号品牌")
        factories.brand(s, owner=owner, name="二号品牌")
        s.commit()
        brand_id = first.id
    sign_in(page, site, "catalog-owner@example.com", "/brand")
    page.locator(".br-switch summary").click()  # a member of two brands switches between them
    assert page.locator(".br-switch").get_by_role("link", name="二号品牌").is_visible()

    page.goto(f"{site.url}/brand/{brand_id}/catalog")
    new = page.locator("section", has=page.get_by_role("heading", name="新建商品"))
    new.get_by_label("名称").fill("玻尿酸面膜")
    new.get_by_label("类目").select_option("beauty.skincare")
    new.get_by_label("规格属性").fill("规格:5片装")
    new.get_by_label("售价（元）").fill("88.8")
    new.get_by_label("库存").fill("7")
    new.get_by_label("立即上架").check()
    new.get_by_role("button", name="创建").click()
    page.wait_for_url(f"**/brand/{brand_id}/products/*")
    assert page.locator("[data-status]").inner_text() == "在售"
    sku = page.locator("[data-sku-id]").first
    assert sku.get_by_label("售价（元）").input_value() == "88.80"
    sku.get_by_label("售价（元）").fill("99.9")
    sku.get_by_role("button", name="保存").click()
    page.wait_for_load_state()
    page.locator('[data-sku-id] input[name="price_yuan"][value="99.90"]').wait_for()

    affiliate = page.locator("#affiliate")
    affiliate.get_by_label("艺人佣金（%）").fill("15")
    affiliate.get_by_label("分享者佣金（%，可选）").fill("5")
    affiliate.get_by_role("button", name="开放分销").click()
    page.locator("[data-offer]").filter(has_text="15%").wait_for()
    assert "5%" in page.locator("[data-offer]").inner_text()
    assert affiliate.locator("tbody tr").count() == 1

    picture = tmp_path / "mask.png"
    Image.new("RGB", (320, 320), (250, 200, 210)).save(picture)
    page.get_by_label("上传图片").set_input_files(str(picture))
    page.get_by_role("button", name="上传", exact=True).click()
    page.locator("[data-image-id] img").wait_for()

    page.get_by_role("button", name="下架").click()
    page.locator("[data-status]").filter(has_text="已下架").wait_for()

    # A CSV with a bad row is refused as a whole, naming the row and column.
    csv = tmp_path / "catalog.csv"
    csv.write_text("product_code,name,category,status,description,sku_code,attributes,price,list_price,stock\n"
                   "MASK-2,睡眠面膜,beauty.skincare,active,,MASK-2A,规格:1盒,abc,,5\n", encoding="utf-8")  # fmt: skip
    page.goto(f"{site.url}/brand/{brand_id}/catalog")
    page.get_by_label("CSV 文件").set_input_files(str(csv))
    page.get_by_role("button", name="导入", exact=True).click()
    page.locator("[data-errors]").filter(has_text="第 2 行：售价（price）格式无效").wait_for()
    rows = page.locator("#products tbody tr[data-product-id]")
    assert rows.count() == 1
    assert "玻尿酸面膜" in rows.first.inner_text()
    assert "已下架" in rows.first.inner_text()
    export = page.get_by_role("link", name="导出全部商品（CSV）")
    assert export.get_attribute("href") == f"/api/v1/brands/{brand_id}/catalog/export"

"""The brand dashboard in Chromium, on the live site with its Celery worker: a buyer purchases through a video
(real checkout, the sandbox's hosted pay page, the provider's webhook delivered by the worker); the brand sees the
order to ship, ships it with a tracking number, and finds the sale attributed to the artist and the video."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from tests import factories
from tests.browser import LiveServer, screenshot_path
from tests.celery_worker import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

XSS_NAME = '<script>window.__xss=1</script><img src=x onerror="window.__xss=1">'
ADDRESS = {"name": "韩梅梅", "phone": "13911112222", "province": "浙江省", "city": "杭州市", "district": "西湖区",
           "detail": "文三路 1 号"}  # fmt: skip
PRICE = 12_345  # ¥123.45, bought twice: ¥246.90


@dataclass
class Shop:
    brand_id: int
    owner_email: str
    buyer_email: str
    artist_name: str
    video_id: int
    video_title: str
    sku_id: int
    product_id: int


def sign_in(page: Any, site: LiveServer, email: str, next_path: str) -> None:
    page.goto(f"{site.url}/login?next={next_path}")
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(factories.PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{site.url}{next_path}**")


def open_shop(site: LiveServer, *, slug: str, prefix: str, hashtags: tuple[str, ...] = ()) -> Shop:
    """A brand with an active product open for affiliation, and an artist's published video carrying it; made
    through the catalog services (so the search index hears of them) and committed for the live site to see."""
    from commerce.catalog import affiliate, products
    from commerce.catalog.limits import CatalogLimits
    from commerce.catalog.models import ProductStatus
    from core import clock, outbox

    limits = CatalogLimits.from_settings(site.app.config["SETTINGS"])
    with site.app.extensions["db"].session() as s:
        old = clock.now() - dt.timedelta(days=365)  # established accounts: no new-account review holds
        owner = factories.user(s, email=f"{slug}-owner@example.com", display_name=f"{prefix}店主", created_at=old)
        artist = factories.user(s, email=f"{slug}-artist@example.com", artist=True, display_name=f"{prefix}艺人",
                                created_at=old)  # fmt: skip
        buyer = factories.user(s, email=f"{slug}-buyer@example.com", display_name="买家", created_at=old)
        brand = factories.brand(s, owner=owner, name=f"{prefix}品牌")
        s.commit()
        product = products.create_product(
            s, owner, brand.id, name=f"{prefix}精华液", category="beauty.skincare", status=ProductStatus.ACTIVE,
            skus=[products.SkuSpec(code=None, attributes={"规格": "30ml"}, price_fen=PRICE, list_price_fen=None,
                                   stock=20)], limits=limits,
        )  # fmt: skip
        affiliate.set_offer(s, owner, product.id, artist_rate_bp=2000, sharer_rate_bp=500, limits=limits)
        products.create_product(s, owner, brand.id, name=XSS_NAME, category="beauty.skincare", limits=limits)
        video = factories.video(s, uploader=artist, title=f"{prefix}护肤分享", hashtags=list(hashtags))
        factories.video_link(s, video=video, product=product)
        outbox.emit(s, "video", video.id)
        outbox.emit(s, "artist", artist.id)
        s.commit()
        return Shop(brand.id, owner.email, buyer.email, artist.display_name, video.id, video.title,
                    product.skus[0].id, product.id)  # fmt: skip


def buy_through_video(page: Any, site: LiveServer, shop: Shop, quantity: int) -> int:
    """The buyer checks out over the API from the browser and pays on the sandbox's hosted page; returns the order."""
    r = page.request.post(f"{site.url}/api/v1/auth/login", data={"email": shop.buyer_email,
                                                                 "password": factories.PASSWORD})  # fmt: skip
    assert r.status == 200, r.text()
    placed = page.request.post(
        f"{site.url}/api/v1/checkouts",
        data={"items": [{"sku_id": shop.sku_id, "quantity": quantity, "source_video_id": shop.video_id}],
              "address": ADDRESS},
        headers={"Idempotency-Key": f"brand-dash-{shop.video_id}", "X-CSRF-Token": r.json()["csrf_token"]},
    )  # fmt: skip
    assert placed.status == 201, placed.text()
    checkout = placed.json()
    page.goto(checkout["pay_url"])
    page.get_by_test_id("pay").click()
    page.wait_for_url(f"{site.url}/pay/return/{checkout['id']}")
    return int(checkout["orders"][0]["id"])


def order_status(site: LiveServer, order_id: int) -> str:
    from commerce.orders.models import Order

    with site.app.extensions["db"].session() as s:
        order = s.get(Order, order_id)
        assert order is not None
        return order.status.value


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

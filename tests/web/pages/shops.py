"""A shop for the browser tests, made through the real services on the live site: a brand with a product open for
affiliation, an artist's published video carrying it, a buyer; and the buyer's purchase through the real checkout
and the sandbox's hosted pay page."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from tests import factories
from tests.browser import LiveServer

XSS_NAME = '<script>window.__xss=1</script><img src=x onerror="window.__xss=1">精华'
ADDRESS = {"name": "韩梅梅", "phone": "13911112222", "province": "浙江省", "city": "杭州市", "district": "西湖区",
           "detail": "文三路 1 号"}  # fmt: skip
PRICE = 12_345  # ¥123.45


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
        products.create_product(
            s, owner, brand.id, name=XSS_NAME, category="beauty.skincare", status=ProductStatus.ACTIVE,
            skus=[products.SkuSpec(code=None, attributes={}, price_fen=990, list_price_fen=None, stock=5)],
            limits=limits,
        )  # fmt: skip
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

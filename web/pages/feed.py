"""The viewer's pages: the watch-and-buy feed, a video, a product, checkout, orders, "me".

The feed's first page is rendered on the server (poster and sources of the first video in the HTML), so the
first video paints and starts before any script arrives; static/feed/feed.js takes over from there and calls the
JSON API for everything else.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, redirect, render_template, request

from commerce.catalog import products
from commerce.catalog.models import Product, ProductStatus, Sku
from commerce.ledger import AccountKind, OwnerKind, balances
from commerce.marketing import bargains, coupons, flash_sales, group_buys
from commerce.notifications import service as notifications
from commerce.orders import commissions, lifecycle
from commerce.orders.cart import MAX_QUANTITY
from commerce.orders.checkout import CheckoutItem
from commerce.orders.overview import order_overview
from core import clock, extensions, qr
from core.accounts import wechat
from core.accounts.models import User
from search import feed as feed_service
from search.engine import SearchEngine
from web.api.catalog import product_out
from web.api.discovery import VideoCardOut
from web.auth import current_user, safe_next_path, signed_in_page
from web.device import device_for_browser, set_device_cookie
from web.edge import int64
from web.headers import allow_wechat_sdk
from web.wechat import wechat_sign_in_offered

bp = Blueprint("feed", __name__, template_folder="../templates")

FIRST_PAGE = 5
LANG_COOKIE_DAYS = 365


def _click_id() -> str:
    """The share click the visitor landed with (`/s/<token>` redirects here with `?click=`)."""
    click = request.args.get("click", "")
    return click if click.isascii() and len(click) <= 40 else ""


def _engine() -> SearchEngine:
    engine: SearchEngine = extensions.extension("search")
    return engine


def _render_feed(first: list[dict[str, Any]], next_cursor: str | None, *, start_video: int | None) -> Response:
    raw_device, _, new_device = device_for_browser()
    user = current_user()
    if start_video is None:
        page = feed_service.for_you(
            extensions.session(), _engine(), user_id=user.id if user else None, device_id=raw_device, cursor=None,
            limit=FIRST_PAGE,
        )  # fmt: skip
        first = [VideoCardOut.of(c).model_dump(mode="json") for c in page.items]
        next_cursor = page.next_cursor
    html = render_template(
        "index.html", items=first, next_cursor=next_cursor, device_id=raw_device, click=_click_id(),
        start_video=start_video, empty=None if first else feed_service.why_empty(extensions.session()),
    )  # fmt: skip
    response = Response(html, mimetype="text/html")
    if new_device:
        set_device_cookie(response, raw_device)
    return response


@bp.get("/")
def index() -> Response:
    return _render_feed([], None, start_video=None)


@bp.get("/v/<int:video_id>")
def video(video_id: int) -> Response:
    """The feed, starting at this video (share links land here); the rest of the feed follows it."""
    card = feed_service.opened_at(extensions.session(), _engine(), video_id, current_user())
    allow_wechat_sdk()
    return _render_feed([VideoCardOut.of(card).model_dump(mode="json")], None, start_video=video_id)


@bp.get("/p/<int:product_id>")
def product(product_id: int) -> str:
    found: Product = products.visible_product(extensions.session(), current_user(), product_id)
    allow_wechat_sdk()
    return render_template(
        "feed/product.html",
        product=product_out(found),
        offered=coupons.claimable_for_product(extensions.session(), current_user(), found.id),
        describe=coupons.describe,
        buyable=found.status == ProductStatus.ACTIVE,
        click=_click_id(),
    )


@bp.get("/checkout")
@signed_in_page
def checkout(user: User) -> str | Response:
    """Address and order summary for one SKU; the page's script places the order through the API."""
    found = products.visible_product(extensions.session(), user, request.args.get("product", 0, type=int64))
    sku = next((s for s in found.skus if s.id == request.args.get("sku", type=int) and s.is_active), None)
    if sku is None:
        abort(404)
    quantity = max(1, min(request.args.get("qty", default=1, type=int), MAX_QUANTITY))
    # Checkout asks marketing for the line's price: an admitted flash-sale buyer sees the sale price they will pay.
    flash = flash_sales.lines_for(extensions.session(), user.id, [sku.id], clock.now()).get(sku.id)
    if flash is not None:
        quantity = flash.quantity
    # A 拼团 seat: the group price, up to the offer's units per member.
    group = None if flash else group_buys.lines_for(extensions.session(), user.id, [CheckoutItem(sku.id, 1)],
                                                    clock.now()).get(sku.id)  # fmt: skip
    if group is not None:
        quantity = min(quantity, group.limit)
    unit_price = flash.price_fen if flash is not None else group.price_fen if group is not None else sku.price_fen
    # A bargained unit: checkout takes the cut off one unit as a brand-funded discount.
    bargain = (
        None if flash or group else bargains.lines_for(extensions.session(), user.id, [sku.id], clock.now()).get(sku.id)
    )
    bargain_cut = bargain.cut(unit_price) if bargain is not None else 0
    # The wallet coupons this line can take, best first; the page picks one brand and one platform coupon.
    line = coupons.PricedLine(found.brand_id, found.id, unit_price * quantity - bargain_cut)
    usable = coupons.usable_for(extensions.session(), user.id, [line])
    return render_template(
        "feed/checkout.html",
        describe=coupons.describe,
        brand_coupons=[(uc, off) for uc, off in usable if uc.coupon.funded_by == "brand"],
        platform_coupons=[(uc, off) for uc, off in usable if uc.coupon.funded_by == "platform"],
        sku=sku,
        unit_price=unit_price,
        flash=flash,
        bargain_cut=bargain_cut,
        group=group,
        product=product_out(found),
        quantity=quantity,
        video_id=request.args.get("video", type=int),
        click=_click_id(),
    )


@bp.get("/bargain/<int:bargain_id>")
def bargain(bargain_id: int) -> str:
    """A bargain's page, for the buyer and the friends they send its link to: the disclosed schedule, the cut so
    far and what is left, who helped; a help button for friends, buy-now for the buyer (static/feed/bargain.js)."""
    user = current_user()
    view = bargains.view(extensions.session(), bargain_id, user)
    link = f"{extensions.settings().public_base_url.rstrip('/')}/bargain/{view.bargain.id}"
    return render_template("feed/bargain.html", v=view, user=user, link=link)


@bp.get("/group/<int:group_id>")
def group(group_id: int) -> str:
    """A 拼团 group: members of N, time left, join (or pay for one's seat), the share link; static/feed/group.js."""
    session = extensions.session()
    v = group_buys.view(session, group_id, current_user())
    sku = session.get(Sku, v.offer.sku_id)
    assert sku is not None
    allow_wechat_sdk()
    return render_template("feed/group.html", v=v, sku=sku, click=_click_id())


@bp.get("/orders/<int:order_id>")
@signed_in_page
def order(user: User, order_id: int) -> str | Response:
    """The order, its refunds, and the buyer's after-sale actions (static/feed/order.js sends them to the API)."""
    view = order_overview(extensions.session(), user, order_id, storage=extensions.storage())
    return render_template("feed/order.html", view=view, order=view.order)


@bp.get("/me/orders")
@signed_in_page
def my_orders(user: User) -> str | Response:
    rows, cursor = lifecycle.list_orders(extensions.session(), user, cursor=request.args.get("cursor"), limit=20)
    return render_template("feed/orders.html", orders=rows, next_cursor=cursor)


@bp.get("/me")
@signed_in_page
def me(user: User) -> str | Response:
    session = extensions.session()
    wallet = balances(session, OwnerKind.USER, user.id)
    recent, _ = lifecycle.list_orders(session, user, limit=3)
    earned, more = commissions.list_commissions(session, user, limit=5)
    return render_template(
        "feed/me.html",
        user=user,
        pending=wallet[AccountKind.PENDING],
        available=wallet[AccountKind.AVAILABLE],
        orders=recent,
        unread=notifications.unread_count(session, user),
        commissions=earned,
        more_commissions=more is not None,
        wechat_bound=bool(wechat.identities_of(session, user.id)),
        wechat_offered=wechat_sign_in_offered(),
    )


@bp.get("/me/commissions")
@signed_in_page
def my_commissions(user: User) -> str | Response:
    rows, cursor = commissions.list_commissions(extensions.session(), user, cursor=request.args.get("cursor"))
    return render_template("feed/commissions.html", rows=rows, next_cursor=cursor)


@bp.get("/me/commissions/<int:order_id>")
@signed_in_page
def commission_receipt(user: User, order_id: int) -> str | Response:
    """Click → rule → split → the ledger postings on the user's accounts, which add up to what they keep."""
    found = commissions.receipt(extensions.session(), user, order_id, policy=extensions.extension("money_policy"))
    return render_template("feed/receipt.html", receipt=found)


@bp.get("/lang/<any(zh, en):code>")
def set_language(code: str) -> Response:
    """Remember the language for every page (the `lang` cookie), then go back."""
    response = redirect(safe_next_path(request.args.get("next")))
    response.set_cookie("lang", code, max_age=LANG_COOKIE_DAYS * 86400, samesite="Lax")
    return response


@bp.get("/share/qr.svg")
def share_qr() -> Response:
    """A QR code of one of our own share links, for posting in WeChat moments (not a QR service for any URL)."""
    url = request.args.get("u", "")
    base = urlsplit(extensions.settings().public_base_url)
    parts = urlsplit(url)
    if (parts.scheme, parts.netloc) != (base.scheme, base.netloc) or not parts.path.startswith("/s/") or len(url) > 600:
        abort(404)
    response = Response(qr.svg(url), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response

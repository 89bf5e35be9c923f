"""The brand dashboard: catalog, affiliate settings, orders to ship, refunds, attributed sales.

Every page is about one brand the signed-in user belongs to (`/brand/<id>/...`; a switcher moves between
their brands). Membership is checked by the services each page calls, so a non-member gets the 403 page.
Changes go through the JSON API from static/brand/brand.js.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request
from sqlalchemy import select

from commerce import reports
from commerce.catalog import affiliate, categories, products
from commerce.catalog.products import QUALIFICATION_NAMES
from commerce.marketing import bargains, campaign_stats, coupons, flash_sales, group_buys
from commerce.orders import lifecycle, refund_photos, refunds
from commerce.orders.models import OrderStatus, RefundState
from core import clock, extensions
from core.accounts.models import Brand, QualificationKind, User
from core.errors import NotFound, ValidationFailed
from moderation import qualifications
from web.api.moderation import QualificationOut
from web.auth import signed_in_page
from web.i18n import pick
from web.i18n import t as _t

bp = Blueprint("brand", __name__, template_folder="../templates")

STATUS_NAMES = {"draft": ("草稿", "Draft"), "active": ("在售", "On sale"), "archived": ("已下架", "Archived")}
CARRIERS = ("顺丰速运", "中通快递", "圆通速递", "韵达快递", "申通快递", "京东物流", "EMS")


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {
        "status_name": lambda s: pick(STATUS_NAMES, s),
        "pct": lambda bp: f"{bp / 100:g}",
    }


def _render(template: str, user: User, brand_id: int, section: str, **context: Any) -> str:
    """Render a dashboard page (after its service checked membership) with the switcher of the user's brands."""
    session = extensions.session()
    ids = user.brand_ids() if brand_id in user.brand_ids() else [*user.brand_ids(), brand_id]  # admins too
    brands = session.scalars(select(Brand).where(Brand.id.in_(ids)).order_by(Brand.id)).all()
    brand = next((b for b in brands if b.id == brand_id), None)
    if brand is None:  # an admin asking for a brand that does not exist
        raise NotFound("brand")
    return render_template(template, brand=brand, brands=brands, section=section, **context)


@bp.get("/brand")
@signed_in_page
def home(user: User) -> str | Response:
    if not user.brand_ids():
        message = _t("只有品牌成员可以使用品牌后台", "Only brand members can use the brand dashboard")
        return render_template("error.html", status=403, message=message), 403  # type: ignore[return-value]
    return redirect(f"/brand/{user.brand_ids()[0]}{'?lang=en' if request.args.get('lang') == 'en' else ''}")


@bp.get("/brand/<int:brand_id>")
@signed_in_page
def overview(user: User, brand_id: int) -> str | Response:
    """What needs doing: paid orders to ship and refund requests to decide, with the last 30 days' sales."""
    session = extensions.session()
    to_ship, more_orders = lifecycle.list_orders(session, user, brand_id=brand_id, status=OrderStatus.PAID, limit=50)
    asked, more_refunds = refunds.list_brand_refunds(session, user, brand_id, status=RefundState.REQUESTED, limit=50)
    until = clock.now().date()
    report = reports.brand_report(session, user, brand_id, reports.Period(until - dt.timedelta(days=29), until))
    photos = {r.id: refund_photos.urls(extensions.storage(), r.photos) for r in asked}
    return _render(
        "brand/overview.html", user, brand_id, "overview", to_ship=to_ship, more_orders=more_orders, refunds=asked,
        more_refunds=more_refunds, sales=report.sales, carriers=CARRIERS, photos=photos,
    )  # fmt: skip


@bp.get("/brand/<int:brand_id>/catalog")
@signed_in_page
def catalog(user: User, brand_id: int) -> str | Response:
    session = extensions.session()
    q = request.args.get("q", "").strip()[:100] or None
    items, cursor = products.list_brand_products(session, user, brand_id, q=q, cursor=request.args.get("cursor"),
                                                 limit=50)  # fmt: skip
    offers = products.current_offers(session, [p.id for p in items])
    return _render(
        "brand/catalog.html", user, brand_id, "catalog", items=items, offers=offers, next_cursor=cursor, q=q or "",
        categories=categories.ROOTS,
    )  # fmt: skip


@bp.get("/brand/<int:brand_id>/papers")
@signed_in_page
def papers(user: User, brand_id: int) -> str | Response:
    """The brand's licence and category papers: what each regulated category needs, what was submitted, decided."""
    docs = qualifications.of_brand(extensions.session(), user, brand_id)
    return _render("brand/papers.html", user, brand_id, "papers", docs=[QualificationOut.of(d) for d in docs],
                   kinds=list(QualificationKind), names=QUALIFICATION_NAMES)  # fmt: skip


@bp.get("/brand/<int:brand_id>/coupons")
@signed_in_page
def coupons_page(user: User, brand_id: int) -> str | Response:
    """The brand's coupons: create one (amount, percentage with a cap, 满减), and each one's claimed, used, GMV
    and cost; static/brand/coupons.js sends the form to the API."""
    session = extensions.session()
    rows = coupons.list_coupons(session, user, brand_id)
    figures = campaign_stats.for_brand(session, user, brand_id, ["coupon"])
    return _render("brand/coupons.html", user, brand_id, "coupons", coupons=rows, figures=figures,
                   stats={r.campaign_id: r for r in figures}, describe=coupons.describe)  # fmt: skip


@bp.get("/brand/<int:brand_id>/flash-sales")
@signed_in_page
def flash_sales_page(user: User, brand_id: int) -> str | Response:
    """The brand's 秒杀 flash sales: schedule one (SKU, price, quantity, window, per-buyer limit), and each one's
    admitted, paid, units left, GMV and cost, charted; static/brand/campaign_form.js sends the form to the API."""
    session = extensions.session()
    sales = flash_sales.list_sales(session, user, brand_id)
    figures = campaign_stats.for_brand(session, user, brand_id, ["flash_sale"])
    stats = {r.campaign_id: r for r in figures}
    now = clock.now()
    phases = {s.id: flash_sales.phase_of(s, now, stats[s.id].units_left or 0) for s in sales}
    return _render("brand/flash_sales.html", user, brand_id, "flash_sales", sales=sales, stats=stats,
                   figures=figures, phases=phases, skus=flash_sales.schedulable_skus(session, user, brand_id),
                   totals=campaign_stats.totals(figures))  # fmt: skip


@bp.get("/brand/<int:brand_id>/bargains")
@signed_in_page
def bargains_page(user: User, brand_id: int) -> str | Response:
    """The brand's 砍价 offers: make one (SKU, floor price, helps, how long a bargain lasts, window, per-buyer
    limit), and each one's bargains started, paid, GMV and cost, charted; static/brand/campaign_form.js sends the
    form."""
    session = extensions.session()
    offers = bargains.list_offers(session, user, brand_id)
    figures = campaign_stats.for_brand(session, user, brand_id, ["bargain"])
    now = clock.now()
    return _render(
        "brand/bargains.html", user, brand_id, "bargains", offers=offers, figures=figures,
        stats={r.campaign_id: r for r in figures}, phases={o.id: bargains.offer_phase(o, now) for o in offers},
        skus=flash_sales.schedulable_skus(session, user, brand_id), totals=campaign_stats.totals(figures),
    )  # fmt: skip


@bp.get("/brand/<int:brand_id>/products/<int:product_id>")
@signed_in_page
def product(user: User, brand_id: int, product_id: int) -> str | Response:
    """One product: details, status, SKUs, images, and its affiliate terms with their history."""
    session = extensions.session()
    item = products.product_for_member(session, user, product_id)
    if item.brand_id != brand_id:
        return redirect(f"/brand/{item.brand_id}/products/{item.id}")
    history = affiliate.offer_history(session, user, product_id)
    storage = extensions.storage()
    images = [(i, storage.public_url(min(i.renditions.items(), key=lambda kv: int(kv[0]))[1])) for i in item.images]
    return _render(
        "brand/product.html", user, brand_id, "catalog", product=item, history=history, images=images,
        offer=next((o for o in history if o.effective_to is None), None), categories=categories.ROOTS,
    )  # fmt: skip


@bp.get("/brand/<int:brand_id>/sales")
@signed_in_page
def sales(user: User, brand_id: int) -> str | Response:
    """Sales attributed by day, artist, sharer and video, as charts with a table beside each."""
    days = request.args.get("days", type=int) or 30
    days = days if days in (7, 30, 90) else 30
    until = clock.now().date()
    try:
        period = reports.Period(until - dt.timedelta(days=days - 1), until)
    except ValidationFailed:  # not reachable with the fixed choices; keeps the page up if they change
        period = reports.Period(until, until)
    session = extensions.session()
    report = reports.brand_report(session, user, brand_id, period).with_names(session)
    return _render("brand/sales.html", user, brand_id, "sales", report=report, period=period, days=days,
                   breakdowns=_breakdowns(report))  # fmt: skip


Row = tuple[str, str | None, reports.Sales]  # label, link, sales


def _breakdowns(report: reports.Report) -> list[tuple[str, str, str, str, list[Row]]]:
    """(key, title, label heading, money heading, rows) per chart: by day, artist, sharer and video (that sold).

    The money column is what the brand paid the artist or sharer, or what the brand itself kept."""
    people = report.user_names
    days: list[Row] = [(d.isoformat(), None, s) for d, s in report.by_day.items()] if report.sales.orders else []
    paid, kept = _t("付出佣金", "Commission paid"), _t("品牌所得", "Brand's share")
    return [
        ("day", _t("每日成交额", "GMV by day"), _t("日期", "Day"), kept, days),
        ("artist", _t("按艺人", "By artist"), _t("艺人", "Artist"), paid,
         [(people.get(u, f"#{u}"), f"/artists/{u}", s) for u, s in report.by_artist.items()]),
        ("sharer", _t("按分享者", "By sharer"), _t("分享者", "Sharer"), paid,
         [(people.get(u, f"#{u}"), None, s) for u, s in report.by_sharer.items()]),
        ("video", _t("按视频", "By video"), _t("视频", "Video"), kept,
         [(report.video_titles.get(v, f"#{v}"), f"/v/{v}", s) for v, (s, _f) in report.by_video.items() if s.orders]),
    ]  # fmt: skip


@bp.get("/brand/<int:brand_id>/group-buys")
@signed_in_page
def group_buys_page(user: User, brand_id: int) -> str | Response:
    """The brand's 拼团 offers: create one (SKU, group price, size, time to fill, per-member limit, window), and
    each one's groups, members joined, paid, GMV and cost, charted; static/brand/campaign_form.js sends the form."""
    session = extensions.session()
    offers = group_buys.list_offers(session, user, brand_id)
    figures = campaign_stats.for_brand(session, user, brand_id, ["group_buy"])
    phases = {o.id: group_buys.phase_of(o, clock.now()) for o in offers}
    return _render("brand/group_buys.html", user, brand_id, "group_buys", offers=offers, figures=figures,
                   stats={r.campaign_id: r for r in figures}, phases=phases,
                   groups=group_buys.group_counts(session, [o.id for o in offers]),
                   skus=flash_sales.schedulable_skus(session, user, brand_id),
                   totals=campaign_stats.totals(figures))  # fmt: skip

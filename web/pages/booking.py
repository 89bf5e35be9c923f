"""Booking pages: the campaign editor, the matching page, both sides' booking inboxes with timelines,
artist profiles with measured metrics, the artist's own profile editor, open campaigns and notifications.

Pages read through the same services as the API and are rendered on the server; the small scripts in
static/booking only send the forms to the API (with CSRF, Idempotency-Key and the version seen).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, redirect, render_template, request
from sqlalchemy import select

from commerce.artists import profiles, regions
from commerce.booking import bookings, campaigns, escrow
from commerce.booking.brief import range_text
from commerce.booking.models import BookingState, Party
from commerce.catalog import products
from commerce.catalog.models import Product, ProductStatus
from commerce.ledger import AccountKind, OwnerKind, balances
from commerce.matching import service as matching
from commerce.matching.explain import explain, label
from commerce.notifications import service as notifications
from commerce.payments import open_provider
from commerce.payments import service as payments
from core import clock, extensions
from core.accounts.models import User
from core.errors import ValidationFailed
from media import videos
from media.models import Video, VideoStatus, Visibility
from search import follows
from search import service as search_service
from web.api.artists import FOLLOWER_BAND_NAMES, PRICE_BAND_NAMES, TIER_NAMES, options
from web.api.bookings import booking_out
from web.api.discovery import VideoCardOut
from web.auth import current_user, signed_in_page
from web.edge import int64
from web.i18n import get_locale, pick
from web.i18n import t as _t

bp = Blueprint("booking_pages", __name__, template_folder="../templates")

STATE_NAMES = {
    "invited": ("已邀请", "Invited"),
    "applied": ("已报名", "Applied"),
    "quoted": ("艺人报价", "Quoted"),
    "countered": ("品牌还价", "Countered"),
    "accepted": ("已确认", "Agreed"),
    "funded": ("已托管", "Funded"),
    "draft_submitted": ("草稿待审", "Draft in review"),
    "revision_requested": ("待修改", "Revision requested"),
    "approved": ("已通过", "Approved"),
    "published": ("已发布", "Published"),
    "completed": ("已完成", "Completed"),
    "paid": ("已结算", "Paid"),
    "declined": ("已拒绝", "Declined"),
    "expired": ("已失效", "Expired"),
    "cancelled": ("已取消", "Cancelled"),
    "disputed": ("争议中", "Disputed"),
    "resolved": ("已裁决", "Resolved"),
}
ACTION_NAMES = {
    "invite": ("发出邀请", "Invited"),
    "apply": ("报名", "Applied"),
    "quote": ("报价", "Quote"),
    "counter": ("还价", "Counter"),
    "accept": ("接受", "Accept"),
    "decline": ("拒绝", "Decline"),
    "cancel": ("取消合作", "Cancel"),
    "fund": ("托管费用", "Fund escrow"),
    "submit_draft": ("提交草稿", "Submit draft"),
    "request_revision": ("要求修改", "Request changes"),
    "approve": ("通过草稿", "Approve"),
    "publish": ("发布视频", "Publish"),
    "dispute": ("发起争议", "Dispute"),
    "resolve": ("裁决争议", "Resolve"),
    "expire": ("超时失效", "Expired"),
    "complete": ("在线检查通过", "Live check passed"),
    "pay": ("结算给艺人", "Paid out"),
}


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {
        "state_name": lambda s: pick(STATE_NAMES, s),
        "action_name": lambda a: pick(ACTION_NAMES, a),
        "region_name": lambda code: regions.name(code, get_locale()) if code else "",
        "now_utc": clock.now,
        "part_label": lambda key: label(key, get_locale()),
    }


@bp.get("/campaigns")
@signed_in_page
def campaign_list(user: User) -> str | Response:
    session = extensions.session()
    mine = []
    for brand_id in user.brand_ids():
        items, _ = campaigns.list_for_brand(session, user, brand_id, limit=100)
        mine.extend(items)
    return render_template("booking/campaigns.html", campaigns=mine)


@bp.get("/campaigns/open")
def open_campaigns() -> str:
    category = request.args.get("category") or None
    try:
        items, _ = campaigns.list_open(extensions.session(), category=category, limit=50)
    except ValidationFailed:
        items = []
    return render_template("booking/open_campaigns.html", campaigns=items, options=options(), category=category)


def _editor(user: User, campaign_id: int | None) -> str | Response:
    session = extensions.session()
    campaign = campaigns.for_member(session, user, campaign_id) if campaign_id is not None else None
    brand_id = (
        campaign.brand_id if campaign else (request.args.get("brand_id", type=int64) or (user.brand_ids() or [0])[0])
    )
    if not brand_id:
        return render_template(
            "error.html", status=403, message=_t("只有品牌成员可以发布招募", "Only brand members can write briefs")
        ), 403  # type: ignore[return-value]
    items, _ = products.list_brand_products(session, user, brand_id, status=ProductStatus.ACTIVE, limit=100)
    return render_template(
        "booking/campaign_edit.html", campaign=campaign, brand_id=brand_id, products=items, options=options(),
        tiers=TIER_NAMES, now=clock.now(),
    )  # fmt: skip


@bp.get("/campaigns/new")
@signed_in_page
def campaign_new(user: User) -> str | Response:
    return _editor(user, None)


@bp.get("/campaigns/<int:campaign_id>/edit")
@signed_in_page
def campaign_edit(user: User, campaign_id: int) -> str | Response:
    return _editor(user, campaign_id)


def _filters() -> matching.MatchFilters:
    def num(name: str, cast: type = int) -> Any:
        raw = request.args.get(name, "").strip()
        try:
            return cast(raw) if raw else None
        except ValueError:
            return None

    gmv_yuan = num("min_gmv_yuan")
    return matching.MatchFilters(
        category=request.args.get("category") or None,
        follower_band=request.args.get("follower_band")
        if request.args.get("follower_band") in FOLLOWER_BAND_NAMES
        else None,
        price_band=request.args.get("price_band") if request.args.get("price_band") in PRICE_BAND_NAMES else None,
        min_gmv_90d_fen=gmv_yuan * 100 if gmv_yuan is not None else None,
        min_conversion_bp=num("min_conversion_bp"),
        min_completion_bp=num("min_completion_bp"),
        min_rating=num("min_rating", float),
        available_only=request.args.get("include_busy") != "1",
        q=request.args.get("q") or None,
    )


@bp.get("/match")
@signed_in_page
def match(user: User) -> str | Response:
    session = extensions.session()
    campaign_id = request.args.get("campaign", type=int64)
    if campaign_id is None:
        return redirect("/campaigns")
    filters = _filters()
    engine = extensions.extension("search")
    try:
        page = matching.rank(session, user, campaign_id, filters, limit=50, engine=engine)
    except ValidationFailed:
        filters = matching.MatchFilters()
        page = matching.rank(session, user, campaign_id, filters, limit=50, engine=engine)
    locale = get_locale()
    rows = [
        {
            "rank": i + 1,
            "match": m,
            "total": m.score.total / 10,
            "parts": [
                {
                    "key": p.key,
                    "label": label(p.key, locale),
                    "points": p.points / 10,
                    "max": p.max_points / 10,
                    "pct": round(100 * p.points / p.max_points) if p.max_points else 0,
                    "text": explain(p, locale, category=page.campaign.category),
                }
                for p in m.score.parts
            ],
        }
        for i, m in enumerate(page.items)
    ]
    return render_template(
        "booking/match.html", page=page, rows=rows, filters=filters, options=options(), args=request.args
    )


@bp.get("/bookings")
@signed_in_page
def inbox(user: User) -> str | Response:
    session = extensions.session()
    sides = [p for p, ok in ((Party.ARTIST, user.is_artist), (Party.BRAND, bool(user.brand_ids())),
                             (Party.ADMIN, user.is_admin)) if ok]  # fmt: skip
    wanted = request.args.get("side")
    side = next((s for s in sides if s.value == wanted), sides[0] if sides else Party.ARTIST)
    disputes = [BookingState.DISPUTED] if side == Party.ADMIN else None  # admins come here to resolve disputes
    items, _ = bookings.list_for(session, user, side=side, states=disputes, limit=100)
    rows = [booking_out(session, user, b) for b in items]
    return render_template("booking/inbox.html", rows=rows, sides=sides, side=side)


@bp.get("/bookings/<int:booking_id>")
@signed_in_page
def booking_detail(user: User, booking_id: int) -> str | Response:
    session = extensions.session()
    booking, parties = bookings.get_for(session, user, booking_id)
    pending = escrow.pending_payment(session, booking.id) if Party.BRAND in parties else None
    if pending is not None and booking.state == BookingState.ACCEPTED:
        # Back from the provider's page: ask it now rather than wait for the webhook.
        payments.sync_payment(session, open_provider(extensions.settings(), session), pending.id)
        session.refresh(booking)
    detail = booking_out(session, user, booking, detail=True)
    brand_balance = (
        balances(session, OwnerKind.BRAND, booking.brand_id)[AccountKind.AVAILABLE] if Party.BRAND in parties else None
    )
    drafts: list[Any] = []
    if "submit_draft" in detail.your_actions:
        # The artist's own private, processed, unpublished videos: what may be delivered as a draft.
        drafts = list(
            session.execute(
                select(Video.id, Video.title)
                .where(Video.uploader_id == user.id, Video.visibility == Visibility.PRIVATE,
                       Video.status == VideoStatus.READY, Video.published_at.is_(None), Video.deleted_at.is_(None))
                .order_by(Video.id.desc())
            ).all()
        )  # fmt: skip
    video = session.get(Video, booking.video_id) if booking.video_id else None
    campaign = booking.campaign
    campaign_products = list(
        session.execute(select(Product.id, Product.name).where(Product.id.in_(campaign.product_ids))).all()
    )
    campaign_products.sort(key=lambda p: campaign.product_ids.index(p.id))
    # The draft plays for the booking's parties only: this page is where the brand sees a private video.
    playback = videos.playback_urls(extensions.storage(), video) if video and video.deleted_at is None else None
    return render_template(
        "booking/booking.html", b=detail, campaign=campaign, video=video, drafts=drafts,
        brand_balance=brand_balance, playback=playback, campaign_products=campaign_products,
        brief_range=range_text(campaign, get_locale()),
        final=booking.state in (BookingState.PAID, BookingState.RESOLVED, BookingState.DECLINED,
                                BookingState.EXPIRED, BookingState.CANCELLED),
    )  # fmt: skip


@bp.get("/artists/<int:artist_id>")
def artist_page(artist_id: int) -> str:
    session = extensions.session()
    view = profiles.get_artist(session, artist_id)
    similar = matching.similar(session, artist_id, limit=6)
    # Viewers come here too (from search, a video's creator): the artist's published videos and a follow button.
    viewer = current_user()
    cards = search_service.creator_videos(session, extensions.extension("search"), creator_id=artist_id,
                                          viewer_id=viewer.id if viewer else None)  # fmt: skip
    return render_template(
        "booking/artist.html", view=view, similar=similar, tiers=TIER_NAMES, options=options(),
        categories_named={o.code: o.name for o in options().categories}, videos=[VideoCardOut.of(c) for c in cards],
        following=follows.is_following(session, viewer, artist_id),
        followers=follows.follower_count(session, artist_id), is_self=viewer is not None and viewer.id == artist_id,
    )  # fmt: skip


@bp.get("/me/artist-profile")
@signed_in_page
def my_profile(user: User) -> str | Response:
    if not user.is_artist:
        return redirect("/")
    view = profiles.get_artist(extensions.session(), user.id)
    return render_template("booking/profile_edit.html", view=view, options=options(), tiers=TIER_NAMES)


@bp.get("/notifications")
@signed_in_page
def notification_list(user: User) -> str | Response:
    items, _ = notifications.list_for(extensions.session(), user, limit=50)
    locale = get_locale()
    rows = [{"n": n, "text": notifications.render(n.kind, n.params, locale)} for n in items]
    return render_template("booking/notifications.html", rows=rows)

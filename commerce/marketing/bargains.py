"""砍价 bargains: a buyer's friends each cut a disclosed amount off one SKU's price, down to a floor the brand set.

The rules are there so that nothing about a bargain is a trick:

- **Offer.** A brand member names the SKU, the floor price (above zero, below the SKU's price), the number of
  helps H (1..100), how long a started bargain lasts, the offer's window and how many bargains one buyer may
  start. The total cut (price − floor) is at least H fen, so every help cuts at least one fen.
- **Disclosed schedule.** The total cut is split over the H helps by largest remainder (`schedule`): the page
  shows every cut before anyone helps, and after H helps the price is exactly the floor. No random cuts, no
  "0.01 left": it always finishes.
- **Help.** A signed-in friend opens the link and presses one button: nothing to post, nothing to share. One
  conditional UPDATE (`helps_count < max_helpers`, still active, not expired) decides each help, so racing helpers
  never pass H; `(bargain, helper)` is unique, so a friend helps once; the buyer cannot help themselves.
- **Checkout.** Checkout asks `lines_for` which of a buyer's lines have a bargain with at least one help: one unit
  of that line costs the bargained price, the cut being a brand-funded discount on the line (its `discount`,
  none of it `platform_discount`: the brand's pending share is on what the buyer paid, exactly as with a brand
  coupon, and so are the commissions and the platform fee). The order claims the bargain once (a conditional
  UPDATE that also checks no help landed since the price was read); a cancelled unpaid order releases it
  (`release_for_order`, from the order lifecycle) for the rest of its window. A refund follows the usual rules
  (the buyer gets back what they paid) and does not reopen the bargain.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from commerce.catalog.models import Product, Sku, VideoProduct
from commerce.marketing import campaign_stats, terms
from commerce.marketing.models import Bargain, BargainHelp, BargainOffer, BargainStatus
from commerce.orders.models import Order, OrderLine
from core import clock
from core.accounts.models import User
from core.accounts.permissions import require_brand_member, require_user
from core.db import UTCDateTime
from core.errors import Conflict, FieldError, NotFound, ValidationFailed, register_field_labels, register_messages
from core.money import largest_remainder

register_messages(
    {
        "bargain_floor_too_high": ("砍价底价须低于商品原价", "The floor price must be below the SKU's price"),
        "bargain_cut_too_small": (
            "原价与底价之差须不少于 {helpers} 分，每次助力至少砍 1 分",
            "The price minus the floor must be at least {helpers} fen, so that every help cuts at least one fen",
        ),
        "bargain_not_started": ("砍价活动尚未开始，{starts_at} 起可发起", "This bargain offer opens at {starts_at}"),
        "bargain_offer_ended": ("砍价活动已结束", "This bargain offer has ended"),
        "bargain_user_limit": (
            "每人限发起 {limit} 次砍价，您已用完",
            "You have used up your bargains on this offer (at most {limit} per person)",
        ),
        "bargain_self_help": ("不能给自己的砍价助力，请邀请好友", "You cannot help your own bargain: ask a friend"),
        "bargain_already_helped": ("您已为这个砍价助力过", "You have already helped this bargain"),
        "bargain_complete": ("已砍到底价，无需再助力", "This bargain has reached its floor price"),
        "bargain_expired": ("这个砍价已过期", "This bargain has expired"),
        "bargain_ordered": ("这个砍价已下单，不能再助力", "This bargain has been ordered; it takes no more help"),
        "bargain_changed": (
            "砍价进度刚刚更新，请刷新后按新价格下单",
            "The bargain changed a moment ago: reload to order at the new price",
        ),
    }
)
register_field_labels(
    {
        "floor_fen": ("砍价底价", "The floor price"),
        "max_helpers": ("助力人数", "The number of helps"),
        "window_hours": ("时限（小时）", "The time limit in hours"),  # shared with 拼团: one label per field name
    }
)

MAX_HELPERS = 100
MAX_WINDOW_HOURS = 24 * 7
MAX_OFFER_DURATION = dt.timedelta(days=60)
MAX_PER_USER = 10


def schedule(price_fen: int, floor_fen: int, helpers: int) -> list[int]:
    """The cut of each help, in order: the total cut over `helpers` helps by largest remainder (the extra fen go to
    the first helps). Sums exactly to `price_fen - floor_fen`."""
    return largest_remainder(max(0, price_fen - floor_fen), [1] * helpers)


def cut_after(bargain: Bargain | Any, helps: int | None = None) -> int:
    """What the first `helps` (by default: the helps so far) took off the bargain's price."""
    n = bargain.helps_count if helps is None else helps
    return sum(schedule(bargain.price_fen, bargain.floor_fen, bargain.max_helpers)[:n])


# -- offers ---------------------------------------------------------------------------------------------------


def create_offer(
    session: Session,
    user: User | None,
    brand_id: int,
    *,
    sku_id: int,
    floor_fen: int,
    max_helpers: int,
    window_hours: int,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    per_user_limit: int = 1,
) -> BargainOffer:
    """A brand member offers one of the brand's SKUs for bargaining. Commits."""
    member = require_brand_member(session, user, brand_id)
    now = clock.now()
    # The SKU, the floor below its price and the offer's window: what every campaign on a SKU checks.
    row, errors = terms.sku_terms(
        session, brand_id, sku_id, price_fen=floor_fen, starts_at=starts_at, ends_at=ends_at,
        max_duration=MAX_OFFER_DURATION, too_high="bargain_floor_too_high", price_field="floor_fen",
    )  # fmt: skip
    if not 1 <= max_helpers <= MAX_HELPERS:
        errors.append(FieldError("max_helpers", "greater_than_equal" if max_helpers < 1 else "less_than_equal"))
    elif 0 < floor_fen < row.price_fen and row.price_fen - floor_fen < max_helpers:
        errors.append(FieldError("floor_fen", "bargain_cut_too_small", params={"helpers": max_helpers}))
    if not 1 <= window_hours <= MAX_WINDOW_HOURS:
        errors.append(FieldError("window_hours", "greater_than_equal" if window_hours < 1 else "less_than_equal"))
    if not 1 <= per_user_limit <= MAX_PER_USER:
        errors.append(FieldError("per_user_limit", "greater_than_equal" if per_user_limit < 1 else "less_than_equal"))
    if errors:
        raise ValidationFailed(fields=errors)
    offer = BargainOffer(
        brand_id=brand_id, product_id=row.product_id, sku_id=sku_id, price_fen=row.price_fen, floor_fen=floor_fen,
        max_helpers=max_helpers, window_hours=window_hours, per_user_limit=per_user_limit, starts_at=starts_at,
        ends_at=ends_at, created_by=member.user_id, created_at=now,
    )  # fmt: skip
    session.add(offer)
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return offer


def get_offer(session: Session, offer_id: int) -> BargainOffer:
    return terms.one(session, BargainOffer, offer_id, "bargain")


def list_offers(session: Session, user: User | None, brand_id: int) -> list[BargainOffer]:
    return terms.of_brand(session, user, BargainOffer, brand_id)


def offer_phase(offer: BargainOffer, now: dt.datetime) -> str:
    """upcoming | live | ended."""
    return "upcoming" if now < offer.starts_at else "ended" if now >= offer.ends_at else "live"


@dataclass(frozen=True)
class OfferView:
    offer: BargainOffer
    phase: str
    schedule: list[int]
    mine: Bargain | None  # the caller's bargain on it still running (active, not expired), if any


def _offer_view(session: Session, offer: BargainOffer, user: User | None, now: dt.datetime) -> OfferView:
    mine = None
    if user is not None:
        mine = session.scalar(
            select(Bargain)
            .where(Bargain.offer_id == offer.id, Bargain.user_id == user.id, Bargain.status == BargainStatus.ACTIVE,
                   Bargain.expires_at > now)
            .order_by(Bargain.id.desc())
            .limit(1)
        )  # fmt: skip
    return OfferView(
        offer, offer_phase(offer, now), schedule(offer.price_fen, offer.floor_fen, offer.max_helpers), mine
    )


def for_product(session: Session, product_id: int, user: User | None = None) -> list[OfferView]:
    """The product's offers that have not ended, soonest first (the product sheet shows the first)."""
    now = clock.now()
    rows = session.scalars(
        select(BargainOffer)
        .where(BargainOffer.product_id == product_id, BargainOffer.ends_at > now)
        .order_by(BargainOffer.starts_at, BargainOffer.id)
        .limit(3)
    ).all()
    return [_offer_view(session, o, user, now) for o in rows]


def for_video(session: Session, video_id: int, user: User | None = None) -> list[OfferView]:
    """The offers, not ended, of the products linked to a video."""
    now = clock.now()
    rows = session.scalars(
        select(BargainOffer)
        .join(VideoProduct, VideoProduct.product_id == BargainOffer.product_id)
        .where(VideoProduct.video_id == video_id, BargainOffer.ends_at > now)
        .order_by(BargainOffer.starts_at, BargainOffer.id)
        .limit(3)
    ).all()
    return [_offer_view(session, o, user, now) for o in rows]


# -- starting and helping --------------------------------------------------------------------------------------


def start(session: Session, user: User | None, offer_id: int) -> Bargain:
    """The buyer starts a bargain on the offer (their running one, if they have one). Refusals are 409s:
    bargain_not_started, bargain_offer_ended, bargain_user_limit. Commits."""
    user = require_user(user)
    offer = get_offer(session, offer_id)
    now = clock.now()
    if now < offer.starts_at:
        raise Conflict("bargain_not_started", starts_at=offer.starts_at.isoformat())
    if now >= offer.ends_at:
        raise Conflict("bargain_offer_ended")
    running = _offer_view(session, offer, user, now).mine
    if running is not None:
        return running
    held = session.scalar(select(func.count()).where(Bargain.offer_id == offer.id, Bargain.user_id == user.id)) or 0
    for seq in range(held + 1, offer.per_user_limit + 1):
        bargain = Bargain(
            offer_id=offer.id, user_id=user.id, seq=seq, sku_id=offer.sku_id, price_fen=offer.price_fen,
            floor_fen=offer.floor_fen, max_helpers=offer.max_helpers, helps_count=0, status=BargainStatus.ACTIVE,
            ordered_cut_fen=0, started_at=now, expires_at=now + dt.timedelta(hours=offer.window_hours),
        )  # fmt: skip
        session.add(bargain)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()  # a start of the same buyer racing this one took the seq: try the next
            continue
        return bargain
    session.rollback()
    raced = _offer_view(session, offer, user, now).mine  # a start of the same buyer racing this one made it
    if raced is not None:
        return raced
    raise Conflict("bargain_user_limit", limit=offer.per_user_limit)


def get_bargain(session: Session, bargain_id: int) -> Bargain:
    bargain = session.get(Bargain, bargain_id)
    if bargain is None:
        raise NotFound("bargain")
    return bargain


_bar = Bargain.__table__.c
_TAKE_HELP = (
    update(Bargain.__table__)
    .where(
        _bar.id == bindparam("bargain"),
        _bar.status == BargainStatus.ACTIVE,
        _bar.helps_count < _bar.max_helpers,
        _bar.expires_at > bindparam("now", type_=UTCDateTime()),
    )
    .values(helps_count=_bar.helps_count + 1)
    .returning(_bar.helps_count)
)


def help_bargain(session: Session, user: User | None, bargain_id: int) -> BargainHelp:
    """A friend helps: the next cut of the disclosed schedule. One conditional UPDATE decides it (never past H);
    one help per friend per bargain (a unique key); never the buyer's own. Refusals are 409s. Commits."""
    helper = require_user(user)
    bargain = get_bargain(session, bargain_id)
    if bargain.user_id == helper.id:
        raise Conflict("bargain_self_help")
    now = clock.now()
    try:
        taken = session.execute(_TAKE_HELP, {"bargain": bargain.id, "now": now}).first()
        if taken is None:
            session.rollback()
            raise Conflict(_why_no_help(session, bargain.id, helper.id, now))
        seq = int(taken[0])
        row = BargainHelp(bargain_id=bargain.id, helper_id=helper.id, seq=seq, cut_fen=cut_after(bargain, seq)
                          - cut_after(bargain, seq - 1), helped_at=now)  # fmt: skip
        session.add(row)
        session.flush()
        session.commit()
    except IntegrityError:
        session.rollback()  # this friend's other help got there first: the count goes back with this transaction
        raise Conflict("bargain_already_helped") from None
    except BaseException:
        session.rollback()
        raise
    session.expire(bargain)
    return row


def _why_no_help(session: Session, bargain_id: int, helper_id: int, now: dt.datetime) -> str:
    b = session.get(Bargain, bargain_id, populate_existing=True)
    assert b is not None
    helped = session.scalar(select(exists().where(BargainHelp.bargain_id == b.id, BargainHelp.helper_id == helper_id)))
    session.rollback()
    if helped:
        return "bargain_already_helped"
    if b.status == BargainStatus.ORDERED:
        return "bargain_ordered"
    if b.helps_count >= b.max_helpers:
        return "bargain_complete"
    return "bargain_expired" if b.expires_at <= now else "bargain_complete"


@dataclass(frozen=True)
class Helper:
    name: str
    cut_fen: int
    helped_at: dt.datetime


@dataclass(frozen=True)
class BargainView:
    bargain: Bargain
    offer: BargainOffer
    product_name: str
    schedule: list[int]  # every help's cut, disclosed before anyone helps
    cut_fen: int  # taken off so far
    price_now: int  # what the buyer pays if they check out now
    left_fen: int  # what is left to cut down to the floor
    helps_left: int
    helpers: list[Helper]
    phase: str  # active | floor_reached | expired | ordered
    is_owner: bool
    helped: bool  # the caller has helped it
    now: dt.datetime


def phase_of(bargain: Bargain, now: dt.datetime) -> str:
    if bargain.status == BargainStatus.ORDERED:
        return "ordered"
    if bargain.expires_at <= now:
        return "expired"
    return "floor_reached" if bargain.helps_count >= bargain.max_helpers else "active"


def view(session: Session, bargain_id: int, user: User | None = None) -> BargainView:
    """What the bargain's page shows anyone with the link: the schedule, the cut so far, what is left, who helped."""
    bargain = get_bargain(session, bargain_id)
    session.refresh(bargain)
    offer = get_offer(session, bargain.offer_id)
    product = session.get(Product, offer.product_id)
    now = clock.now()
    cuts = schedule(bargain.price_fen, bargain.floor_fen, bargain.max_helpers)
    cut = sum(cuts[: bargain.helps_count])
    helpers = [
        Helper(name, cut_fen, at)
        for name, cut_fen, at in session.execute(
            select(User.display_name, BargainHelp.cut_fen, BargainHelp.helped_at)
            .join(User, User.id == BargainHelp.helper_id)
            .where(BargainHelp.bargain_id == bargain.id)
            .order_by(BargainHelp.seq)
        )
    ]
    helped = user is not None and bool(
        session.scalar(select(exists().where(BargainHelp.bargain_id == bargain.id, BargainHelp.helper_id == user.id)))
    )
    return BargainView(
        bargain, offer, product.name if product else "", cuts, cut, bargain.price_fen - cut,
        bargain.price_fen - cut - bargain.floor_fen, bargain.max_helpers - bargain.helps_count, helpers,
        phase_of(bargain, now), user is not None and user.id == bargain.user_id, helped, now,
    )  # fmt: skip


# -- checkout ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BargainLine:
    """A checkout line one unit of which the buyer bargained down: the bargain the order claims, and its price."""

    bargain_id: int
    sku_id: int
    helps_count: int
    price_fen: int  # the bargained price of one unit
    expires_at: dt.datetime

    def cut(self, unit_price: int) -> int:
        """What comes off the line: the unit price down to the bargained price (never below one fen)."""
        return max(0, min(unit_price - 1, unit_price - self.price_fen))


_LIVE = (  # the bargains `lines_for` finds: the buyer's (`:buyer`), helped at least once, running (`:now`)
    _bar.user_id == bindparam("buyer"),
    _bar.status == BargainStatus.ACTIVE,
    _bar.helps_count > 0,
    _bar.expires_at > bindparam("now", type_=UTCDateTime()),
)
_LINES = (
    select(_bar.id, _bar.sku_id, _bar.helps_count, _bar.price_fen, _bar.floor_fen, _bar.max_helpers, _bar.expires_at)
    .where(*_LIVE, _bar.sku_id.in_(bindparam("skus", expanding=True)))
    .order_by(_bar.expires_at)
)
_CLAIM = (
    update(Bargain.__table__)
    .where(
        _bar.id == bindparam("bargain"),
        _bar.status == BargainStatus.ACTIVE,
        _bar.helps_count == bindparam("helps"),
        _bar.expires_at > bindparam("now", type_=UTCDateTime()),
    )
    .values(status=BargainStatus.ORDERED, order_id=bindparam("order"), ordered_cut_fen=bindparam("cut"))
)


def started(sku_id: Any) -> Any:
    """Whether `lines_for` would find a line for this SKU (a column for a query that reads the SKUs anyway, so a
    checkout without a bargain asks no more). Binds `:buyer` and `:now`."""
    return exists().where(*_LIVE, _bar.sku_id == sku_id)


def lines_for(session: Session, buyer_id: int, sku_ids: list[int], now: dt.datetime) -> dict[int, BargainLine]:
    """The buyer's running, helped bargains among these SKUs (the lowest price, if two share a SKU)."""
    out: dict[int, BargainLine] = {}
    for r in session.execute(_LINES, {"buyer": buyer_id, "skus": sku_ids, "now": now}):
        line = BargainLine(r.id, r.sku_id, r.helps_count, r.price_fen - cut_after(r), r.expires_at)
        if r.sku_id not in out or line.price_fen < out[r.sku_id].price_fen:
            out[r.sku_id] = line
    return out


def claim(session: Session, line: BargainLine, order_id: int, now: dt.datetime, field: str, *, cut_fen: int) -> None:
    """The order takes the bargain, once; one that expired or was helped since its price was read fails the
    checkout (the buyer reloads and orders at the new price)."""
    params = {"bargain": line.bargain_id, "helps": line.helps_count, "order": order_id, "cut": cut_fen, "now": now}
    claimed = session.execute(_CLAIM, params)
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("bargain_changed", fields=[FieldError(field, "bargain_changed")])


def release_for_order(session: Session, order_id: int) -> None:
    """An unpaid order is cancelled: its bargains run again for what is left of their window."""
    session.execute(
        update(Bargain.__table__)
        .where(_bar.order_id == order_id, _bar.status == BargainStatus.ORDERED)
        .values(status=BargainStatus.ACTIVE, order_id=None, ordered_cut_fen=0)
    )


# -- the dashboard's figures -----------------------------------------------------------------------------------


def campaign_rows(session: Session, brand_id: int) -> list[campaign_stats.CampaignStats]:
    """Each of the brand's offers as a campaign row: bargains started, paid, GMV (what buyers paid for the line,
    net of refunds) and cost (the cut the brand funded on paid orders). Three queries, whatever the offers."""
    offers = session.execute(
        select(BargainOffer.id, Product.name, Sku.attributes)
        .join(Product, Product.id == BargainOffer.product_id)
        .join(Sku, Sku.id == BargainOffer.sku_id)
        .where(BargainOffer.brand_id == brand_id)
        .order_by(BargainOffer.id.desc())
    ).all()
    ids = [r.id for r in offers]
    started_n = {
        r[0]: int(r[1])
        for r in session.execute(
            select(Bargain.offer_id, func.count()).where(Bargain.offer_id.in_(ids)).group_by(Bargain.offer_id)
        )
    }
    paid = {
        r[0]: (int(r[1]), int(r[2] or 0), int(r[3] or 0))
        for r in session.execute(
            select(Bargain.offer_id, func.count(), func.sum(OrderLine.paid_amount - OrderLine.refunded_amount),
                   func.sum(Bargain.ordered_cut_fen))
            .join(OrderLine, and_(OrderLine.order_id == Bargain.order_id, OrderLine.sku_id == Bargain.sku_id))
            .join(Order, Order.id == OrderLine.order_id)
            .where(Bargain.offer_id.in_(ids), Bargain.status == BargainStatus.ORDERED,
                   Order.status.in_(campaign_stats.SOLD))
            .group_by(Bargain.offer_id)
        )
    }  # fmt: skip
    out = []
    for r in offers:
        n_paid, gmv, cost = paid.get(r.id, (0, 0, 0))
        name = " ".join([r.name, *r.attributes.values()])
        out.append(campaign_stats.CampaignStats("bargain", r.id, (name, name), started_n.get(r.id, 0), n_paid, None,
                                                gmv, cost))  # fmt: skip
    return out


campaign_stats.register("bargain", campaign_rows)

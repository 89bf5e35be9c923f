"""拼团 group buys: a brand offers a SKU at a group price to groups of N buyers who all pay within a window.

- **Offer.** A brand member names the SKU, the group price (below the SKU's), the group size (2..50), the hours a
  group has to fill, the units one member may buy, and when groups may be opened.
- **Open / join.** A buyer opens a group (its leader, holding the first seat) or joins an open one through its share
  link. One conditional update of the group row decides a join (`members < size`, still open, window not over,
  not already in it): never overfilled, one seat per user per group.
- **Checkout.** Checkout asks `lines_for` which of a buyer's lines hold a seat: those are priced at the group price
  and claim the seat for the order (`claim`); the order's reservation ends when the group's window does. The SKU's
  stock is reserved as for any order.
- **Complete.** The paid path (`on_paid`, from orders.money) counts each seat's payment; the payment that makes the
  group's `paid` reach its size inside the window completes it, exactly once (a conditional update of its status).
  A member's order does not ship while its group is waiting (`refuse_while_waiting`, from the order lifecycle).
- **Expire.** A group whose window ended unfilled fails (once, a conditional update); the `marketing.group_buys.expire`
  beat job then refunds every paid seat in full through `refunds.approved_refund`, each exactly once (a conditional
  update of the seat in the refund's transaction), and releases the unpaid ones. Safe to run twice or concurrently.
- **Attribution.** The group's share link is the ordinary signed share link of the product with `g=<group id>`: a
  member who bought through the leader's link credits the leader as sharer under the usual rules, like any share.
  Joining itself earns the leader nothing: no commission, discount or posting for recruiting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from commerce.attribution import service as attribution
from commerce.attribution.links import TargetKind
from commerce.catalog.models import Product, Sku, VideoProduct
from commerce.marketing import campaign_stats, terms
from commerce.marketing.models import GroupBuyGroup, GroupBuyOffer, GroupBuySeat, GroupStatus, SeatStatus
from commerce.orders.models import Order, OrderLine, OrderStatus
from commerce.policy import MoneyPolicy
from core import clock
from core.accounts.models import User
from core.accounts.permissions import require_brand_member, require_user
from core.db import UTCDateTime
from core.errors import Conflict, FieldError, NotFound, ValidationFailed, register_field_labels, register_messages
from core.tasks import enqueue_after_commit

register_messages(
    {
        "group_price_too_high": ("拼团价须低于商品原价", "The group price must be below the SKU's price"),
        "group_buy_not_started": (
            "拼团尚未开始，请于 {starts_at} 再来",
            "The group buy has not started; it opens at {starts_at}",
        ),
        "group_buy_ended": ("本拼团活动已结束", "This group buy has ended"),
        "group_full": ("这个团已满员", "This group is full"),
        "group_closed": ("这个团已结束，不能再参加", "This group is over and cannot be joined"),
        "group_already_joined": ("您已在这个团里", "You are already in this group"),
        "group_buy_limit": ("拼团每人限购 {limit} 件", "At most {limit} per member at the group price"),
        "group_buy_expired": ("拼团已结束，拼团价不再有效", "The group is over; the group price no longer applies"),
        "group_buy_waiting": (
            "拼团尚未成团，成团后才能发货",
            "The group has not filled yet; the order ships once it does",
        ),
    }
)

register_field_labels(
    {
        "group_size": ("成团人数", "The group size"),
        "window_hours": ("时限（小时）", "The time limit in hours"),  # shared with 砍价: one label per field name
        "member_limit": ("每人限购", "The units per member"),
    }
)

MIN_SIZE, MAX_SIZE = 2, 50
MIN_WINDOW, MAX_WINDOW = dt.timedelta(hours=1), dt.timedelta(hours=72)
MAX_DURATION = dt.timedelta(days=30)
MAX_LIMIT = 10
SEAT_HOLD = dt.timedelta(minutes=30)  # a seat nobody checked out within this of joining is given up
REFUND_REASON = "group_buy_unfilled"


# -- offers ----------------------------------------------------------------------------------------------------


def create_offer(
    session: Session,
    user: User | None,
    brand_id: int,
    *,
    sku_id: int,
    price_fen: int,
    group_size: int,
    window_hours: int,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    per_user_limit: int = 1,
) -> GroupBuyOffer:
    """A brand member offers one of the brand's SKUs at a group price. Commits."""
    member = require_brand_member(session, user, brand_id)
    now = clock.now()
    sku, errors = terms.sku_terms(
        session, brand_id, sku_id, price_fen=price_fen, starts_at=starts_at, ends_at=ends_at,
        max_duration=MAX_DURATION, too_high="group_price_too_high",
    )  # fmt: skip
    if not MIN_SIZE <= group_size <= MAX_SIZE:
        errors.append(FieldError("group_size", "greater_than_equal" if group_size < MIN_SIZE else "less_than_equal"))
    window = dt.timedelta(hours=max(0, min(window_hours, 10_000)))
    if not MIN_WINDOW <= window <= MAX_WINDOW:
        errors.append(FieldError("window_hours", "greater_than_equal" if window < MIN_WINDOW else "less_than_equal"))
    if not 1 <= per_user_limit <= MAX_LIMIT:
        errors.append(FieldError("member_limit", "greater_than_equal" if per_user_limit < 1 else "less_than_equal"))
    if errors:
        session.rollback()
        raise ValidationFailed(fields=errors)
    offer = GroupBuyOffer(
        brand_id=brand_id, product_id=sku.product_id, sku_id=sku_id, price_fen=price_fen, group_size=group_size,
        window_seconds=int(window.total_seconds()), per_user_limit=per_user_limit, starts_at=starts_at,
        ends_at=ends_at, created_by=member.user_id, created_at=now,
    )  # fmt: skip
    session.add(offer)
    session.commit()
    return offer


def get_offer(session: Session, offer_id: int) -> GroupBuyOffer:
    return terms.one(session, GroupBuyOffer, offer_id, "group_buy")


def list_offers(session: Session, user: User | None, brand_id: int) -> list[GroupBuyOffer]:
    return terms.of_brand(session, user, GroupBuyOffer, brand_id)


def group_counts(session: Session, offer_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """How many of each offer's groups are open, completed and failed (the dashboard's table), in one query."""
    out: dict[int, dict[str, int]] = {i: {s.value: 0 for s in GroupStatus} for i in offer_ids}
    for offer_id, status, n in session.execute(
        select(GroupBuyGroup.offer_id, GroupBuyGroup.status, func.count())
        .where(GroupBuyGroup.offer_id.in_(list(offer_ids)))
        .group_by(GroupBuyGroup.offer_id, GroupBuyGroup.status)
    ):
        out[offer_id][GroupStatus(status).value] = int(n)
    return out


def phase_of(offer: GroupBuyOffer, now: dt.datetime) -> str:
    """upcoming | live | ended (whether groups can be opened)."""
    return "upcoming" if now < offer.starts_at else "ended" if now >= offer.ends_at else "live"


def _live_offers(session: Session, where: Any, *joins: Any) -> list[GroupBuyOffer]:
    stmt = select(GroupBuyOffer)
    for target, on in joins:
        stmt = stmt.join(target, on)
    return list(
        session.scalars(
            stmt.where(where, GroupBuyOffer.ends_at > clock.now()).order_by(GroupBuyOffer.starts_at, GroupBuyOffer.id)
            .limit(3)
        )
    )  # fmt: skip


def for_product(session: Session, product_id: int) -> list[GroupBuyOffer]:
    """The product's offers that have not ended, soonest first (the product sheet shows the first)."""
    return _live_offers(session, GroupBuyOffer.product_id == product_id)


def for_video(session: Session, video_id: int) -> list[GroupBuyOffer]:
    """The offers, not ended, of the products linked to a video."""
    return _live_offers(
        session, VideoProduct.video_id == video_id, (VideoProduct, VideoProduct.product_id == GroupBuyOffer.product_id)
    )


# -- groups ----------------------------------------------------------------------------------------------------


def _seat(group: GroupBuyGroup, offer: GroupBuyOffer, user_id: int, now: dt.datetime, leader: bool) -> GroupBuySeat:
    return GroupBuySeat(
        group_id=group.id, offer_id=offer.id, user_id=user_id, sku_id=offer.sku_id, price_fen=offer.price_fen,
        per_user_limit=offer.per_user_limit, is_leader=leader, status=SeatStatus.SEATED, joined_at=now,
    )  # fmt: skip


def open_group(session: Session, user: User | None, offer_id: int) -> GroupBuySeat:
    """The buyer opens a group of the offer and holds its first seat (its leader). Commits."""
    user = require_user(user)
    offer = get_offer(session, offer_id)
    now = clock.now()
    if now < offer.starts_at:
        session.rollback()
        raise Conflict("group_buy_not_started", starts_at=offer.starts_at.isoformat())
    if now >= offer.ends_at:
        session.rollback()
        raise Conflict("group_buy_ended")
    try:
        group = GroupBuyGroup(
            offer_id=offer.id, leader_id=user.id, size=offer.group_size, members=1, paid=0, status=GroupStatus.OPEN,
            expires_at=now + offer.window, opened_at=now,
        )  # fmt: skip
        session.add(group)
        session.flush()
        seat = _seat(group, offer, user.id, now, leader=True)
        session.add(seat)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return seat


_grp, _seat_c = GroupBuyGroup.__table__.c, GroupBuySeat.__table__.c
# The one statement that decides a join: a free seat, the group still open and inside its window, the user not in it.
_TAKE_SEAT = (
    update(GroupBuyGroup.__table__)
    .where(
        _grp.id == bindparam("group"),
        _grp.status == GroupStatus.OPEN,
        _grp.members < _grp.size,
        _grp.expires_at > bindparam("now", type_=UTCDateTime()),
        ~exists().where(_seat_c.group_id == bindparam("group"), _seat_c.user_id == bindparam("user")),
    )
    .values(members=_grp.members + 1)
)


def join(session: Session, user: User | None, group_id: int) -> GroupBuySeat:
    """Take a seat in an open group. Commits; refusals are `Conflict`s (409): group_full, group_closed,
    group_already_joined."""
    user = require_user(user)
    group = session.get(GroupBuyGroup, group_id)
    if group is None:
        raise NotFound("group")
    offer = get_offer(session, group.offer_id)
    now = clock.now()
    try:
        taken = session.execute(_TAKE_SEAT, {"group": group_id, "now": now, "user": user.id})
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            seat = _seat(group, offer, user.id, now, leader=False)
            session.add(seat)
            session.commit()
            return seat
        session.rollback()
    except IntegrityError:  # the same user's concurrent join took the (group, user) seat first
        session.rollback()
        raise Conflict("group_already_joined") from None
    except BaseException:
        session.rollback()
        raise
    session.refresh(group)
    if session.scalar(select(exists().where(GroupBuySeat.group_id == group_id, GroupBuySeat.user_id == user.id))):
        raise Conflict("group_already_joined")
    if group.status != GroupStatus.OPEN or group.expires_at <= now:
        raise Conflict("group_closed")
    raise Conflict("group_full")


@dataclass(frozen=True)
class GroupView:
    group: GroupBuyGroup
    offer: GroupBuyOffer
    product_name: str
    phase: str  # open | completed | failed (an open group past its window reads as failed)
    now: dt.datetime
    seat: GroupBuySeat | None  # the caller's own


def phase_of_group(group: GroupBuyGroup, now: dt.datetime) -> str:
    if group.status == GroupStatus.OPEN and group.expires_at <= now:
        return "failed"  # the expiry job is about to say so
    return group.status.value


def view(session: Session, group_id: int, user: User | None = None) -> GroupView:
    """What the group page shows: members of N, paid, time left, and the caller's own seat."""
    group = session.get(GroupBuyGroup, group_id)
    if group is None:
        raise NotFound("group")
    session.refresh(group)
    offer = get_offer(session, group.offer_id)
    name = session.scalar(select(Product.name).where(Product.id == offer.product_id)) or ""
    seat = None
    if user is not None:
        seat = session.scalar(
            select(GroupBuySeat).where(GroupBuySeat.group_id == group.id, GroupBuySeat.user_id == user.id)
        )
    now = clock.now()
    return GroupView(group, offer, name, phase_of_group(group, now), now, seat)


def open_groups(session: Session, offer_id: int, *, limit: int = 5) -> list[GroupBuyGroup]:
    """An offer's groups still waiting for members, the ones ending first first."""
    return list(
        session.scalars(
            select(GroupBuyGroup)
            .where(GroupBuyGroup.offer_id == offer_id, GroupBuyGroup.status == GroupStatus.OPEN,
                   GroupBuyGroup.expires_at > clock.now(), GroupBuyGroup.members < GroupBuyGroup.size)
            .order_by(GroupBuyGroup.expires_at)
            .limit(limit)
        )
    )  # fmt: skip


def share_link(
    session: Session, user: User | None, group_id: int, *, keys: Sequence[tuple[str, bytes]], policy: MoneyPolicy,
    base_url: str, device_hash: str | None = None,
) -> str:  # fmt: skip
    """The group's share link: the ordinary signed share link of its product (the caller as sharer, under the usual
    rules) carrying `g=<group id>`, so whoever follows it lands on the group page."""
    group = session.get(GroupBuyGroup, group_id)
    if group is None:
        raise NotFound("group")
    product_id = get_offer(session, group.offer_id).product_id
    link = attribution.create_share_link(
        session, user, target_kind=TargetKind.PRODUCT, target_id=product_id, keys=keys, policy=policy,
        base_url=base_url, device_hash=device_hash,
    )  # fmt: skip
    return f"{link.url}?g={group_id}"


def landing(session: Session, group_id: int, target_kind: TargetKind, target_id: int) -> int | None:
    """The group a followed share link should land on: `g` when it is a group of the link's product."""
    if target_kind != TargetKind.PRODUCT or not 0 < group_id < 2**63:
        return None
    found = session.scalar(
        select(GroupBuyGroup.id)
        .join(GroupBuyOffer, GroupBuyOffer.id == GroupBuyGroup.offer_id)
        .where(GroupBuyGroup.id == group_id, GroupBuyOffer.product_id == target_id)
    )
    return found


def group_of_checkout(session: Session, checkout_id: int) -> int | None:
    """The group a checkout's order holds a seat in (the payment return page links to it)."""
    return session.scalar(
        select(GroupBuySeat.group_id)
        .join(Order, Order.id == GroupBuySeat.order_id)
        .where(Order.checkout_id == checkout_id)
        .limit(1)
    )  # fmt: skip


# -- checkout --------------------------------------------------------------------------------------------------


class _Wanted(Protocol):
    @property
    def sku_id(self) -> int: ...

    @property
    def quantity(self) -> int: ...


@dataclass(frozen=True)
class GroupLine:
    """A checkout line the buyer holds a seat for: its group price and the seat the order will hold."""

    seat_id: int
    group_id: int
    sku_id: int
    price_fen: int
    pay_deadline: dt.datetime  # the group's window
    limit: int  # units a member buys at the group price


_LIVE = (  # the seats `lines_for` finds: the buyer's (`:buyer`), not checked out, in an open group before `:now`
    _seat_c.user_id == bindparam("buyer"),
    _seat_c.status == SeatStatus.SEATED,
    _grp.id == _seat_c.group_id,
    _grp.status == GroupStatus.OPEN,
    _grp.expires_at > bindparam("now", type_=UTCDateTime()),
)
_LINES = (
    select(_seat_c.id, _seat_c.group_id, _seat_c.sku_id, _seat_c.price_fen, _seat_c.per_user_limit, _grp.expires_at)
    .select_from(GroupBuySeat.__table__.join(GroupBuyGroup.__table__, _grp.id == _seat_c.group_id))
    .where(*_LIVE, _seat_c.sku_id.in_(bindparam("skus", expanding=True)))
    .order_by(_grp.expires_at)
)


def seated(sku_id: Any) -> Any:
    """Whether `lines_for` would find a line for this SKU (a column for checkout's SKU query, so a checkout without
    a seat asks no more). Binds `:buyer` and `:now`."""
    return exists().where(*_LIVE, _seat_c.sku_id == sku_id)


def lines_for(session: Session, buyer_id: int, wanted: Sequence[_Wanted], now: dt.datetime) -> dict[int, GroupLine]:
    """The buyer's live seats among these lines (the group ending first, if two share a SKU); a line over the
    offer's per-member limit is refused."""
    out: dict[int, GroupLine] = {}
    for r in session.execute(_LINES, {"buyer": buyer_id, "skus": [w.sku_id for w in wanted], "now": now}):
        out.setdefault(r.sku_id, GroupLine(r.id, r.group_id, r.sku_id, r.price_fen, r.expires_at, r.per_user_limit))
    for i, w in enumerate(wanted):
        if w.sku_id in out and w.quantity > out[w.sku_id].limit:
            raise ValidationFailed.one(f"items.{i}.quantity", "group_buy_limit", limit=out[w.sku_id].limit)
    return out


_CLAIM = (
    update(GroupBuySeat.__table__)
    .where(_seat_c.id == bindparam("seat"), _seat_c.status == SeatStatus.SEATED)
    .values(status=SeatStatus.ORDERED, order_id=bindparam("order"))
)


def claim(session: Session, line: GroupLine, order_id: int, now: dt.datetime, field: str) -> None:
    """The order takes the seat; a seat taken by another checkout, or a group over meanwhile, fails the checkout."""
    claimed = session.execute(_CLAIM, {"seat": line.seat_id, "order": order_id})
    still_open = session.scalar(
        select(exists().where(_grp.id == line.group_id, _grp.status == GroupStatus.OPEN, _grp.expires_at > now))
    )
    if claimed.rowcount != 1 or not still_open:  # type: ignore[attr-defined]
        raise Conflict("group_buy_expired", fields=[FieldError(field, "group_buy_expired")])


def release_for_order(session: Session, order_id: int) -> None:
    """An unpaid order is cancelled: its seat is free to check out again (while the group is open)."""
    session.execute(
        update(GroupBuySeat.__table__)
        .where(_seat_c.order_id == order_id, _seat_c.status == SeatStatus.ORDERED)
        .values(status=SeatStatus.SEATED, order_id=None)
    )


def leave_for_order(session: Session, order_id: int) -> None:
    """A paid member's order was refunded in full before shipping (the buyer cancelled): while the group is still
    open, their seat is given up, so someone else can take it and the group completes only with members who paid.
    (The expiry job marks the seats it refunds first, so its own refunds give nothing up here.)"""
    seat = session.execute(
        select(_seat_c.id, _seat_c.group_id).where(_seat_c.order_id == order_id, _seat_c.status == SeatStatus.PAID)
    ).first()
    if seat is None:
        return
    freed = session.execute(
        update(GroupBuyGroup.__table__)
        .where(_grp.id == seat.group_id, _grp.status == GroupStatus.OPEN)
        .values(members=_grp.members - 1, paid=_grp.paid - 1)
    )
    if freed.rowcount == 1:  # type: ignore[attr-defined]
        session.execute(
            update(GroupBuySeat.__table__)
            .where(_seat_c.id == seat.id)
            .values(status=SeatStatus.RELEASED, finished_at=clock.now())
        )


# -- payment and shipping ----------------------------------------------------------------------------------------


def seat_ordered(order_id: Any) -> Any:
    """Whether the order holds a seat that `on_paid` would count (a column for the payment's order query, so paying
    an order without a seat asks no more)."""
    return exists().where(_seat_c.order_id == order_id, _seat_c.status == SeatStatus.ORDERED)


def on_paid(session: Session, order_ids: Sequence[int], now: dt.datetime) -> list[int]:
    """The orders were paid (the checkout payment's success, once per order): their seats count as paid, and a
    group whose paid seats reach its size inside its window completes, exactly once. Returns the groups completed."""
    if not order_ids:
        return []
    rows = session.execute(
        update(GroupBuySeat.__table__)
        .where(_seat_c.order_id.in_(list(order_ids)), _seat_c.status == SeatStatus.ORDERED)
        .values(status=SeatStatus.PAID, paid_at=now)
        .returning(_seat_c.group_id)
    ).all()
    completed = []
    for group_id in sorted({r.group_id for r in rows}):
        n = sum(1 for r in rows if r.group_id == group_id)
        session.execute(update(GroupBuyGroup.__table__).where(_grp.id == group_id).values(paid=_grp.paid + n))
        done = session.execute(
            update(GroupBuyGroup.__table__)
            .where(_grp.id == group_id, _grp.status == GroupStatus.OPEN, _grp.paid >= _grp.size, _grp.expires_at > now)
            .values(status=GroupStatus.COMPLETED, completed_at=now)
        )
        if done.rowcount == 1:  # type: ignore[attr-defined]
            completed.append(group_id)
    return completed


def refuse_while_waiting(session: Session, order_id: int) -> None:
    """A group-buy order ships only once its group has completed."""
    waiting = session.scalar(
        select(
            exists().where(
                _seat_c.order_id == order_id, _grp.id == _seat_c.group_id, _grp.status != GroupStatus.COMPLETED
            )
        )
    )
    if waiting:
        raise Conflict("group_buy_waiting")


# -- expiry ----------------------------------------------------------------------------------------------------


def expire(session: Session, *, provider: Any = None, notify_url: str = "", limit: int = 200) -> int:
    """Groups whose window ended unfilled fail (once); then every paid seat of a failed group is refunded in full
    and every seat not checked out is released, each exactly once (a conditional update of the seat, committed with
    its refund). Seats of open groups nobody checked out within `SEAT_HOLD` of joining are given up, so a joiner
    who never pays cannot hold a group back. Commits after each; safe to run twice or concurrently. Returns how many
    seats were refunded."""
    now = clock.now()
    _release_idle(session, now, limit)
    due = list(
        session.scalars(
            select(GroupBuyGroup.id)
            .where(GroupBuyGroup.status == GroupStatus.OPEN, GroupBuyGroup.expires_at <= now)
            .order_by(GroupBuyGroup.id)
            .limit(limit)
        )
    )
    session.commit()
    for group_id in due:
        session.execute(
            update(GroupBuyGroup.__table__)
            .where(_grp.id == group_id, _grp.status == GroupStatus.OPEN, _grp.expires_at <= now)
            .values(status=GroupStatus.FAILED, failed_at=now)
        )
        session.commit()
    failed = select(GroupBuyGroup.id).where(GroupBuyGroup.status == GroupStatus.FAILED).scalar_subquery()
    session.execute(
        update(GroupBuySeat.__table__)
        .where(_seat_c.status == SeatStatus.SEATED, _seat_c.group_id.in_(failed))
        .values(status=SeatStatus.RELEASED, finished_at=now)
    )
    session.commit()
    paid = list(
        session.scalars(
            select(GroupBuySeat.id)
            .where(GroupBuySeat.status == SeatStatus.PAID, GroupBuySeat.group_id.in_(failed))
            .order_by(GroupBuySeat.id)
            .limit(limit)
        )
    )
    session.commit()
    refunded = 0
    for seat_id in paid:
        try:
            refunded += _refund_seat(session, seat_id, now, provider, notify_url)
            session.commit()
        except BaseException:
            session.rollback()
            raise
    return refunded


def _release_idle(session: Session, now: dt.datetime, limit: int) -> None:
    idle = session.execute(
        select(_seat_c.id, _seat_c.group_id)
        .select_from(GroupBuySeat.__table__.join(GroupBuyGroup.__table__, _grp.id == _seat_c.group_id))
        .where(_seat_c.status == SeatStatus.SEATED, _seat_c.joined_at <= now - SEAT_HOLD,
               _grp.status == GroupStatus.OPEN, _grp.expires_at > now)
        .order_by(_seat_c.id)
        .limit(limit)
    ).all()  # fmt: skip
    session.commit()
    for seat in idle:
        try:
            # The seat first, then its group: the order of the paid path's locks.
            freed = session.execute(
                update(GroupBuySeat.__table__)
                .where(_seat_c.id == seat.id, _seat_c.status == SeatStatus.SEATED)
                .values(status=SeatStatus.RELEASED, finished_at=now)
            )
            left = (
                freed.rowcount == 1
                and session.execute(  # type: ignore[attr-defined]
                    update(GroupBuyGroup.__table__)
                    .where(_grp.id == seat.group_id, _grp.status == GroupStatus.OPEN)
                    .values(members=_grp.members - 1)
                ).rowcount
                == 1
            )  # type: ignore[attr-defined]
            if left:
                session.commit()
            else:
                session.rollback()  # checked out meanwhile, or the group is over: the failure path has it
        except BaseException:
            session.rollback()
            raise


def _refund_seat(session: Session, seat_id: int, now: dt.datetime, provider: Any, notify_url: str) -> int:
    # Imported here: refunds build on the order lifecycle and money path, which import this module.
    from commerce.orders import lifecycle, refunds
    from commerce.orders.lifecycle import Actor
    from commerce.orders.money import SUBMIT_REFUND_TASK
    from commerce.payments import service as payments

    order_id = session.scalar(select(GroupBuySeat.order_id).where(GroupBuySeat.id == seat_id))
    order = session.get(Order, order_id)
    if order is None:
        return 0
    # The money path's lock order: the payment, then the order; then the seat decides, once.
    payments.lock_payment(session, refunds.payment_of(session, order).id)
    order = lifecycle.lock_order(session, order.id)
    taken = session.execute(
        update(GroupBuySeat.__table__)
        .where(_seat_c.id == seat_id, _seat_c.status == SeatStatus.PAID)
        .values(status=SeatStatus.REFUNDED, finished_at=now)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return 0  # refunded by a concurrent run
    items = [
        refunds.RefundItem(line.id, quantity=line.quantity - line.refunded_quantity,
                           amount=line.paid_amount - line.refunded_amount)
        for line in order.lines
        if line.paid_amount > line.refunded_amount
    ]  # fmt: skip
    if not items or order.status not in (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED):
        return 0  # refunded otherwise already (the buyer cancelled): nothing left to give back
    refund = refunds.approved_refund(
        session, order, requested_by=order.buyer_id, decided_by=None, actor=Actor("system"), items=items,
        reason=REFUND_REASON, provider=provider, notify_url=notify_url,
    )  # fmt: skip
    if provider is None:  # the job has no provider at hand: a task asks it once this commits
        enqueue_after_commit(session, SUBMIT_REFUND_TASK, refund.id)
    return 1


# -- the dashboard's figures -----------------------------------------------------------------------------------


def campaign_rows(session: Session, brand_id: int) -> list[campaign_stats.CampaignStats]:
    """Each of the brand's offers as a campaign row: members joined, paid, no unit limit, GMV and cost (the SKU's
    price minus the group price on the units paid for). Three queries, whatever the number of offers."""
    offers = session.execute(
        select(GroupBuyOffer.id, Product.name, Sku.attributes)
        .join(Product, Product.id == GroupBuyOffer.product_id)
        .join(Sku, Sku.id == GroupBuyOffer.sku_id)
        .where(GroupBuyOffer.brand_id == brand_id)
        .order_by(GroupBuyOffer.id.desc())
    ).all()
    ids = [r.id for r in offers]
    joined = dict(
        session.execute(
            select(GroupBuySeat.offer_id, func.count())
            .where(GroupBuySeat.offer_id.in_(ids))
            .group_by(GroupBuySeat.offer_id)
        ).all()
    )
    off = (func.coalesce(OrderLine.list_price, OrderLine.unit_price) - OrderLine.unit_price) * (
        OrderLine.quantity - OrderLine.refunded_quantity
    )
    paid = {
        r[0]: (int(r[1]), int(r[2] or 0), int(r[3] or 0))
        for r in session.execute(
            select(GroupBuySeat.offer_id, func.count(), func.sum(OrderLine.paid_amount - OrderLine.refunded_amount),
                   func.sum(off))
            .join(OrderLine, and_(OrderLine.order_id == GroupBuySeat.order_id, OrderLine.sku_id == GroupBuySeat.sku_id))
            .join(Order, Order.id == OrderLine.order_id)
            .where(GroupBuySeat.offer_id.in_(ids), Order.status.in_(campaign_stats.SOLD))
            .group_by(GroupBuySeat.offer_id)
        )
    }  # fmt: skip
    out = []
    for r in offers:
        n_paid, gmv, cost = paid.get(r.id, (0, 0, 0))
        name = " ".join([r.name, *r.attributes.values()])
        out.append(campaign_stats.CampaignStats("group_buy", r.id, (name, name), int(joined.get(r.id, 0)), n_paid,
                                                None, gmv, cost))  # fmt: skip
    return out


campaign_stats.register("group_buy", campaign_rows)

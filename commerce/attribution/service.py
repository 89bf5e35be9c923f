"""Who gets credit for a sale, honestly.

- A **share link** is issued to any signed-in user for a live video or an
  active product. When the sharer reached that target through someone else's
  link (within the attribution window), the link names that upstream sharer:
  the second, and last, commission level. Nothing else creates a level: no
  reward ever exists for recruiting, signing up or paying to join.
- A **click** on a valid link is logged; a bad link is ignored.
- **Sharer credit**: a buyer bound to a sharer (protection period) credits
  that sharer; otherwise the buyer's last click on a matching link within the
  attribution window does, and binds the buyer to that sharer.
- **Self-referral** (same user, device, payout account or delivery address as
  the beneficiary) earns no commission.
- **Review**: a sale that looks manufactured (click-to-buy too fast, many
  orders from one device, a brand-new account) keeps its commissions held
  until an admin decides.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Row, Select, and_, bindparam, exists, false, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from commerce.attribution import links
from commerce.attribution.links import ShareClaim, TargetKind
from commerce.attribution.models import CustomerBinding, ShareClick, UserDevice
from commerce.ledger.models import OwnerKind
from commerce.payouts.models import PayoutAccount
from commerce.policy import MoneyPolicy
from core import clock
from core.accounts.models import User
from core.accounts.permissions import require_user
from core.db import UTCDateTime
from core.errors import NotFound, register_messages
from core.ids import short_id

register_messages({"share_target_unavailable": ("该内容暂不能分享", "This cannot be shared right now")})

SHARE_PATH = "/s/"
_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class ShareLink:
    token: str
    url: str
    claim: ShareClaim


def remember_device(
    session: Session, user_id: int, device_hash: str | None, *, last_seen: dt.datetime | None = None
) -> None:
    """Note that `user_id` used this device (no commit).

    `last_seen` is when the pair was last noted, for a caller that read it already (checkout's buyer context): a
    note less than a day old is left as it is. What the self-referral checks compare is that the pair is known;
    `last_seen_at` is only a coarse "still in use", so a purchase need not write it every time."""
    if not device_hash:
        return
    now = clock.now()
    if last_seen is not None and now - last_seen < _DAY:
        return
    session.execute(
        _remember_device_statement(session.get_bind().dialect.name),
        {"user_id": user_id, "device_hash": device_hash, "first_seen_at": now, "last_seen_at": now},
    )


@functools.cache
def _remember_device_statement(dialect: str) -> Any:
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(UserDevice.__table__)
    return stmt.on_conflict_do_update(
        index_elements=["user_id", "device_hash"], set_={"last_seen_at": stmt.excluded.last_seen_at}
    )


def _check_target(session: Session, kind: TargetKind, target_id: int) -> None:
    if kind == TargetKind.VIDEO:
        from media.models import Video

        video = session.get(Video, target_id)
        if video is None or not video.is_live:
            raise NotFound("video")
        return
    from commerce.catalog.models import Product, ProductStatus

    product = session.get(Product, target_id)
    if product is None or product.status != ProductStatus.ACTIVE:
        raise NotFound("product")


def upstream_sharer(
    session: Session, user_id: int, kind: TargetKind, target_id: int, policy: MoneyPolicy
) -> int | None:
    """Whose link brought `user_id` to this target recently: the only way a second level arises."""
    if policy.commission_levels < 2:
        return None
    since = clock.now() - policy.attribution_window
    return session.scalar(
        select(ShareClick.sharer_id)
        .where(
            ShareClick.viewer_id == user_id,
            ShareClick.target_kind == kind,
            ShareClick.target_id == target_id,
            ShareClick.sharer_id != user_id,
            ShareClick.clicked_at >= since,
        )
        .order_by(ShareClick.clicked_at.desc(), ShareClick.id.desc())
        .limit(1)
    )


def create_share_link(
    session: Session,
    user: User | None,
    *,
    target_kind: TargetKind,
    target_id: int,
    keys: Sequence[tuple[str, bytes]],
    policy: MoneyPolicy,
    base_url: str,
    device_hash: str | None = None,
) -> ShareLink:
    user = require_user(user)
    _check_target(session, target_kind, target_id)
    claim = ShareClaim(
        sharer_id=user.id,
        target_kind=target_kind,
        target_id=target_id,
        issued_at=clock.now().replace(microsecond=0),
        key_id=keys[0][0],
        parent_sharer_id=upstream_sharer(session, user.id, target_kind, target_id, policy),
    )
    token = links.sign(claim, keys)
    remember_device(session, user.id, device_hash)
    session.commit()
    return ShareLink(token=token, url=base_url.rstrip("/") + SHARE_PATH + token, claim=claim)


def record_click(
    session: Session,
    token: str,
    *,
    keys: Sequence[tuple[str, bytes]],
    policy: MoneyPolicy,
    ip_hash: str,
    user_agent: str = "",
    referrer: str = "",
    viewer_id: int | None = None,
    device_hash: str | None = None,
) -> ShareClick | None:
    """Log a visit through a share link; None (and nothing logged) when the token is not authentic or expired."""
    claim = links.verify(token, keys, now=clock.now(), ttl=policy.share_link_ttl)
    if claim is None:
        return None
    click = ShareClick(
        click_id=short_id("c", 12),
        sharer_id=claim.sharer_id,
        # Two levels at most, whatever a token says, and only while the platform pays two.
        parent_sharer_id=claim.parent_sharer_id if policy.commission_levels >= 2 else None,
        target_kind=claim.target_kind,
        target_id=claim.target_id,
        key_id=claim.key_id,
        issued_at=claim.issued_at,
        clicked_at=clock.now(),
        ip_hash=ip_hash,
        user_agent=user_agent[:300],
        referrer=referrer[:500],
        viewer_id=viewer_id,
        device_hash=device_hash,
    )
    session.add(click)
    if viewer_id is not None:
        remember_device(session, viewer_id, device_hash)
    try:
        session.flush()
    except Exception:
        session.rollback()  # e.g. a sharer account deleted since the link was issued: still just "no attribution"
        return None
    session.commit()
    return click


# -- at checkout ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SharerCredit:
    sharer_id: int
    parent_sharer_id: int | None
    click_id: str | None
    clicked_at: dt.datetime | None
    via: str  # "binding" | "click"


_bindings = CustomerBinding.__table__.c
_clicks = ShareClick.__table__.c
_binding_columns = (_bindings.id, _bindings.sharer_id, _bindings.parent_sharer_id, _bindings.click_id,
                    _bindings.expires_at)  # fmt: skip


def _binding_in_force() -> Any:
    """The id of the buyer's (`:buyer`) binding in force at `:now`, as a scalar subquery."""
    inner = CustomerBinding.__table__.alias("in_force")
    return (
        select(inner.c.id)
        .where(inner.c.buyer_id == bindparam("buyer"), inner.c.expires_at > bindparam("now", type_=UTCDateTime()))
        .order_by(inner.c.expires_at.desc(), inner.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


# Statements of every checkout are built once (Core, from the tables), not per call.
_ACTIVE_BINDING = select(*_binding_columns).where(_bindings.id == _binding_in_force())
_EXTEND_BINDING = (
    update(CustomerBinding.__table__)
    .where(
        _bindings.id == _binding_in_force(),
        _bindings.sharer_id == bindparam("sharer"),
        _bindings.expires_at < bindparam("until", type_=UTCDateTime()),
    )
    .values(expires_at=bindparam("until", type_=UTCDateTime()))
)


def active_binding(session: Session, buyer_id: int, now: dt.datetime) -> Row[Any] | None:
    """The binding in force (id, sharer_id, parent_sharer_id, click_id, expires_at), if any."""
    return session.execute(_ACTIVE_BINDING, {"buyer": buyer_id, "now": now}).first()


class Click(NamedTuple):
    """A share click that may earn its sharer the purchase (`buyer_context`)."""

    sharer_id: int
    parent_sharer_id: int | None
    target_kind: TargetKind
    target_id: int
    click_id: str
    clicked_at: dt.datetime
    carries: bool  # its video carries the checkout's one product (`product_id`); false for a click on a product


@dataclass(frozen=True)
class BuyerContext:
    """What checkout needs to know of a buyer before crediting anyone, read in one query."""

    binding: Row[Any] | None  # as `active_binding`
    device_checkouts: int | None  # checkouts from this device in the last day, the one being placed included
    device_seen_at: dt.datetime | None = None  # when the buyer was last noted on this device (`remember_device`)
    clicks: tuple[Click, ...] = ()  # without a binding, the clicks that may be credited, newest first
    # `self_referral` for the bound sharer or the clicks' sharers, and their upstream sharers
    self_referrals: Mapping[int, str | None] = field(default_factory=dict)


def buyer_context(
    session: Session, buyer: BuyerFacts, now: dt.datetime, *, policy: MoneyPolicy, click_ids: Sequence[str] = (),
    product_id: int | None = None,
) -> BuyerContext:  # fmt: skip
    """The buyer's binding in force, their device's recent checkouts and its last sighting; only without a binding
    do their clicks matter: then the clicks inside the attribution window, newest first (the click ids the checkout
    carries, plus clicks made while signed in or from the same device: a cookie can be lost between apps).

    With `product_id` (a checkout of one product) each click also says whether its video carries that product,
    which crediting it would otherwise ask next. Whether the sharers it names (bound, clicked, upstream) would be
    paid for buying themselves comes along (`self_referrals`)."""
    device_hash = buyer.device_hash
    rows = session.execute(
        _buyer_context_statement(bool(device_hash), bool(click_ids), product_id is not None),
        {"buyer": buyer.user_id, "now": now, "device": device_hash, "since": now - _DAY, "address": buyer.address_hash,
         "clicks": list(click_ids)[:10], "window_start": now - policy.attribution_window, "product": product_id},
    ).all()  # fmt: skip
    row = rows[0]
    referrals: dict[int, str | None] = {}
    for r in rows:
        if r.ref_sharer_id is not None:
            referrals[r.ref_sharer_id] = self_referral(r.sharer_device, r.sharer_payout, r.sharer_address)
        if r.ref_parent_id is not None:
            referrals[r.ref_parent_id] = self_referral(r.parent_device, r.parent_payout, r.parent_address)
    return BuyerContext(
        binding=row if row.id is not None else None,
        device_checkouts=row.prior_checkouts + 1 if device_hash else None,
        device_seen_at=row.device_seen_at if device_hash else None,
        clicks=tuple(
            Click(
                r.click_sharer_id,
                r.click_parent_sharer_id,
                r.click_target_kind,
                r.click_target_id,
                r.click_id_,
                r.click_clicked_at,
                bool(r.click_carries),
            )
            for r in rows
            if r.click_id_ is not None
        ),
        self_referrals=referrals,
    )


_CHECKS = ("device", "payout", "address")


@functools.cache
def _buyer_context_statement(by_device: bool, by_click_id: bool, with_product: bool) -> Select[Any]:
    """One row per candidate click (at most 50), each carrying the buyer's context; one row without a click."""
    from commerce.catalog.models import VideoProduct
    from commerce.orders.models import Order

    users, orders, devices, cards = User.__table__, Order.__table__.c, UserDevice.__table__.c, VideoProduct.__table__.c
    prior = (
        select(func.count(func.distinct(orders.checkout_id)))
        .where(orders.device_hash == bindparam("device"), orders.created_at >= bindparam("since", type_=UTCDateTime()))
        .scalar_subquery()
    )
    seen = (
        select(devices.last_seen_at)
        .where(devices.user_id == bindparam("buyer"), devices.device_hash == bindparam("device"))
        .scalar_subquery()
    )
    who = [_clicks.viewer_id == bindparam("buyer")]
    if by_device:
        who.append(_clicks.device_hash == bindparam("device"))
    if by_click_id:
        who.append(_clicks.click_id.in_(bindparam("clicks", expanding=True)))
    candidates = and_(
        _bindings.id.is_(None), or_(*who), _clicks.clicked_at >= bindparam("window_start", type_=UTCDateTime()),
        _clicks.clicked_at <= bindparam("now", type_=UTCDateTime()),
    )  # fmt: skip
    carries = exists().where(
        _clicks.target_kind == TargetKind.VIDEO, cards.video_id == _clicks.target_id,
        cards.product_id == bindparam("product"),
    ) if with_product else false()  # fmt: skip
    # A row has a binding or a click, never both: its sharer and upstream sharer, and their self-referral checks.
    sharer = func.coalesce(_bindings.sharer_id, _clicks.sharer_id)
    parent = func.coalesce(_bindings.parent_sharer_id, _clicks.parent_sharer_id)
    sharer_checks = [c.label(f"sharer_{n}") for c, n in zip(self_referral_checks(sharer), _CHECKS, strict=True)]
    parent_checks = [c.label(f"parent_{n}") for c, n in zip(self_referral_checks(parent), _CHECKS, strict=True)]
    return (
        select(
            *_binding_columns, prior.label("prior_checkouts"), seen.label("device_seen_at"),
            _clicks.sharer_id.label("click_sharer_id"), _clicks.parent_sharer_id.label("click_parent_sharer_id"),
            _clicks.target_kind.label("click_target_kind"), _clicks.target_id.label("click_target_id"),
            _clicks.click_id.label("click_id_"), _clicks.clicked_at.label("click_clicked_at"),
            carries.label("click_carries"), sharer.label("ref_sharer_id"), *sharer_checks,
            parent.label("ref_parent_id"), *parent_checks,
        )
        .select_from(
            users.outerjoin(CustomerBinding.__table__, _bindings.id == _binding_in_force()).outerjoin(
                ShareClick.__table__, candidates
            )
        )
        .where(users.c.id == bindparam("buyer"))
        .order_by(_clicks.clicked_at.desc(), _clicks.id.desc())
        .limit(50)
    )  # fmt: skip


def credit_sharer(
    *, binding: Row[Any] | None, clicks: Sequence[Click], matches: Callable[[Click], bool], policy: MoneyPolicy
) -> SharerCredit | None:
    """The sharer credited for one purchase: the bound sharer (`active_binding`), else the last matching click."""
    if binding is not None:
        return SharerCredit(binding.sharer_id, binding.parent_sharer_id, binding.click_id, None, "binding")
    for click in clicks:
        if matches(click):
            parent = click.parent_sharer_id if policy.commission_levels >= 2 else None
            return SharerCredit(click.sharer_id, parent, click.click_id, click.clicked_at, "click")
    return None


def bind(session: Session, buyer_id: int, credit: SharerCredit, *, until: dt.datetime) -> None:
    """Bind the buyer to the credited sharer until `until`, or extend the current binding to it (no commit)."""
    now = clock.now()
    binding = active_binding(session, buyer_id, now)
    if binding is not None and binding.sharer_id == credit.sharer_id:
        if until > binding.expires_at:
            session.execute(
                update(CustomerBinding.__table__).where(CustomerBinding.id == binding.id).values(expires_at=until)
            )
        return
    if binding is not None:
        return  # protected: another sharer holds this customer
    session.execute(
        insert(CustomerBinding.__table__),
        {"buyer_id": buyer_id, "sharer_id": credit.sharer_id, "parent_sharer_id": credit.parent_sharer_id,
         "click_id": credit.click_id, "bound_at": now, "expires_at": until},
    )  # fmt: skip


def extend_binding(session: Session, buyer_id: int, credit: SharerCredit, *, until: dt.datetime) -> None:
    """After a paid order: extend the buyer's binding to its sharer until `until` (the usual case, one statement),
    else `bind` them."""
    extended = session.execute(
        _EXTEND_BINDING, {"buyer": buyer_id, "now": clock.now(), "sharer": credit.sharer_id, "until": until}
    )
    if not extended.rowcount:  # type: ignore[attr-defined]
        bind(session, buyer_id, credit, until=until)


@dataclass(frozen=True)
class BuyerFacts:
    """What identifies the buyer of an order, for self-referral checks."""

    user_id: int
    device_hash: str | None
    address_hash: str


def self_referral_checks(user_id: Any) -> tuple[Any, Any, Any]:
    """Whether paying the user `user_id` (a column or expression) a commission on this buyer's order would pay them
    for buying themselves: the buyer's device (`:device`), payout account (their user id `:buyer`) or delivery
    address (`:address`) is theirs too. Three EXISTS, for `self_referrals` and for the checkout queries that ask
    them along with what they read (`self_referral`)."""
    from commerce.orders.models import Order

    devices, orders = UserDevice.__table__.c, Order.__table__.c
    theirs, mine = PayoutAccount.__table__.alias("theirs"), PayoutAccount.__table__.alias("mine")
    device = exists().where(devices.user_id == user_id, devices.device_hash == bindparam("device"))
    payout = exists(
        select(theirs.c.id)
        .join(mine, mine.c.account_hash == theirs.c.account_hash)
        .where(theirs.c.owner_kind == OwnerKind.USER, theirs.c.owner_id == user_id,
               mine.c.owner_kind == OwnerKind.USER, mine.c.owner_id == bindparam("buyer"))
    )  # fmt: skip
    address = exists().where(orders.buyer_id == user_id, orders.address_hash == bindparam("address"))
    return device, payout, address


def self_referral(same_device: bool, same_payout: bool, same_address: bool) -> str | None:
    """The reason the three checks of `self_referral_checks` give, the first that holds."""
    return (
        "same_device" if same_device
        else "same_payout_account" if same_payout
        else "same_address" if same_address
        else None
    )  # fmt: skip


@functools.cache
def _self_referral_statement() -> Select[Any]:
    users = User.__table__.c
    return select(users.id, *self_referral_checks(users.id)).where(users.id.in_(bindparam("ids", expanding=True)))


def self_referrals(
    session: Session, beneficiary_ids: Iterable[int], buyer: BuyerFacts, known: Mapping[int, str | None] | None = None
) -> dict[int, str | None]:
    """For each beneficiary: why paying them a commission on this buyer's order would pay them for buying
    themselves (same user, device, payout account or delivery address), or None. One query for all of them, but
    for those `known` already (`self_referral` of the same checks, read with something else)."""
    known = known or {}
    reasons: dict[int, str | None] = {b: "same_user" if b == buyer.user_id else None for b in beneficiary_ids}
    for b, reason in reasons.items():
        if reason is None and b in known:
            reasons[b] = known[b]
    others = sorted(b for b, reason in reasons.items() if reason is None and b not in known)
    if others:
        rows = session.execute(
            _self_referral_statement(),
            {"ids": others, "device": buyer.device_hash, "buyer": buyer.user_id, "address": buyer.address_hash},
        )
        for user_id, same_device, same_payout, same_address in rows:
            reasons[user_id] = self_referral(same_device, same_payout, same_address)
    return reasons


def review_reasons(
    *, buyer: User, credit: SharerCredit | None, device_checkouts: int | None, now: dt.datetime, policy: MoneyPolicy
) -> list[str]:
    """Rules that hold a sale's commissions for review (`device_checkouts` from `buyer_context`)."""
    reasons = []
    if credit is not None and credit.clicked_at is not None and now - credit.clicked_at < policy.review_click_to_buy:
        reasons.append("fast_click_to_buy")
    if device_checkouts is not None and device_checkouts >= policy.review_device_orders_per_day:
        reasons.append("many_orders_one_device")
    if now - buyer.created_at < policy.review_new_account:
        reasons.append("new_account")
    return reasons

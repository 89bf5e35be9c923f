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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import exists, false, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from commerce.attribution import links
from commerce.attribution.links import ShareClaim, TargetKind
from commerce.attribution.models import CustomerBinding, ShareClick, UserDevice
from commerce.ledger.models import OwnerKind
from commerce.payouts.models import PayoutAccount
from commerce.policy import MoneyPolicy
from core import clock
from core.accounts.models import User
from core.accounts.permissions import require_user
from core.db import is_postgres
from core.errors import NotFound, register_messages
from core.ids import short_id

register_messages({"share_target_unavailable": ("该内容暂不能分享", "This cannot be shared right now")})

SHARE_PATH = "/s/"


@dataclass(frozen=True)
class ShareLink:
    token: str
    url: str
    claim: ShareClaim


def remember_device(session: Session, user_id: int, device_hash: str | None) -> None:
    """Note that `user_id` used this device (no commit)."""
    if not device_hash:
        return
    now = clock.now()
    insert = postgresql.insert if is_postgres(session) else sqlite.insert
    session.execute(
        insert(UserDevice)
        .values(user_id=user_id, device_hash=device_hash, first_seen_at=now, last_seen_at=now)
        .on_conflict_do_update(index_elements=["user_id", "device_hash"], set_={"last_seen_at": now})
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


def active_binding(session: Session, buyer_id: int, now: dt.datetime) -> CustomerBinding | None:
    return session.scalar(
        select(CustomerBinding)
        .where(CustomerBinding.buyer_id == buyer_id, CustomerBinding.expires_at > now)
        .order_by(CustomerBinding.expires_at.desc(), CustomerBinding.id.desc())
        .limit(1)
    )


def candidate_clicks(
    session: Session, *, buyer_id: int, device_hash: str | None, click_ids: Sequence[str], now: dt.datetime,
    policy: MoneyPolicy,
) -> list[ShareClick]:  # fmt: skip
    """The buyer's clicks inside the attribution window, newest first: the click id they carry, plus
    clicks made while signed in or from the same device (a cookie can be lost between apps)."""
    who = [ShareClick.viewer_id == buyer_id]
    if device_hash:
        who.append(ShareClick.device_hash == device_hash)
    if click_ids:
        who.append(ShareClick.click_id.in_(list(click_ids)[:10]))
    return list(
        session.scalars(
            select(ShareClick)
            .where(or_(*who), ShareClick.clicked_at >= now - policy.attribution_window, ShareClick.clicked_at <= now)
            .order_by(ShareClick.clicked_at.desc(), ShareClick.id.desc())
            .limit(50)
        )
    )


def credit_sharer(
    session: Session,
    *,
    buyer_id: int,
    clicks: Sequence[ShareClick],
    matches: Callable[[ShareClick], bool],
    now: dt.datetime,
    policy: MoneyPolicy,
) -> SharerCredit | None:
    """The sharer credited for one purchase: the bound sharer, else the last matching click."""
    binding = active_binding(session, buyer_id, now)
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
        binding.expires_at = max(binding.expires_at, until)
        return
    if binding is not None:
        return  # protected: another sharer holds this customer
    session.add(
        CustomerBinding(
            buyer_id=buyer_id,
            sharer_id=credit.sharer_id,
            parent_sharer_id=credit.parent_sharer_id,
            click_id=credit.click_id,
            bound_at=now,
            expires_at=until,
        )
    )


@dataclass(frozen=True)
class BuyerFacts:
    """What identifies the buyer of an order, for self-referral checks."""

    user_id: int
    device_hash: str | None
    address_hash: str


def self_referral(session: Session, beneficiary_id: int, buyer: BuyerFacts) -> str | None:
    """Why paying `beneficiary_id` a commission on this buyer's order would pay them for buying themselves."""
    if beneficiary_id == buyer.user_id:
        return "same_user"
    from commerce.orders.models import Order

    device = (
        exists().where(UserDevice.user_id == beneficiary_id, UserDevice.device_hash == buyer.device_hash)
        if buyer.device_hash
        else false()
    )
    theirs, mine = aliased(PayoutAccount), aliased(PayoutAccount)
    payout = exists(
        select(theirs.id)
        .join(mine, mine.account_hash == theirs.account_hash)
        .where(theirs.owner_kind == OwnerKind.USER, theirs.owner_id == beneficiary_id,
               mine.owner_kind == OwnerKind.USER, mine.owner_id == buyer.user_id)
    )  # fmt: skip
    address = exists().where(Order.buyer_id == beneficiary_id, Order.address_hash == buyer.address_hash)
    same_device, same_payout, same_address = session.execute(select(device, payout, address)).one()
    if same_device:
        return "same_device"
    if same_payout:
        return "same_payout_account"
    if same_address:
        return "same_address"
    return None


def review_reasons(
    session: Session,
    *,
    buyer: User,
    device_hash: str | None,
    credit: SharerCredit | None,
    now: dt.datetime,
    policy: MoneyPolicy,
) -> list[str]:
    """Rules that hold a sale's commissions for review."""
    from commerce.orders.models import Order

    reasons = []
    if credit is not None and credit.clicked_at is not None and now - credit.clicked_at < policy.review_click_to_buy:
        reasons.append("fast_click_to_buy")
    if device_hash:
        recent = session.scalar(
            select(func.count(func.distinct(Order.checkout_id))).where(
                Order.device_hash == device_hash, Order.created_at >= now - dt.timedelta(days=1)
            )
        )
        if (recent or 0) >= policy.review_device_orders_per_day:
            reasons.append("many_orders_one_device")
    if now - buyer.created_at < policy.review_new_account:
        reasons.append("new_account")
    return reasons

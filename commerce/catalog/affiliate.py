"""The affiliate marketplace (精选联盟): brands open products at a commission rate, artists browse them.

Offers are versioned: a rate change closes the open version and opens a new one at
the same instant, so "the rate in force at time t" is always answerable and orders
placed before a change keep the rate they were placed under. Checkout reads the
version in force (`offer_in_force`) and snapshots it (offer id and rates) on each
order line.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, aliased

from commerce.catalog.limits import CatalogLimits
from commerce.catalog.models import AffiliateOffer, Product, ProductStatus, ShowcaseItem
from commerce.catalog.products import current_offer, in_category, product_for_member
from commerce.catalog.tx import unit_of_work
from core import clock
from core.accounts.models import User
from core.accounts.permissions import require_artist
from core.errors import Conflict, FieldError, ValidationFailed, register_field_labels, register_messages
from core.outbox import emit
from core.pagination import keyset_page

register_field_labels(
    {
        "artist_rate_bp": ("艺人佣金", "The artist commission"),
        "sharer_rate_bp": ("分享者佣金", "The sharer commission"),
        "product_id": ("商品", "The product"),
    }
)
register_messages(
    {
        "rate_out_of_bounds": (
            "佣金率应在 {min_pct}% 到 {max_pct}% 之间",
            "The commission rate must be between {min_pct}% and {max_pct}%",
        ),
        "sharer_rate_out_of_bounds": (
            "分享佣金率应在 0% 到 {max_pct}% 之间",
            "The sharer rate must be 0% to {max_pct}%",
        ),
        "rates_sum_too_high": (
            "达人佣金与分享佣金合计不能超过 {max_pct}%",
            "The artist and sharer rates together cannot exceed {max_pct}%",
        ),
        "offer_changed_concurrently": ("佣金设置刚被修改，请刷新后重试", "The offer just changed; reload and retry"),
        "invalid_price_band": ("最低价不能高于最高价", "The minimum price cannot exceed the maximum"),
    }
)

MarketSort = Literal["newest", "rate", "price_asc", "price_desc"]


@dataclass(frozen=True)
class CommissionRates:
    """What checkout snapshots on an order line. `offer_id` is None when the product is not open for affiliation."""

    offer_id: int | None
    artist_rate_bp: int
    sharer_rate_bp: int


def _pct(bp: int) -> str:
    return f"{bp / 100:g}"


def check_rates(artist_rate_bp: int, sharer_rate_bp: int, limits: CatalogLimits) -> None:
    errors = []
    if not limits.rate_min_bp <= artist_rate_bp <= limits.rate_max_bp:
        errors.append(
            FieldError(
                "artist_rate_bp",
                "rate_out_of_bounds",
                params={"min_pct": _pct(limits.rate_min_bp), "max_pct": _pct(limits.rate_max_bp)},
            )
        )
    if not 0 <= sharer_rate_bp <= limits.rate_max_bp:
        errors.append(
            FieldError("sharer_rate_bp", "sharer_rate_out_of_bounds", params={"max_pct": _pct(limits.rate_max_bp)})
        )
    if not errors and artist_rate_bp + sharer_rate_bp > limits.rate_max_bp:
        errors.append(FieldError("sharer_rate_bp", "rates_sum_too_high", params={"max_pct": _pct(limits.rate_max_bp)}))
    if errors:
        raise ValidationFailed(fields=errors)


def set_offer(
    session: Session,
    user: User | None,
    product_id: int,
    *,
    artist_rate_bp: int,
    sharer_rate_bp: int = 0,
    limits: CatalogLimits,
) -> AffiliateOffer:
    """Open the product for affiliation, or change its rates from now on (earlier orders keep theirs)."""
    check_rates(artist_rate_bp, sharer_rate_bp, limits)
    with unit_of_work(session, lambda _exc: Conflict("offer_changed_concurrently")):
        product = product_for_member(session, user, product_id, lock=True)
        if product.status != ProductStatus.ACTIVE:
            raise ValidationFailed.one("product_id", "product_not_active")
        offer = current_offer(session, product.id)
        if offer is not None and (offer.artist_rate_bp, offer.sharer_rate_bp) == (artist_rate_bp, sharer_rate_bp):
            return offer
        now = clock.now()
        if offer is not None:
            offer.effective_to = now
            session.flush()  # the open-version index must see the old one closed first
        offer = AffiliateOffer(
            product_id=product.id,
            artist_rate_bp=artist_rate_bp,
            sharer_rate_bp=sharer_rate_bp,
            effective_from=now,
            created_by=user.id if user else None,
        )
        session.add(offer)
        emit(session, "product", product.id)
    return offer


def close_offer(session: Session, user: User | None, product_id: int) -> None:
    """Take the product out of the marketplace; orders from now on carry no affiliate commission."""
    with unit_of_work(session):
        product = product_for_member(session, user, product_id, lock=True)
        offer = current_offer(session, product.id)
        if offer is not None:
            offer.effective_to = clock.now()
            emit(session, "product", product.id)


def offer_history(session: Session, user: User | None, product_id: int) -> list[AffiliateOffer]:
    """Every version, newest first (brand members only)."""
    product = product_for_member(session, user, product_id)
    return list(
        session.scalars(
            select(AffiliateOffer)
            .where(AffiliateOffer.product_id == product.id)
            .order_by(AffiliateOffer.effective_from.desc(), AffiliateOffer.id.desc())
        )
    )


def offer_in_force(product_id: ColumnElement[int] | int, when: ColumnElement[dt.datetime] | dt.datetime) -> Any:
    """The id of the offer version in force for a product at `when`, as a scalar subquery (NULL when none)."""
    o = aliased(AffiliateOffer)  # so that it never correlates with an outer query over the offers
    return (
        select(o.id)
        .where(
            o.product_id == product_id, o.effective_from <= when, (o.effective_to.is_(None)) | (o.effective_to > when)
        )
        .order_by(o.effective_from.desc(), o.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def commission_rates(session: Session, product_id: int, *, at: dt.datetime | None = None) -> CommissionRates:
    """The artist and sharer rates in force for `product_id` now (or at `at`). Checkout reads the same offer
    (`offer_in_force`) together with its SKUs and snapshots it on each order line."""
    offer = session.execute(
        select(AffiliateOffer.id, AffiliateOffer.artist_rate_bp, AffiliateOffer.sharer_rate_bp).where(
            AffiliateOffer.id == offer_in_force(product_id, at or clock.now())
        )
    ).first()
    if offer is None:
        return CommissionRates(offer_id=None, artist_rate_bp=0, sharer_rate_bp=0)
    return CommissionRates(offer_id=offer.id, artist_rate_bp=offer.artist_rate_bp, sharer_rate_bp=offer.sharer_rate_bp)


@dataclass(frozen=True)
class MarketItem:
    offer: AffiliateOffer
    in_showcase: bool
    showcase_count: int

    @property
    def product(self) -> Product:
        return self.offer.product


def is_open_for_affiliation() -> ColumnElement[bool]:
    """The condition for 'open for affiliation': an open offer on an active product."""
    return (AffiliateOffer.effective_to.is_(None)) & (Product.status == ProductStatus.ACTIVE)


def marketplace(
    session: Session,
    user: User | None,
    *,
    category: str | None = None,
    price_min_fen: int | None = None,
    price_max_fen: int | None = None,
    min_rate_bp: int | None = None,
    brand_id: int | None = None,
    q: str | None = None,
    sort: MarketSort = "newest",
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[MarketItem], str | None]:
    """Products open for affiliation, for artists choosing what to carry.

    The price band applies to a product's cheapest active SKU (what its card shows).
    """
    artist = require_artist(user)
    if price_min_fen is not None and price_max_fen is not None and price_min_fen > price_max_fen:
        raise ValidationFailed.one("query.price_min_fen", "invalid_price_band")
    stmt = (
        select(AffiliateOffer).join(Product, Product.id == AffiliateOffer.product_id).where(is_open_for_affiliation())
    )
    if category:
        stmt = stmt.where(in_category(category))
    if price_min_fen is not None:
        stmt = stmt.where(Product.price_min_fen >= price_min_fen)
    if price_max_fen is not None:
        stmt = stmt.where(Product.price_min_fen <= price_max_fen)
    if min_rate_bp is not None:
        stmt = stmt.where(AffiliateOffer.artist_rate_bp >= min_rate_bp)
    if brand_id is not None:
        stmt = stmt.where(Product.brand_id == brand_id)
    if q:
        stmt = stmt.where(Product.name.icontains(q, autoescape=True))
    orders = {
        "newest": ([(AffiliateOffer.id, True)], lambda o: [o.id]),
        "rate": (
            [(AffiliateOffer.artist_rate_bp, True), (AffiliateOffer.id, True)],
            lambda o: [o.artist_rate_bp, o.id],
        ),
        "price_asc": (
            [(Product.price_min_fen, False), (AffiliateOffer.id, False)],
            lambda o: [o.product.price_min_fen, o.id],
        ),
        "price_desc": (
            [(Product.price_min_fen, True), (AffiliateOffer.id, True)],
            lambda o: [o.product.price_min_fen, o.id],
        ),
    }
    order, key = orders[sort]
    if sort.startswith("price"):
        stmt = stmt.where(Product.price_min_fen.is_not(None))
    offers, next_cursor = keyset_page(session, stmt, order, key, cursor=cursor, limit=limit)
    product_ids = [o.product_id for o in offers]
    counts = dict(
        session.execute(
            select(ShowcaseItem.product_id, func.count())
            .where(ShowcaseItem.product_id.in_(product_ids))
            .group_by(ShowcaseItem.product_id)
        ).all()
    )
    mine = set(
        session.scalars(
            select(ShowcaseItem.product_id).where(
                ShowcaseItem.artist_id == artist.id, ShowcaseItem.product_id.in_(product_ids)
            )
        )
    )
    items = [MarketItem(o, o.product_id in mine, counts.get(o.product_id, 0)) for o in offers]
    return items, next_cursor

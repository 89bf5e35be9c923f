"""What every campaign on one of a brand's SKUs (秒杀, 拼团, 砍价) shares: the checks before it is created, so the
three refuse the same things with the same sentences, and how one is found and a brand's are listed."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from commerce.catalog.models import Product, ProductStatus, Sku
from commerce.marketing.models import SkuCampaign
from core import clock
from core.accounts.models import User
from core.accounts.permissions import require_brand_member
from core.errors import FieldError, NotFound

C = TypeVar("C", bound=SkuCampaign)


def sku_terms(
    session: Session, brand_id: int, sku_id: int, *, price_fen: int, starts_at: dt.datetime, ends_at: dt.datetime,
    max_duration: dt.timedelta, too_high: str, price_field: str = "price_fen",
) -> tuple[Row[Any], list[FieldError]]:  # fmt: skip
    """What every campaign on one of the brand's SKUs checks (a flash sale, a group buy, a bargain's floor): the SKU
    on sale, a price (`price_field`) below its own (`too_high` the code saying not), a window ending in the future at
    most `max_duration` after it starts. Returns the SKU's row (`product_id`, `price_fen`) and the errors found (404
    for a SKU that is not the brand's)."""
    row = session.execute(
        select(Sku.brand_id, Sku.price_fen, Sku.is_active, Sku.product_id, Product.status)
        .join(Product, Product.id == Sku.product_id)
        .where(Sku.id == sku_id)
    ).first()
    if row is None or row.brand_id != brand_id:
        raise NotFound("sku")
    errors = []
    if not row.is_active or row.status != ProductStatus.ACTIVE:
        errors.append(FieldError("sku_id", "sku_unavailable"))
    if not 0 < price_fen < row.price_fen:
        errors.append(FieldError(price_field, too_high if price_fen > 0 else "greater_than"))
    ended = ends_at <= max(starts_at, clock.now())
    if ended or ends_at - starts_at > max_duration:
        errors.append(FieldError("ends_at", "greater_than" if ended else "less_than_equal"))
    return row, errors


def one(session: Session, model: type[C], campaign_id: int, what: str) -> C:
    """The campaign, or 404 naming `what` it is."""
    found = session.get(model, campaign_id)
    if found is None:
        raise NotFound(what)
    return found


def of_brand(session: Session, user: User | None, model: type[C], brand_id: int) -> list[C]:
    """The brand's campaigns of one kind, newest first, for its members."""
    require_brand_member(session, user, brand_id)
    return list(session.scalars(select(model).where(model.brand_id == brand_id).order_by(model.id.desc())))

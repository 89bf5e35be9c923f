"""What every campaign on one of a brand's SKUs checks before it is created (秒杀, 拼团, 砍价): one piece of code,
so the three refuse the same things with the same sentences."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from commerce.catalog.models import Product, ProductStatus, Sku
from core import clock
from core.errors import FieldError, NotFound


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

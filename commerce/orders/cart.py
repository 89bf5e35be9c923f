"""The cart: SKUs a user means to buy, each remembering the artist video or showcase it came from."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from commerce.catalog.models import Product, ProductStatus, Sku
from commerce.orders.models import CartItem
from core.accounts.models import User
from core.accounts.permissions import require_user
from core.errors import NotFound, ValidationFailed, register_messages
from media.models import Video

register_messages({"sku_unavailable": ("该商品规格已下架", "This item is no longer available")})

MAX_QUANTITY = 99
MAX_ITEMS = 50


def sellable_sku(session: Session, sku_id: int) -> Sku:
    sku = session.get(Sku, sku_id)
    if sku is None or not sku.is_active or sku.product.status != ProductStatus.ACTIVE:
        raise ValidationFailed.one("sku_id", "sku_unavailable")
    return sku


def _check_quantity(quantity: int) -> None:
    if not 1 <= quantity <= MAX_QUANTITY:
        raise ValidationFailed.one("quantity", "less_than_equal" if quantity > MAX_QUANTITY else "greater_than_equal")


def add_item(
    session: Session,
    user: User | None,
    *,
    sku_id: int,
    quantity: int = 1,
    source_video_id: int | None = None,
    source_artist_id: int | None = None,
) -> CartItem:
    user = require_user(user)
    _check_quantity(quantity)
    sellable_sku(session, sku_id)
    item = session.scalar(select(CartItem).where(CartItem.user_id == user.id, CartItem.sku_id == sku_id))
    if item is None:
        count = len(session.scalars(select(CartItem.id).where(CartItem.user_id == user.id)).all())
        if count >= MAX_ITEMS:
            raise ValidationFailed.one("sku_id", "too_long")
        item = CartItem(user_id=user.id, sku_id=sku_id, quantity=0)
        session.add(item)
    item.quantity = min(MAX_QUANTITY, item.quantity + quantity)
    source_video_id, source_artist_id = _known_sources(session, source_video_id, source_artist_id)
    if source_video_id is not None or source_artist_id is not None:
        # The latest place the buyer found it is where the purchase starts.
        item.source_video_id, item.source_artist_id = source_video_id, source_artist_id
    session.commit()
    return item


def _known_sources(session: Session, video_id: int | None, artist_id: int | None) -> tuple[int | None, int | None]:
    """The sources that exist. The client names them from the page the buyer was on, and the video may have been
    deleted since (or the id made up): like the checkout with a claim the catalog does not back, the SKU goes into
    the cart without that credit rather than failing the tap (or the row's foreign key)."""
    if video_id is not None and session.scalar(select(Video.id).where(Video.id == video_id)) is None:
        video_id = None
    if artist_id is not None and session.scalar(select(User.id).where(User.id == artist_id)) is None:
        artist_id = None
    return video_id, artist_id


def _own_item(session: Session, user: User | None, item_id: int) -> CartItem:
    user = require_user(user)
    item = session.get(CartItem, item_id)
    if item is None or item.user_id != user.id:
        raise NotFound("cart item")
    return item


def set_quantity(session: Session, user: User | None, item_id: int, quantity: int) -> CartItem:
    item = _own_item(session, user, item_id)
    _check_quantity(quantity)
    item.quantity = quantity
    session.commit()
    return item


def remove_item(session: Session, user: User | None, item_id: int) -> None:
    item = _own_item(session, user, item_id)
    session.delete(item)
    session.commit()


@dataclass(frozen=True)
class CartLine:
    item: CartItem
    sku: Sku
    product: Product

    @property
    def available(self) -> bool:
        return (
            self.sku.is_active and self.product.status == ProductStatus.ACTIVE and self.sku.stock >= self.item.quantity
        )


def list_items(session: Session, user: User | None) -> list[CartLine]:
    user = require_user(user)
    rows = session.execute(
        select(CartItem, Sku, Product)
        .join(Sku, Sku.id == CartItem.sku_id)
        .join(Product, Product.id == Sku.product_id)
        .where(CartItem.user_id == user.id)
        .order_by(CartItem.id)
    )
    return [CartLine(item, sku, product) for item, sku, product in rows.unique()]


def remove_skus(session: Session, user_id: int, sku_ids: list[int]) -> None:
    """Drop bought SKUs from the cart (no commit: part of the checkout's transaction)."""
    session.execute(
        delete(CartItem)
        .where(CartItem.user_id == user_id, CartItem.sku_id.in_(sku_ids))
        .execution_options(synchronize_session=False)
    )

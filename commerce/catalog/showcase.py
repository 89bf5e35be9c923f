"""Artists' showcases (橱窗): the marketplace products an artist carries and may link to videos."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from commerce.catalog.models import AffiliateOffer, Product, ProductStatus, ShowcaseItem, VideoProduct
from commerce.catalog.products import current_offer, current_offers, get_product, has_open_offer
from commerce.catalog.tx import unit_of_work
from core.accounts.models import User
from core.accounts.permissions import require_artist
from core.errors import Conflict, NotFound, ValidationFailed, register_messages
from core.outbox import emit
from core.pagination import keyset_page
from media.models import Video

register_messages(
    {
        "not_open_for_affiliation": ("该商品未开放带货", "This product is not open for affiliation"),
    }
)


@dataclass(frozen=True)
class ShowcaseEntry:
    item: ShowcaseItem
    offer: AffiliateOffer | None  # None once the brand closed the offer

    @property
    def product(self) -> Product:
        return self.item.product

    @property
    def available(self) -> bool:
        return self.offer is not None and self.product.status == ProductStatus.ACTIVE


def add(session: Session, user: User | None, product_id: int) -> ShowcaseEntry:
    """Carry a marketplace product (idempotent)."""
    artist = require_artist(user)
    product = get_product(session, product_id)
    offer = current_offer(session, product.id)
    if offer is None or product.status != ProductStatus.ACTIVE:
        raise ValidationFailed.one("product_id", "not_open_for_affiliation")
    item = session.scalar(
        select(ShowcaseItem).where(ShowcaseItem.artist_id == artist.id, ShowcaseItem.product_id == product.id)
    )
    if item is not None:
        return ShowcaseEntry(item, offer)
    try:
        with unit_of_work(session):
            item = ShowcaseItem(artist_id=artist.id, product_id=product.id)
            session.add(item)
            session.flush()
            emit(session, "product", product.id)  # how many artists carry it is part of its document
            emit(session, "artist", artist.id)
    except Conflict:  # the same add raced itself (a double tap): the other one stored it
        item = session.scalar(
            select(ShowcaseItem).where(ShowcaseItem.artist_id == artist.id, ShowcaseItem.product_id == product.id)
        )
        if item is None:
            raise
    return ShowcaseEntry(item, offer)


def remove(session: Session, user: User | None, product_id: int) -> int:
    """Stop carrying a product; its cards come off the artist's own videos. Returns how many cards were removed."""
    artist = require_artist(user)
    item = session.scalar(
        select(ShowcaseItem).where(ShowcaseItem.artist_id == artist.id, ShowcaseItem.product_id == product_id)
    )
    if item is None:
        raise NotFound("showcase item")
    with unit_of_work(session):
        product = item.product
        session.delete(item)
        removed: list[int] = []
        # Products of the artist's own brands stay linkable without the showcase.
        if product.brand_id not in artist.brand_ids():
            removed = list(
                session.scalars(
                    select(VideoProduct.video_id)
                    .join(Video, Video.id == VideoProduct.video_id)
                    .where(
                        VideoProduct.product_id == product_id,
                        Video.uploader_id == artist.id,
                        Video.brand_id.is_(None),
                    )
                )
            )
            if removed:
                session.execute(
                    delete(VideoProduct).where(
                        VideoProduct.product_id == product_id, VideoProduct.video_id.in_(removed)
                    )
                )
        for video_id in removed:
            emit(session, "video", video_id)
        emit(session, "product", product_id)
        emit(session, "artist", artist.id)
    return len(removed)


def list_showcase(
    session: Session, viewer: User | None, artist_id: int, *, cursor: str | None = None, limit: int = 20
) -> tuple[list[ShowcaseEntry], str | None]:
    """An artist's showcase, latest first. Others see only what is still on offer; the artist sees everything."""
    stmt = select(ShowcaseItem).where(ShowcaseItem.artist_id == artist_id)
    own = viewer is not None and (viewer.id == artist_id or viewer.is_admin)
    if not own:
        stmt = stmt.join(Product, Product.id == ShowcaseItem.product_id).where(
            Product.status == ProductStatus.ACTIVE, has_open_offer()
        )
    items, next_cursor = keyset_page(
        session, stmt, [(ShowcaseItem.id, True)], lambda i: [i.id], cursor=cursor, limit=limit
    )
    offers = current_offers(session, [i.product_id for i in items])
    return [ShowcaseEntry(i, offers.get(i.product_id)) for i in items], next_cursor


def carries(session: Session, artist_id: int, product_id: int) -> bool:
    return (
        session.scalar(
            select(ShowcaseItem.id).where(ShowcaseItem.artist_id == artist_id, ShowcaseItem.product_id == product_id)
        )
        is not None
    )

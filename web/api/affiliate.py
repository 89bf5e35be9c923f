"""The affiliate marketplace over HTTP: offers (brands), browsing and showcases (artists)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from commerce.catalog import affiliate, showcase
from commerce.catalog.showcase import ShowcaseEntry
from core import extensions
from web.api.blueprint import bp
from web.api.catalog import OfferOut, PageQuery, ProductCardOut, limits
from web.api.endpoint import ApiModel, OutModel, endpoint
from web.auth import current_user, require_current_user

TAGS = ["affiliate"]


class OfferIn(ApiModel):
    artist_rate_bp: int = Field(description="Commission to the artist, in basis points (100 = 1 %)")
    sharer_rate_bp: int = Field(default=0, description="Commission to a sharer whose link led to the sale")


class MarketQuery(PageQuery):
    category: str | None = None
    price_min_fen: int | None = Field(default=None, ge=0, description="Lowest SKU price at least this")
    price_max_fen: int | None = Field(default=None, ge=0, description="Lowest SKU price at most this")
    min_rate_bp: int | None = Field(default=None, ge=0, le=10_000)
    brand_id: int | None = None
    q: str | None = Field(default=None, max_length=100)
    sort: Literal["newest", "rate", "price_asc", "price_desc"] = "newest"


class MarketItemOut(OutModel):
    product: ProductCardOut
    offer_id: int
    artist_rate_bp: int
    sharer_rate_bp: int
    in_showcase: bool
    showcase_count: int = Field(description="How many artists carry it")


class MarketPage(OutModel):
    items: list[MarketItemOut]
    next_cursor: str | None


class ShowcaseIn(ApiModel):
    product_id: int


class ShowcaseItemOut(OutModel):
    product: ProductCardOut
    added_at: dt.datetime
    available: bool = Field(description="Still on sale and open for affiliation")
    artist_rate_bp: int | None
    sharer_rate_bp: int | None

    @classmethod
    def of(cls, entry: ShowcaseEntry) -> ShowcaseItemOut:
        return cls(
            product=ProductCardOut.of(entry.product, extensions.storage()),
            added_at=entry.item.added_at,
            available=entry.available,
            artist_rate_bp=entry.offer.artist_rate_bp if entry.offer else None,
            sharer_rate_bp=entry.offer.sharer_rate_bp if entry.offer else None,
        )


class ShowcasePage(OutModel):
    items: list[ShowcaseItemOut]
    next_cursor: str | None


@bp.put("/products/<int:product_id>/affiliate")
@endpoint(
    summary="Open a product for affiliation or change its rates (brand members)",
    tags=TAGS,
    body=OfferIn,
    response=OfferOut,
    auth="required",
    errors=[403, 404, 409],
)
def put_offer(product_id: int, body: OfferIn) -> OfferOut:
    """Rates are bounded by the platform (1 %–50 % by default, artist and sharer together at most the maximum).
    A change applies to orders placed from now on; earlier orders keep the rate they were placed under."""
    offer = affiliate.set_offer(
        extensions.session(),
        require_current_user(),
        product_id,
        artist_rate_bp=body.artist_rate_bp,
        sharer_rate_bp=body.sharer_rate_bp,
        limits=limits(),
    )
    return OfferOut.model_validate(offer)


@bp.delete("/products/<int:product_id>/affiliate")
@endpoint(
    summary="Take a product out of the marketplace (brand members)",
    tags=TAGS,
    status=204,
    auth="required",
    errors=[403, 404],
)
def close_offer(product_id: int) -> tuple[None, int]:
    affiliate.close_offer(extensions.session(), require_current_user(), product_id)
    return None, 204


@bp.get("/products/<int:product_id>/affiliate/history")
@endpoint(
    summary="Every version of a product's affiliate terms (brand members)",
    tags=TAGS,
    response=list[OfferOut],
    auth="required",
    errors=[403, 404],
)
def offer_history(product_id: int) -> list[OfferOut]:
    offers = affiliate.offer_history(extensions.session(), require_current_user(), product_id)
    return [OfferOut.model_validate(o) for o in offers]


@bp.get("/affiliate/products")
@endpoint(
    summary="Browse products open for affiliation (artists)",
    tags=TAGS,
    query=MarketQuery,
    response=MarketPage,
    auth="required",
    errors=[400, 403],
)
def browse_marketplace(query: MarketQuery) -> MarketPage:
    """Filter by category, price band (of the cheapest SKU), minimum artist rate and brand; sort by newest,
    rate or price."""
    items, cursor = affiliate.marketplace(
        extensions.session(),
        require_current_user(),
        category=query.category,
        price_min_fen=query.price_min_fen,
        price_max_fen=query.price_max_fen,
        min_rate_bp=query.min_rate_bp,
        brand_id=query.brand_id,
        q=query.q,
        sort=query.sort,
        cursor=query.cursor,
        limit=query.limit,
    )
    storage = extensions.storage()
    return MarketPage(
        items=[
            MarketItemOut(
                product=ProductCardOut.of(i.product, storage),
                offer_id=i.offer.id,
                artist_rate_bp=i.offer.artist_rate_bp,
                sharer_rate_bp=i.offer.sharer_rate_bp,
                in_showcase=i.in_showcase,
                showcase_count=i.showcase_count,
            )
            for i in items
        ],
        next_cursor=cursor,
    )


@bp.get("/me/showcase")
@endpoint(summary="My showcase (artists)", tags=TAGS, query=PageQuery, response=ShowcasePage, auth="required")
def my_showcase(query: PageQuery) -> ShowcasePage:
    """Everything carried, including products whose offer has since closed (`available: false`)."""
    user = require_current_user()
    entries, cursor = showcase.list_showcase(
        extensions.session(), user, user.id, cursor=query.cursor, limit=query.limit
    )
    return ShowcasePage(items=[ShowcaseItemOut.of(e) for e in entries], next_cursor=cursor)


@bp.post("/me/showcase")
@endpoint(
    summary="Add a marketplace product to my showcase (artists)",
    tags=TAGS,
    body=ShowcaseIn,
    response=ShowcaseItemOut,
    status=201,
    auth="required",
    errors=[403, 404],
)
def add_to_showcase(body: ShowcaseIn) -> ShowcaseItemOut:
    """Products in the showcase can be linked to the artist's videos. Adding twice is harmless."""
    entry = showcase.add(extensions.session(), require_current_user(), body.product_id)
    return ShowcaseItemOut.of(entry)


@bp.delete("/me/showcase/<int:product_id>")
@endpoint(summary="Remove a product from my showcase (artists)", tags=TAGS, status=204, auth="required", errors=[404])
def remove_from_showcase(product_id: int) -> tuple[None, int]:
    """Its cards come off the artist's own videos too (products of the artist's own brands stay)."""
    showcase.remove(extensions.session(), require_current_user(), product_id)
    return None, 204


@bp.get("/artists/<int:artist_id>/showcase")
@endpoint(summary="An artist's showcase (public)", tags=TAGS, query=PageQuery, response=ShowcasePage, auth="optional")
def artist_showcase(artist_id: int, query: PageQuery) -> ShowcasePage:
    entries, cursor = showcase.list_showcase(
        extensions.session(), current_user(), artist_id, cursor=query.cursor, limit=query.limit
    )
    return ShowcasePage(items=[ShowcaseItemOut.of(e) for e in entries], next_cursor=cursor)

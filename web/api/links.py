"""Shoppable videos over HTTP: the product cards on a video and tag suggestions."""

from __future__ import annotations

from pydantic import Field

from commerce.catalog import links, suggestions
from commerce.catalog.links import LinkSpec
from commerce.catalog.models import Decision, ProductStatus, VideoProduct
from core import extensions
from web.api.blueprint import bp
from web.api.catalog import ProductCardOut, SkuOut, limits
from web.api.endpoint import ApiModel, OutModel, QueryModel, endpoint
from web.auth import current_user, require_current_user

TAGS = ["shoppable videos"]


class WindowIn(ApiModel):
    sku_id: int | None = Field(default=None, description="Preselect a variant on the card")
    start_seconds: float | None = Field(default=None, description="Card shows from here (default: the start)")
    end_seconds: float | None = Field(default=None, description="Card hides from here (default: the end)")


class LinkIn(WindowIn):
    product_id: int

    def spec(self) -> LinkSpec:
        return LinkSpec(self.product_id, self.sku_id, self.start_seconds, self.end_seconds)


class LinksIn(ApiModel):
    links: list[LinkIn] = Field(max_length=50, description="Every card, in display order")


class LinkOut(OutModel):
    product: ProductCardOut
    sku: SkuOut | None
    position: int
    start_seconds: float | None
    end_seconds: float | None
    available: bool = Field(description="The product (and SKU) can be bought right now")

    @classmethod
    def of(cls, link: VideoProduct) -> LinkOut:
        product = link.product
        sku = next((s for s in product.skus if s.id == link.sku_id), None)
        return cls(
            product=ProductCardOut.of(product, extensions.storage()),
            sku=SkuOut.model_validate(sku) if sku else None,
            position=link.position,
            start_seconds=link.start_seconds,
            end_seconds=link.end_seconds,
            available=product.status == ProductStatus.ACTIVE and (sku is None or sku.is_active),
        )


class LinkableQuery(QueryModel):
    q: str = Field(default="", max_length=100, description="Part of the product's name")
    limit: int = Field(default=50, ge=1, le=100)


class SuggestionsQuery(QueryModel):
    limit: int = Field(default=5, ge=1, le=20)


class ProductSuggestionOut(OutModel):
    product: ProductCardOut
    score: float


class HashtagSuggestionOut(OutModel):
    tag: str
    score: float


class SuggestionsOut(OutModel):
    products: list[ProductSuggestionOut]
    hashtags: list[HashtagSuggestionOut]


class HashtagIn(ApiModel):
    hashtag: str = Field(min_length=1, max_length=40)


class HashtagOut(OutModel):
    hashtag: str


@bp.get("/videos/<int:video_id>/products")
@endpoint(summary="The product cards on a video", tags=TAGS, response=list[LinkOut], auth="optional", errors=[404])
def list_links(video_id: int) -> list[LinkOut]:
    """Public for a live video; its editors see them at any stage."""
    return [LinkOut.of(lk) for lk in links.list_links(extensions.session(), current_user(), video_id)]


@bp.put("/videos/<int:video_id>/products")
@endpoint(
    summary="Replace a video's product cards (uploader)",
    tags=TAGS,
    body=LinksIn,
    response=list[LinkOut],
    auth="required",
    errors=[403, 404, 409],
)
def put_links(video_id: int, body: LinksIn) -> list[LinkOut]:
    """Up to 6 products by default. An artist links own-brand products or products in the showcase; a brand
    video links only the brand's own. Time windows lie within the video and end after they start. Each problem is
    reported as `links.<index>.<field>`."""
    result = links.set_links(
        extensions.session(), require_current_user(), video_id, [lk.spec() for lk in body.links], limits=limits()
    )
    return [LinkOut.of(lk) for lk in result]


@bp.post("/videos/<int:video_id>/products")
@endpoint(
    summary="Add a product card to a video (uploader)",
    tags=TAGS,
    body=LinkIn,
    response=LinkOut,
    status=201,
    auth="required",
    errors=[403, 404, 409],
)
def add_link(video_id: int, body: LinkIn) -> LinkOut:
    """Appends the card, or updates it in place when the product is already linked."""
    link = links.add_link(extensions.session(), require_current_user(), video_id, body.spec(), limits=limits())
    return LinkOut.of(link)


@bp.delete("/videos/<int:video_id>/products/<int:product_id>")
@endpoint(
    summary="Remove a product card from a video (uploader)",
    tags=TAGS,
    status=204,
    auth="required",
    errors=[403, 404, 409],
)
def remove_link(video_id: int, product_id: int) -> tuple[None, int]:
    links.remove_link(extensions.session(), require_current_user(), video_id, product_id, limits=limits())
    return None, 204


@bp.get("/videos/<int:video_id>/linkable_products")
@endpoint(
    summary="Products the uploader may link to this video (the product picker)",
    tags=TAGS,
    query=LinkableQuery,
    response=list[ProductCardOut],
    auth="required",
    errors=[403, 404],
)
def linkable_products(video_id: int, query: LinkableQuery) -> list[ProductCardOut]:
    """A brand video: the brand's active products; an artist's video: their own brands' products and the
    showcase products whose affiliate offer is open."""
    found = links.linkable_products(
        extensions.session(), require_current_user(), video_id, query=query.q, limit=query.limit
    )
    storage = extensions.storage()
    return [ProductCardOut.of(p, storage) for p in found]


@bp.get("/videos/<int:video_id>/suggestions")
@endpoint(
    summary="Suggested products and hashtags for a video (uploader)",
    tags=TAGS,
    query=SuggestionsQuery,
    response=SuggestionsOut,
    auth="required",
    errors=[403, 404],
)
def get_suggestions(video_id: int, query: SuggestionsQuery) -> SuggestionsOut:
    """Products this uploader may link, ranked by how well their text matches the video's title, hashtags and
    description (Chinese word segmentation, BM25). Already linked and dismissed products are left out."""
    found = suggestions.suggest(extensions.session(), require_current_user(), video_id, limit=query.limit)
    storage = extensions.storage()
    return SuggestionsOut(
        products=[
            ProductSuggestionOut(product=ProductCardOut.of(s.product, storage), score=s.score) for s in found.products
        ],
        hashtags=[HashtagSuggestionOut(tag=h.tag, score=h.score) for h in found.hashtags],
    )


@bp.post("/videos/<int:video_id>/suggestions/products/<int:product_id>/accept")
@endpoint(
    summary="Accept a product suggestion: link it (uploader)",
    tags=TAGS,
    body=WindowIn,
    response=LinkOut,
    status=201,
    auth="required",
    errors=[403, 404, 409],
)
def accept_product(video_id: int, product_id: int, body: WindowIn) -> LinkOut:
    spec = LinkSpec(product_id, body.sku_id, body.start_seconds, body.end_seconds)
    link = suggestions.accept_product(extensions.session(), require_current_user(), video_id, spec, limits=limits())
    return LinkOut.of(link)


@bp.post("/videos/<int:video_id>/suggestions/products/<int:product_id>/dismiss")
@endpoint(
    summary="Dismiss a product suggestion for good (uploader)",
    tags=TAGS,
    status=204,
    auth="required",
    errors=[403, 404],
)
def dismiss_product(video_id: int, product_id: int) -> tuple[None, int]:
    suggestions.dismiss_product(extensions.session(), require_current_user(), video_id, product_id)
    return None, 204


@bp.post("/videos/<int:video_id>/suggestions/hashtags/<any(accept, dismiss):action>")
@endpoint(
    summary="Accept or dismiss a hashtag suggestion (uploader)",
    tags=TAGS,
    body=HashtagIn,
    response=HashtagOut,
    auth="required",
    errors=[403, 404],
)
def decide_hashtag(video_id: int, action: str, body: HashtagIn) -> HashtagOut:
    """`action` is accept or dismiss. A dismissed hashtag is not suggested for this video again; an accepted one is
    recorded only (the hashtag itself is added to the video by editing the video)."""
    decision = Decision.ACCEPTED if action == "accept" else Decision.DISMISSED
    tag = suggestions.decide_hashtag(extensions.session(), require_current_user(), video_id, body.hashtag, decision)
    return HashtagOut(hashtag=tag)

"""Search, autocomplete and hashtag pages over videos, products and artists.

Text relevance (BM25 over Chinese, English and mixed text) ranks; a gentle
popularity term breaks near-ties toward videos people watched. Facets
(brand, category, price band, hashtag) count under every other selected
facet, so choosing one brand still shows the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy.orm import Session

from commerce.catalog import categories
from core.errors import BadRequest, ValidationFailed
from core.pagination import decode_cursor, encode_cursor
from search import ranking
from search.cards import VideoCard, video_cards
from search.engine import IndexNotFound, SearchEngine
from search.query import (
    FacetBucket,
    FieldFactor,
    Match,
    Ranking,
    SearchRequest,
    SearchResult,
    SortBy,
    Term,
    Terms,
    TermsFacet,
)

VideoSort = Literal["relevance", "latest", "popular"]
MAX_QUERY_CHARS = 100
MAX_PAGE = 50
MAX_OFFSET = 1000

VIDEO_FIELDS = {"title": 3.0, "hashtags_text": 2.0, "creator_name": 1.5, "product_names": 1.5, "description": 1.0}
ARTIST_FIELDS = {"name": 1.0}
PRODUCT_FIELDS = {"name": 3.0, "brand_text": 2.0, "category_text": 1.0, "description": 1.0}
PRODUCT_FACETS = (
    ("brand", TermsFacet("brand", 20)),
    ("category", TermsFacet("category", 30)),
    ("price_band", TermsFacet("price_band", 10)),
)
PRODUCT_FACET_FIELDS = {"brand": "brand", "category": "category", "price_band": "price_band"}
VIDEO_FACETS = (
    ("brand", TermsFacet("brands", 20)),
    ("category", TermsFacet("categories", 20)),
    ("price_band", TermsFacet("price_bands", 10)),
    ("hashtag", TermsFacet("hashtags", 20)),
)
FACET_FIELDS = {"brand": "brands", "category": "categories", "price_band": "price_bands", "hashtag": "hashtags"}


@dataclass
class VideoResults:
    total: int
    items: list[VideoCard]
    facets: dict[str, list[FacetBucket]]
    next_offset: int | None


@dataclass
class ArtistResult:
    id: int
    name: str
    followers: int
    videos: int
    highlight: dict[str, str] = field(default_factory=dict)


@dataclass
class ProductResult:
    id: int
    name: str
    brand: str
    category: str
    price_min_fen: int | None
    price_max_fen: int | None
    in_stock: bool
    affiliate: bool
    videos: int
    highlight: dict[str, str] = field(default_factory=dict)


@dataclass
class ProductResults:
    total: int
    items: list[ProductResult]
    facets: dict[str, list[FacetBucket]]
    next_offset: int | None


@dataclass
class Suggestion:
    text: str
    kind: Literal["video", "artist", "product"]
    id: int


def clean_query(q: str) -> str:
    q = " ".join(q.split())
    if len(q) > MAX_QUERY_CHARS:
        raise ValidationFailed.one("q", "string_too_long")
    return q


def video_search_request(
    q: str,
    *,
    facets: dict[str, Sequence[str]] | None = None,
    sort: VideoSort = "relevance",
    offset: int = 0,
    limit: int = 20,
) -> SearchRequest:
    """The engine request behind /search for videos (the relevance test set and the benchmark use it too)."""
    match = Match(q, VIDEO_FIELDS) if q else None
    chosen = _facet_filters(FACET_FIELDS, facets)
    rank: Ranking | None = None
    order: tuple[SortBy, ...] = ()
    if sort == "latest":
        order = (SortBy("published_at"),)
    elif sort == "popular":
        order = (SortBy("views"),)
    elif match is not None:
        rank = Ranking(FieldFactor("popularity", weight=ranking.SEARCH_POPULARITY_WEIGHT), boost_mode="sum")
    else:
        order = (SortBy("popularity"),)
    return SearchRequest(
        match=match,
        facet_filters=chosen,
        facets=VIDEO_FACETS,
        sort=order,
        ranking=rank,
        highlight=("title", "description") if match else (),
        size=limit,
        offset=offset,
    )


def search_videos(
    session: Session,
    engine: SearchEngine,
    *,
    q: str,
    facets: dict[str, Sequence[str]] | None = None,
    sort: VideoSort = "relevance",
    offset: int = 0,
    limit: int = 20,
    viewer_id: int | None = None,
) -> VideoResults:
    q = clean_query(q)
    _check_page(offset, limit)
    result = _run(engine, "videos", video_search_request(q, facets=facets, sort=sort, offset=offset, limit=limit))
    cards = video_cards(session, result.hits, viewer_id=viewer_id)
    more = offset + limit < (result.total or 0) and offset + limit < MAX_OFFSET
    return VideoResults(result.total or 0, cards, result.facets, offset + limit if more else None)


def search_products(
    engine: SearchEngine,
    *,
    q: str,
    facets: dict[str, Sequence[str]] | None = None,
    sort: Literal["relevance", "price_asc", "price_desc", "popular"] = "relevance",
    in_stock: bool | None = None,
    offset: int = 0,
    limit: int = 20,
) -> ProductResults:
    q = clean_query(q)
    _check_page(offset, limit)
    match = Match(q, PRODUCT_FIELDS) if q else None
    order: tuple[SortBy, ...] = ()
    rank: Ranking | None = None
    if sort == "price_asc":
        order = (SortBy("price_min", descending=False),)
    elif sort == "price_desc":
        order = (SortBy("price_min"),)
    elif sort == "popular" or match is None:
        order = (SortBy("purchases"), SortBy("videos"))
    else:
        rank = Ranking(FieldFactor("purchases", modifier="ln1p", weight=0.1), boost_mode="sum")
    request = SearchRequest(
        match=match,
        filters=(Term("in_stock", in_stock),) if in_stock is not None else (),
        facet_filters=_facet_filters(PRODUCT_FACET_FIELDS, facets),
        facets=PRODUCT_FACETS,
        sort=order,
        ranking=rank,
        highlight=("name",) if match else (),
        size=limit,
        offset=offset,
    )
    result = _run(engine, "products", request)
    items = [
        ProductResult(
            id=int(h.id),
            name=h.source["name"],
            brand=h.source["brand"],
            category=h.source["category"],
            price_min_fen=h.source.get("price_min"),
            price_max_fen=h.source.get("price_max"),
            in_stock=bool(h.source.get("in_stock")),
            affiliate=bool(h.source.get("affiliate")),
            videos=int(h.source.get("videos") or 0),
            highlight=h.highlight,
        )
        for h in result.hits
    ]
    total = result.total or 0
    more = offset + limit < total and offset + limit < MAX_OFFSET
    return ProductResults(total, items, result.facets, offset + limit if more else None)


def _facet_filters(fields: dict[str, str], chosen: dict[str, Sequence[str]] | None) -> tuple[tuple[str, Terms], ...]:
    """Selected facet values as filters; a top-level category selects all its leaves."""
    out = []
    for name, values in (chosen or {}).items():
        if name not in fields:
            raise ValidationFailed.one(name, "extra_forbidden")
        if not values:
            continue
        wanted = [leaf for v in values for leaf in (categories.codes_under(v) or [v])] if name == "category" else values
        out.append((name, Terms(fields[name], wanted)))
    return tuple(out)


def search_artists(engine: SearchEngine, *, q: str, offset: int = 0, limit: int = 20) -> tuple[int, list[ArtistResult]]:
    q = clean_query(q)
    _check_page(offset, limit)
    request = SearchRequest(
        match=Match(q, ARTIST_FIELDS) if q else None,
        ranking=Ranking(FieldFactor("followers", modifier="ln1p", weight=0.2), boost_mode="sum") if q else None,
        sort=() if q else (SortBy("followers"),),
        highlight=("name",) if q else (),
        size=limit,
        offset=offset,
    )
    result = _run(engine, "artists", request)
    return result.total or 0, [
        ArtistResult(int(h.id), h.source["name"], h.source["followers"], h.source["videos"], h.highlight)
        for h in result.hits
    ]


def suggest(engine: SearchEngine, *, q: str, limit: int = 10) -> list[Suggestion]:
    """Autocomplete across video titles and hashtags, product and artist names, most popular first, each text once."""
    q = clean_query(q)
    if not q:
        return []
    found: dict[str, Suggestion] = {}
    scored: list[tuple[float, Suggestion]] = []
    for alias, kind in (("artists", "artist"), ("products", "product"), ("videos", "video")):
        try:
            options = engine.suggest(alias, q, size=limit)
        except IndexNotFound:
            continue
        for o in options:
            if o.text not in found:
                found[o.text] = Suggestion(o.text, kind, int(o.id))  # type: ignore[arg-type]
                scored.append((o.score, found[o.text]))
    scored.sort(key=lambda p: -p[0])
    return [s for _, s in scored[:limit]]


@dataclass
class HashtagPage:
    tag: str
    total: int
    related: list[FacetBucket]
    items: list[VideoCard]
    next_cursor: str | None


def hashtag_page(
    session: Session,
    engine: SearchEngine,
    *,
    tag: str,
    sort: Literal["popular", "latest"] = "popular",
    cursor: str | None = None,
    limit: int = 20,
    viewer_id: int | None = None,
) -> HashtagPage:
    tag = tag.strip().lstrip("#")
    if not tag or len(tag) > 64:
        raise ValidationFailed.one("tag", "string_too_long" if tag else "string_too_short")
    _check_page(0, limit)
    data = decode_cursor(cursor)
    after = data.get("a") if data else None
    if data is not None and (data.get("t") != f"tag:{sort}" or not isinstance(after, list)):
        raise BadRequest("invalid_cursor")
    order = (SortBy("views"),) if sort == "popular" else (SortBy("published_at"),)
    request = SearchRequest(
        filters=(Term("hashtags", tag),),
        facets=(("related", TermsFacet("hashtags", 11)),),
        sort=order,
        size=limit,
        search_after=tuple(after) if after else None,
    )
    result = _run(engine, "videos", request)
    related = [b for b in result.facets.get("related", []) if b.key != tag][:10]
    next_cursor = None
    if len(result.hits) == limit:
        next_cursor = encode_cursor({"t": f"tag:{sort}", "a": list(result.hits[-1].sort)})
    cards = video_cards(session, result.hits, viewer_id=viewer_id)
    return HashtagPage(tag, result.total or 0, related, cards, next_cursor)


def _check_page(offset: int, limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed.one("limit", "less_than_equal" if limit > MAX_PAGE else "greater_than_equal")
    if not 0 <= offset <= MAX_OFFSET:
        raise ValidationFailed.one("offset", "less_than_equal" if offset > MAX_OFFSET else "greater_than_equal")


def _run(engine: SearchEngine, alias: str, request: SearchRequest) -> SearchResult:
    try:
        return engine.search(alias, request)
    except IndexNotFound:
        return SearchResult([], 0, {name: [] for name, _ in request.facets})


def creator_videos(
    session: Session, engine: SearchEngine, *, creator_id: int, limit: int = 24, viewer_id: int | None = None
) -> list[VideoCard]:
    """A creator's published videos, latest first (their profile page)."""
    _check_page(0, limit)
    request = SearchRequest(filters=(Term("creator_id", str(creator_id)),), sort=(SortBy("published_at"),), size=limit)
    return video_cards(session, _run(engine, "videos", request).hits, viewer_id=viewer_id)

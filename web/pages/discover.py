"""Search with suggestions and facets; hashtag pages.

The search page renders its first results on the server from the query in the URL (facets are a plain GET
form and "more" a link, so it works without JS); static/discover/search.js adds suggestions as you type.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, render_template, request
from werkzeug.datastructures import MultiDict

from core import extensions
from core.errors import ValidationFailed
from search import service as search_service
from web.api.discovery import SearchQuery, VideoCardOut, run_search
from web.api.endpoint import parse_query
from web.auth import current_user
from web.i18n import t as _t

bp = Blueprint("discover", __name__, template_folder="../templates")

TYPES = (("videos", ("视频", "Videos")), ("products", ("商品", "Products")), ("artists", ("艺人", "Artists")))
FACETS = {
    "brand": ("品牌", "Brand"),
    "category": ("类目", "Category"),
    "price_band": ("价格", "Price"),
    "hashtag": ("话题", "Hashtag"),
}
SORTS = {
    "videos": (("relevance", ("综合", "Relevance")), ("latest", ("最新", "Latest")), ("popular", ("最热", "Popular"))),
    "products": (("relevance", ("综合", "Relevance")), ("popular", ("销量", "Best selling")),
                 ("price_asc", ("价格从低到高", "Price: low to high")),
                 ("price_desc", ("价格从高到低", "Price: high to low"))),
    "artists": (),
}  # fmt: skip


def _price_label(key: str) -> str:
    low, _, high = key.partition("-")
    if key.endswith("+"):
        return _t(f"¥{key[:-1]} 以上", f"¥{key[:-1]} and up")
    return f"¥{low}–{high}"


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"price_label": _price_label}


def _query() -> SearchQuery:
    """The query in the URL; anything invalid in it falls back to a plain search for its words."""
    try:
        return parse_query(SearchQuery)  # type: ignore[return-value]
    except ValidationFailed:
        kind = request.args.get("type")
        return SearchQuery(q=request.args.get("q", "")[:100], type=kind if kind in dict(TYPES) else "videos")


def _url(query: SearchQuery, **changes: Any) -> str:
    """/search with the current query, some parameters changed (None drops one)."""
    params = MultiDict()
    state = query.model_dump()
    state.update(changes)
    for key in ("q", "type", "sort", "brand", "category", "price_band", "hashtag", "in_stock", "limit", "offset"):
        value = state.get(key)
        if value in (None, "", [], 0) or value == SearchQuery.model_fields[key].default:
            continue
        for v in value if isinstance(value, list) else [value]:
            params.add(key, str(v).lower() if isinstance(v, bool) else str(v))
    if request.args.get("lang") == "en":
        params.add("lang", "en")
    return "/search?" + urlencode(list(params.items(multi=True)))


@bp.get("/search")
def search_page() -> str:
    query = _query()
    try:
        result = run_search(query)
    except ValidationFailed:  # a facet or sort the chosen type does not have
        query = SearchQuery(q=query.q, type=query.type)
        result = run_search(query)
    return render_template(
        "discover/search.html", query=query, result=result, items=getattr(result, query.type), types=TYPES,
        facets=FACETS, sorts=SORTS[query.type], url=lambda **kw: _url(query, **kw),
    )  # fmt: skip


@bp.get("/tag/<name>")
def hashtag(name: str) -> str:
    """A hashtag's videos, most watched (or latest) first, with related hashtags; "more" follows the cursor."""
    user = current_user()
    sort = "latest" if request.args.get("sort") == "latest" else "popular"
    page = search_service.hashtag_page(
        extensions.session(), extensions.extension("search"), tag=name, sort=sort, cursor=request.args.get("cursor"),
        limit=24, viewer_id=user.id if user else None,
    )  # fmt: skip
    return render_template(
        "discover/hashtag.html", page=page, videos=[VideoCardOut.of(c) for c in page.items], sort=sort
    )

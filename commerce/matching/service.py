"""Rank artists for a campaign brief, with filters; find artists similar to one.

Both read one row per artist (profile, precomputed metrics, the rate for the
brief's length tier) in a single query and score in memory: a brief ranks
thousands of artists in milliseconds, and nothing here touches raw events,
orders or bookings (see `bench/matching.py`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from commerce.artists.models import ArtistMetrics, ArtistProfile, ArtistRate, LengthTier
from commerce.booking import campaigns
from commerce.booking.models import CLOSED_STATES, Booking, BookingState, Campaign
from commerce.catalog import categories
from commerce.matching import scoring
from commerce.matching.relevance import content_relevance
from commerce.matching.scoring import Brief, Candidate, Reference, Score
from core import clock
from core.accounts.models import BrandMember, User
from core.db import INT64_MAX
from core.errors import NotFound, ValidationFailed
from core.money import BP_WHOLE
from search.engine import SearchEngine

FOLLOWER_BANDS: dict[str, tuple[int, int | None]] = {
    "lt10k": (0, 10_000),
    "10k-100k": (10_000, 100_000),
    "100k-1m": (100_000, 1_000_000),
    "1m+": (1_000_000, None),
}
# The fee for the whole brief, in yuan bands.
PRICE_BANDS: dict[str, tuple[int, int | None]] = {
    "lt1k": (0, 1_000_00),
    "1k-5k": (1_000_00, 5_000_00),
    "5k-20k": (5_000_00, 20_000_00),
    "20k-100k": (20_000_00, 100_000_00),
    "100k+": (100_000_00, None),
}


@dataclass(frozen=True)
class MatchFilters:
    category: str | None = None
    follower_band: str | None = None
    price_band: str | None = None
    min_gmv_90d_fen: int | None = None
    min_conversion_bp: int | None = None
    min_completion_bp: int | None = None
    min_rating: float | None = None
    region: str | None = None
    available_only: bool = True
    q: str | None = None


@dataclass(frozen=True, slots=True)
class ArtistRow:
    """What ranking knows about one artist: identity, profile facts, metrics and the scorer's input."""

    candidate: Candidate
    name: str
    region: str | None
    tags: list[str]  # declared
    hashtags: list[str]  # measured: what their live videos are tagged with most
    declared_followers: int | None
    followers: int
    avg_views: int
    completion_rate_bp: int
    conversion_90d_bp: int | None
    available: bool
    rating_avg: float | None


@dataclass(frozen=True)
class Match:
    artist: ArtistRow
    score: Score
    booking_state: BookingState | None  # of this artist's live booking for the campaign, if any

    @property
    def fee_fen(self) -> int | None:
        """The artist's rate card price for the whole brief."""
        fee: int | None = self.score.parts[2].facts.get("fee_fen")
        return fee


@dataclass
class MatchPage:
    campaign: Campaign
    total: int  # candidates after filters
    offset: int = 0
    relevance_available: bool = True
    items: list[Match] = field(default_factory=list)
    next_offset: int | None = None


def brief_of(campaign: Campaign) -> Brief:
    """The brief as the scorer reads it: the campaign's fields of the same names."""
    return Brief(**{f.name: getattr(campaign, f.name) for f in dataclasses.fields(Brief)})


def _check_filters(f: MatchFilters) -> None:
    if f.category is not None and categories.get(f.category) is None:
        raise ValidationFailed.one("query.category", "unknown_category_code")
    if f.follower_band is not None and f.follower_band not in FOLLOWER_BANDS:
        raise ValidationFailed.one("query.follower_band", "enum")
    if f.price_band is not None and f.price_band not in PRICE_BANDS:
        raise ValidationFailed.one("query.price_band", "enum")
    # The API's query model bounds these too, but the match page builds its filters from the raw query string: past
    # a BIGINT, PostgreSQL refuses the comparison (a 500)
    bounds = {"min_gmv_90d_fen": (0, INT64_MAX), "min_conversion_bp": (0, BP_WHOLE), "min_completion_bp": (0, BP_WHOLE),
              "min_rating": (1, 5)}  # fmt: skip
    for name, (low, high) in bounds.items():
        value = getattr(f, name)
        if value is not None and not low <= value <= high:  # NaN is neither
            raise ValidationFailed.one(f"query.{name}", "less_than_equal" if value > high else "greater_than_equal")


def _in_band(value: int | None, band: tuple[int, int | None]) -> bool:
    low, high = band
    return value is not None and value >= low and (high is None or value < high)


P, M = ArtistProfile, ArtistMetrics
# Plain columns, not ORM entities: building thousands of objects would cost more than the ranking itself.
_COLUMNS = (
    User.id, User.display_name,
    P.categories, P.region, P.declared_followers, P.accepting_bookings, P.unavailable_until,
    ArtistRate.price_fen,
    M.categories.label("m_categories"), M.audience, M.followers, M.avg_views, M.completion_rate_bp,
    M.gmv_90d_fen, M.orders_90d, M.product_clicks_90d, M.conversion_90d_bp, M.bookings_done, M.bookings_on_time,
    M.rating_count, M.rating_sum,
)  # fmt: skip


def load_artists(
    session: Session,
    *,
    tier: LengthTier,
    exclude_brand_id: int | None = None,
    f: MatchFilters | None = None,
    with_tags: bool = False,
) -> list[ArtistRow]:
    """Every active artist with their profile, metrics and rate for `tier`, narrowed by the SQL-friendly filters.

    Tags, and the hashtags their videos carry, are loaded when `with_tags` is set (similarity compares them;
    a ranking fetches tags for the page it shows only).
    """
    f = f or MatchFilters()
    now = clock.now()
    tag_columns = (P.tags, M.hashtags) if with_tags else ()
    stmt = (
        select(*_COLUMNS, *tag_columns)
        .outerjoin(P, P.user_id == User.id)
        .outerjoin(M, M.artist_id == User.id)
        .outerjoin(ArtistRate, and_(ArtistRate.artist_id == User.id, ArtistRate.tier == tier))
        .where(User.is_artist, User.is_active)
    )
    if exclude_brand_id is not None:
        members = select(BrandMember.user_id).where(BrandMember.brand_id == exclude_brand_id)
        stmt = stmt.where(User.id.not_in(members))
    if f.follower_band:
        low, high = FOLLOWER_BANDS[f.follower_band]
        stmt = stmt.where(func.coalesce(M.followers, 0) >= low)
        if high is not None:
            stmt = stmt.where(func.coalesce(M.followers, 0) < high)
    if f.min_gmv_90d_fen is not None:
        stmt = stmt.where(M.gmv_90d_fen >= f.min_gmv_90d_fen)
    if f.min_conversion_bp is not None:
        stmt = stmt.where(M.conversion_90d_bp >= f.min_conversion_bp)
    if f.min_completion_bp is not None:
        stmt = stmt.where(M.completion_rate_bp >= f.min_completion_bp)
    if f.min_rating is not None:
        stmt = stmt.where(M.rating_count > 0, M.rating_sum >= f.min_rating * M.rating_count)
    if f.region:
        stmt = stmt.where(P.region == f.region)
    if f.q:
        stmt = stmt.where(User.display_name.icontains(f.q, autoescape=True))
    available = func.coalesce(P.accepting_bookings, True) & (
        P.unavailable_until.is_(None) | (P.unavailable_until <= now)
    )
    if f.available_only:
        stmt = stmt.where(available)
    rows = []
    for r in session.execute(stmt):
        candidate = Candidate(
            artist_id=r.id,
            rate_fen=r.price_fen,
            declared_categories=r.categories or [],
            categories_bp=r.m_categories or {},
            audience=r.audience or {},
            gmv_90d_fen=r.gmv_90d_fen or 0,
            orders_90d=r.orders_90d or 0,
            product_clicks_90d=r.product_clicks_90d or 0,
            bookings_done=r.bookings_done or 0,
            bookings_on_time=r.bookings_on_time or 0,
            rating_count=r.rating_count or 0,
            rating_sum=r.rating_sum or 0,
        )
        is_available = r.accepting_bookings is not False and (r.unavailable_until is None or r.unavailable_until <= now)
        rows.append(
            ArtistRow(
                candidate=candidate,
                name=r.display_name,
                region=r.region,
                tags=(r.tags or []) if with_tags else [],
                hashtags=(r.hashtags or []) if with_tags else [],
                declared_followers=r.declared_followers,
                followers=r.followers or 0,
                avg_views=r.avg_views or 0,
                completion_rate_bp=r.completion_rate_bp or 0,
                conversion_90d_bp=r.conversion_90d_bp,
                available=is_available,
                rating_avg=r.rating_sum / r.rating_count if r.rating_count else None,
            )
        )
    return rows


def _category_ok(row: ArtistRow, code: str) -> bool:
    codes = [*row.candidate.declared_categories, *row.candidate.categories_bp]
    return any(scoring.category_affinity(c, code) >= 0.75 for c in codes)


def reference(session: Session) -> Reference:
    """The platform's yardsticks: a strong seller's 90-day GMV and the average conversion."""
    sellers = session.scalar(select(func.count()).where(ArtistMetrics.gmv_90d_fen > 0)) or 0
    p90 = None
    if sellers:
        p90 = session.scalar(
            select(ArtistMetrics.gmv_90d_fen)
            .where(ArtistMetrics.gmv_90d_fen > 0)
            .order_by(ArtistMetrics.gmv_90d_fen.desc())
            .offset(sellers // 10)
            .limit(1)
        )
    orders, clicks = session.execute(
        select(
            func.coalesce(func.sum(ArtistMetrics.orders_90d), 0),
            func.coalesce(func.sum(ArtistMetrics.product_clicks_90d), 0),
        )
    ).one()
    default = Reference()
    return Reference(
        gmv_90d_fen=max(int(p90 or 0), default.gmv_90d_fen),
        conversion=int(orders) / int(clicks) if clicks else default.conversion,
    )


def _live_bookings(session: Session, campaign_id: int) -> dict[int, BookingState]:
    rows = session.execute(
        select(Booking.artist_id, Booking.state).where(
            Booking.campaign_id == campaign_id, Booking.state.not_in(CLOSED_STATES)
        )
    )
    return {artist_id: state for artist_id, state in rows}


@dataclass(frozen=True)
class Ranked:
    """Every candidate in order, scored as numbers; `scores` builds the explained scores of a window of them."""

    order: list[tuple[ArtistRow, int, int]]  # (row, total, sales points)
    brief: Brief
    reference: Reference
    relevance: Mapping[int, float]

    def scores(self, start: int, stop: int) -> list[tuple[ArtistRow, Score]]:
        return [
            (row, scoring.score(row.candidate, self.brief, self.reference, self.relevance.get(row.candidate.artist_id)))
            for row, _, _ in self.order[start:stop]
        ]


def rank_rows(
    rows: Sequence[ArtistRow], brief: Brief, ref: Reference, relevance: Mapping[int, float] | None = None
) -> Ranked:
    """Order by total score; ties go to stronger measured sales, then the older account."""
    relevance = relevance or {}
    order = [(row, *scoring.totals(row.candidate, brief, ref, relevance.get(row.candidate.artist_id))) for row in rows]
    order.sort(key=lambda t: (-t[1], -t[2], t[0].candidate.artist_id))
    return Ranked(order, brief, ref, relevance)


def rank(
    session: Session,
    actor: User | None,
    campaign_id: int,
    filters: MatchFilters | None = None,
    *,
    offset: int = 0,
    limit: int = 20,
    engine: SearchEngine | None = None,
) -> MatchPage:
    """The campaign's brand sees artists ranked for it, best first, each with the score's breakdown.

    `engine` answers the content-relevance query; without one (or when it is down) that share of the
    content part counts 0 for everyone and the page says so (`relevance_available`).
    """
    campaign = campaigns.for_member(session, actor, campaign_id)
    f = filters or MatchFilters()
    _check_filters(f)
    relevance = content_relevance(session, engine, campaign) if engine is not None else None
    rows = load_artists(session, tier=campaign.length_tier, exclude_brand_id=campaign.brand_id, f=f)
    if f.category:
        rows = [r for r in rows if _category_ok(r, f.category)]
    if f.price_band:
        band = PRICE_BANDS[f.price_band]
        rows = [
            r
            for r in rows
            if r.candidate.rate_fen is not None and _in_band(r.candidate.rate_fen * campaign.videos_count, band)
        ]
    ranked = rank_rows(rows, brief_of(campaign), reference(session), relevance)
    live = _live_bookings(session, campaign.id)
    total = len(ranked.order)
    page = MatchPage(campaign=campaign, total=total, offset=offset, relevance_available=relevance is not None)
    window = ranked.scores(offset, offset + limit)
    tags = dict(
        session.execute(
            select(P.user_id, P.tags).where(P.user_id.in_([row.candidate.artist_id for row, _ in window]))
        ).all()
    )
    page.items = [
        Match(dataclasses.replace(row, tags=tags.get(row.candidate.artist_id) or []), s,
              live.get(row.candidate.artist_id))
        for row, s in window
    ]  # fmt: skip
    page.next_offset = offset + limit if offset + limit < total else None
    return page


# -- similar artists ----------------------------------------------------------------------------------------

SIMILAR_MAX = {"category": 400, "content": 200, "audience": 200, "price": 100, "reach": 100}


def _cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    dot = sum(v * b.get(k, 0.0) for k, v in a.items())
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb) if na and nb else 0.0


def _category_vector(row: ArtistRow) -> dict[str, float]:
    """Measured shares by top-level category, with declared categories as a light prior."""
    vec: dict[str, float] = {}
    for code, bp in row.candidate.categories_bp.items():
        root = code.split(".")[0]
        vec[root] = vec.get(root, 0.0) + bp / 10_000
    for code in row.candidate.declared_categories:
        root = code.split(".")[0]
        vec[root] = vec.get(root, 0.0) + 0.5
    return vec


def _audience_similarity(a: Mapping[str, Any], b: Mapping[str, Any]) -> float | None:
    """1 − total variation distance, averaged over the dimensions both artists have measured."""
    sims = []
    for dim in ("interests", "regions", "ages"):
        sa, sb = a.get(dim) or {}, b.get(dim) or {}
        if sa and sb:
            keys = set(sa) | set(sb)
            sims.append(1 - sum(abs(sa.get(k, 0) - sb.get(k, 0)) for k in keys) / 20_000)
    return sum(sims) / len(sims) if sims else None


def _log_closeness(a: int | None, b: int | None, span: float) -> float:
    if not a or not b:
        return 0.0
    return max(0.0, 1 - abs(math.log(a / b)) / math.log(span))


@dataclass(frozen=True)
class Similar:
    artist: ArtistRow
    parts: dict[str, int]  # tenths, adding up to `total`

    @property
    def total(self) -> int:
        return sum(self.parts.values())


def similarity(a: ArtistRow, b: ArtistRow) -> dict[str, int]:
    tags_a, tags_b = {*a.tags, *a.hashtags}, {*b.tags, *b.hashtags}
    jaccard = len(tags_a & tags_b) / len(tags_a | tags_b) if tags_a | tags_b else 0.0
    aud = _audience_similarity(a.candidate.audience, b.candidate.audience)
    fractions = {
        "category": _cosine(_category_vector(a), _category_vector(b)),
        "content": jaccard,
        "audience": 0.0 if aud is None else aud,
        "price": _log_closeness(a.candidate.rate_fen, b.candidate.rate_fen, 4.0),
        "reach": _log_closeness(a.followers + 1, b.followers + 1, 100.0),
    }
    return {k: round(max(0.0, min(1.0, v)) * SIMILAR_MAX[k]) for k, v in fractions.items()}


def similar(session: Session, artist_id: int, *, limit: int = 10) -> list[Similar]:
    """Artists most like this one: same categories, overlapping tags, audiences alike, similar price and reach."""
    rows = load_artists(session, tier=LengthTier.UP_TO_60S, f=MatchFilters(available_only=False), with_tags=True)
    me = next((r for r in rows if r.candidate.artist_id == artist_id), None)
    if me is None:
        raise NotFound("artist")
    found = [Similar(r, similarity(me, r)) for r in rows if r.candidate.artist_id != artist_id]
    found.sort(key=lambda s: (-s.total, s.artist.candidate.artist_id))
    return [s for s in found[:limit] if s.total > 0]

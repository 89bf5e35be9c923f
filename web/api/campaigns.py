"""Campaign briefs, the ranked matching list for a brief, invitations and applications."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field

from commerce.booking import bookings, campaigns
from commerce.booking.campaigns import CampaignSpec
from commerce.booking.models import Campaign, CampaignStatus
from commerce.booking.policy import BookingPolicy
from commerce.matching import service as matching
from commerce.matching.explain import explain, label
from core import extensions
from web.api.blueprint import bp
from web.api.bookings import BookingOut, booking_out
from web.api.endpoint import ApiModel, OutModel, QueryModel, endpoint
from web.auth import current_user, require_current_user
from web.i18n import get_locale

TAGS = ["campaigns"]
Tier = Literal["s20", "s60", "s60plus"]
Status = Literal["draft", "open", "closed"]


def policy() -> BookingPolicy:
    return BookingPolicy.from_settings(extensions.settings())


class CampaignIn(ApiModel):
    title: str = Field(min_length=1, max_length=120)
    brief: str = Field(default="", max_length=5000, description="What the video should say and show")
    category: str = Field(max_length=40, description="A category code (leaf or top level)")
    product_ids: list[int] = Field(default_factory=list, max_length=6, description="The brand's products to promote")
    audience_interests: list[str] = Field(default_factory=list, max_length=40, description="Category codes")
    audience_regions: list[str] = Field(default_factory=list, max_length=40, description="Province codes (CN-GD)")
    audience_ages: list[str] = Field(default_factory=list, max_length=5, description="Age bands (18-23, …)")
    budget_min_fen: int = Field(description="The fee for the whole deliverable, lower end")
    budget_max_fen: int
    videos_count: int = 1
    length_tier: Tier = "s60"
    min_duration_s: int | None = Field(default=None, description="The draft's shortest length in seconds")
    max_duration_s: int | None = Field(
        default=None, description="The draft's longest length in seconds (default: the length tier's bound)"
    )
    deadline: dt.datetime = Field(description="Drafts are due by then (with a time zone)")
    must_hashtags: list[str] = Field(default_factory=list, max_length=10)
    must_link_products: bool = True
    max_revisions: int | None = Field(default=None, description="Revision rounds (0–5); default from the platform")
    status: Status = "draft"


NULLABLE = frozenset({"max_revisions", "min_duration_s", "max_duration_s"})  # a PATCH may set these to null


class CampaignPatch(ApiModel):
    """Only the fields sent change."""

    title: str | None = Field(default=None, min_length=1, max_length=120)
    brief: str | None = Field(default=None, max_length=5000)
    category: str | None = Field(default=None, max_length=40)
    product_ids: list[int] | None = Field(default=None, max_length=6)
    audience_interests: list[str] | None = Field(default=None, max_length=40)
    audience_regions: list[str] | None = Field(default=None, max_length=40)
    audience_ages: list[str] | None = Field(default=None, max_length=5)
    budget_min_fen: int | None = None
    budget_max_fen: int | None = None
    videos_count: int | None = None
    length_tier: Tier | None = None
    min_duration_s: int | None = Field(default=None, description="null clears it")
    max_duration_s: int | None = Field(default=None, description="null clears it")
    deadline: dt.datetime | None = None
    must_hashtags: list[str] | None = Field(default=None, max_length=10)
    must_link_products: bool | None = None
    max_revisions: int | None = None
    status: Status | None = None


class CampaignOut(OutModel):
    id: int
    brand_id: int
    brand_name: str
    title: str
    brief: str
    category: str
    product_ids: list[int]
    audience_interests: list[str]
    audience_regions: list[str]
    audience_ages: list[str]
    budget_min_fen: int
    budget_max_fen: int
    videos_count: int
    length_tier: str
    min_duration_s: int | None
    max_duration_s: int | None
    deadline: dt.datetime
    must_hashtags: list[str]
    must_link_products: bool
    max_revisions: int
    status: CampaignStatus
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, c: Campaign) -> CampaignOut:
        fields = {name: getattr(c, name) for name in cls.model_fields if name not in ("brand_name", "length_tier")}
        return cls(**fields, brand_name=c.brand.name, length_tier=c.length_tier.value)


class CampaignPage(OutModel):
    items: list[CampaignOut]
    next_cursor: str | None


class ListQuery(QueryModel):
    cursor: str | None = None
    limit: int = Field(default=20, ge=1, le=100)


class BrandCampaignsQuery(ListQuery):
    status: Status | None = None


class OpenCampaignsQuery(ListQuery):
    category: str | None = Field(default=None, max_length=40)


class MatchQuery(QueryModel):
    category: str | None = Field(default=None, max_length=40)
    follower_band: Literal["lt10k", "10k-100k", "100k-1m", "1m+"] | None = None
    price_band: Literal["lt1k", "1k-5k", "5k-20k", "20k-100k", "100k+"] | None = Field(
        default=None, description="band of the artist's rate-card fee for the whole brief"
    )
    min_gmv_90d_fen: int | None = Field(default=None, ge=0)
    min_conversion_bp: int | None = Field(default=None, ge=0, le=10_000)
    min_completion_bp: int | None = Field(default=None, ge=0, le=10_000)
    min_rating: float | None = Field(default=None, ge=1, le=5)
    region: str | None = Field(default=None, max_length=16, description="where the artist is based")
    available_only: bool = True
    q: str | None = Field(default=None, max_length=64, description="words in the artist's name")
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=20, ge=1, le=100)


class ScorePartOut(OutModel):
    key: Literal["content", "audience", "price", "sales", "reliability"]
    label: str
    points: float
    max_points: float
    explanation: str
    facts: dict[str, Any]


class MatchArtistOut(OutModel):
    id: int
    name: str
    region: str | None
    tags: list[str]
    followers: int = Field(description="measured")
    avg_views: int = Field(description="measured")
    completion_rate_bp: int = Field(description="measured")
    gmv_90d_fen: int = Field(description="measured: attributed orders, last 90 days")
    conversion_90d_bp: int | None = Field(description="measured: attributed orders per product click")
    rating_avg: float | None = Field(description="measured: brands' ratings of finished bookings")
    declared_followers: int | None = Field(description="self-declared by the artist, not verified, not ranked on")
    available: bool


class MatchOut(OutModel):
    rank: int
    artist: MatchArtistOut
    score: float = Field(description="the sum of the parts' points (out of 100)")
    parts: list[ScorePartOut]
    fee_fen: int | None = Field(description="the artist's rate-card fee for the whole brief")
    booking_state: str | None = Field(description="this artist's live booking for the campaign, if any")


class MatchPageOut(OutModel):
    campaign_id: int
    total: int
    relevance_available: bool = Field(description="false when the search engine could not score content relevance")
    items: list[MatchOut]
    next_offset: int | None


class InviteIn(ApiModel):
    artist_id: int
    fee_fen: int | None = Field(default=None, description="default: the artist's rate card price for the brief")
    message: str = Field(default="", max_length=2000)


class ApplyIn(ApiModel):
    fee_fen: int | None = Field(default=None, description="default: your rate card price for the brief")
    message: str = Field(default="", max_length=2000)


def match_page_out(page: matching.MatchPage) -> MatchPageOut:
    locale = get_locale()
    items = []
    for i, m in enumerate(page.items):
        a = m.artist
        items.append(
            MatchOut(
                rank=page.offset + i + 1,
                artist=MatchArtistOut(
                    id=a.candidate.artist_id,
                    name=a.name,
                    region=a.region,
                    tags=a.tags,
                    followers=a.followers,
                    avg_views=a.avg_views,
                    completion_rate_bp=a.completion_rate_bp,
                    gmv_90d_fen=a.candidate.gmv_90d_fen,
                    conversion_90d_bp=a.conversion_90d_bp,
                    rating_avg=None if a.rating_avg is None else round(a.rating_avg, 2),
                    declared_followers=a.declared_followers,
                    available=a.available,
                ),
                score=m.score.total / 10,
                parts=[
                    ScorePartOut(
                        key=p.key,
                        label=label(p.key, locale),
                        points=p.points / 10,  # type: ignore[arg-type]
                        max_points=p.max_points / 10,
                        facts=p.facts,
                        explanation=explain(p, locale, category=page.campaign.category),
                    )
                    for p in m.score.parts
                ],
                fee_fen=m.fee_fen,
                booking_state=m.booking_state.value if m.booking_state else None,
            )
        )
    return MatchPageOut(
        campaign_id=page.campaign.id, total=page.total, relevance_available=page.relevance_available, items=items,
        next_offset=page.next_offset,
    )  # fmt: skip


@bp.post("/brands/<int:brand_id>/campaigns")
@endpoint(summary="Write a campaign brief (brand members)", tags=TAGS, body=CampaignIn, response=CampaignOut,
          status=201, auth="required", errors=[403, 422])  # fmt: skip
def create_campaign(brand_id: int, body: CampaignIn) -> CampaignOut:
    spec = CampaignSpec(**body.model_dump())
    return CampaignOut.of(campaigns.create(extensions.session(), current_user(), brand_id, spec, policy=policy()))


@bp.get("/brands/<int:brand_id>/campaigns")
@endpoint(summary="A brand's campaigns, newest first (members)", tags=TAGS, query=BrandCampaignsQuery,
          response=CampaignPage, auth="required", errors=[403])  # fmt: skip
def brand_campaigns(brand_id: int, query: BrandCampaignsQuery) -> CampaignPage:
    status = CampaignStatus(query.status) if query.status else None
    items, cursor = campaigns.list_for_brand(
        extensions.session(), current_user(), brand_id, status=status, cursor=query.cursor, limit=query.limit
    )
    return CampaignPage(items=[CampaignOut.of(c) for c in items], next_cursor=cursor)


@bp.get("/campaigns/open")
@endpoint(summary="Open campaigns artists may apply to, newest first", tags=TAGS, query=OpenCampaignsQuery,
          response=CampaignPage, errors=[422])  # fmt: skip
def open_campaigns(query: OpenCampaignsQuery) -> CampaignPage:
    items, cursor = campaigns.list_open(
        extensions.session(), category=query.category, cursor=query.cursor, limit=query.limit
    )
    return CampaignPage(items=[CampaignOut.of(c) for c in items], next_cursor=cursor)


@bp.get("/campaigns/<int:campaign_id>")
@endpoint(summary="A campaign (drafts only for its brand)", tags=TAGS, response=CampaignOut, auth="optional",
          errors=[404])  # fmt: skip
def get_campaign(campaign_id: int) -> CampaignOut:
    return CampaignOut.of(campaigns.visible(extensions.session(), current_user(), campaign_id))


@bp.patch("/campaigns/<int:campaign_id>")
@endpoint(summary="Edit a brief (brand members); running bookings keep their terms", tags=TAGS, body=CampaignPatch,
          response=CampaignOut, auth="required", errors=[403, 404, 422])  # fmt: skip
def edit_campaign(campaign_id: int, body: CampaignPatch) -> CampaignOut:
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None or k in NULLABLE}
    campaign = campaigns.update(extensions.session(), current_user(), campaign_id, policy=policy(), **changes)
    return CampaignOut.of(campaign)


@bp.get("/campaigns/<int:campaign_id>/matches")
@endpoint(summary="Artists ranked for the brief, each score broken down and explained", tags=TAGS, query=MatchQuery,
          response=MatchPageOut, auth="required", errors=[403, 404, 422])  # fmt: skip
def campaign_matches(campaign_id: int, query: MatchQuery) -> MatchPageOut:
    """Scores add up from five parts: content fit (30), audience fit (20), price fit (15), measured sales (25) and
    reliability (10). Only numbers the platform measured count; self-declared followers are shown, never ranked."""
    filters = matching.MatchFilters(**query.model_dump(exclude={"offset", "limit"}))
    page = matching.rank(
        extensions.session(), current_user(), campaign_id, filters, offset=query.offset, limit=query.limit,
        engine=extensions.extension("search"),
    )  # fmt: skip
    return match_page_out(page)


@bp.post("/campaigns/<int:campaign_id>/invitations")
@endpoint(summary="Invite an artist to a campaign at a fee (brand members)", tags=TAGS, body=InviteIn,
          response=BookingOut, status=201, auth="required", idempotent=True, errors=[403, 404, 409, 422])  # fmt: skip
def invite(campaign_id: int, body: InviteIn) -> BookingOut:
    """The artist has 72 hours to accept, quote another fee or decline."""
    session, user = extensions.session(), require_current_user()
    booking = bookings.invite(
        session, user, campaign_id, body.artist_id, fee_fen=body.fee_fen, message=body.message, policy=policy()
    )
    return booking_out(session, user, booking)


@bp.post("/campaigns/<int:campaign_id>/applications")
@endpoint(summary="Apply to an open campaign at a fee (artists)", tags=TAGS, body=ApplyIn, response=BookingOut,
          status=201, auth="required", idempotent=True, errors=[403, 404, 409, 422])  # fmt: skip
def apply(campaign_id: int, body: ApplyIn) -> BookingOut:
    session, user = extensions.session(), require_current_user()
    booking = bookings.apply(session, user, campaign_id, fee_fen=body.fee_fen, message=body.message, policy=policy())
    return booking_out(session, user, booking)

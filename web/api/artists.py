"""Artist profiles (the artist's own words, labelled, beside what the platform measured), similar artists,
the audience traits viewers may share, and the option lists booking forms need."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field

from commerce.artists import audience, profiles
from commerce.artists.models import AgeBand, ArtistMetrics, ArtistProfile, LengthTier, ViewerTraits
from commerce.artists.regions import REGIONS
from commerce.catalog import categories
from commerce.matching import service as matching
from commerce.matching.explain import label
from core import clock, extensions
from web.api.blueprint import bp
from web.api.endpoint import ApiModel, OutModel, QueryModel, endpoint
from web.auth import current_user, require_current_user
from web.i18n import get_locale

TAGS = ["artists"]
Tier = Literal["s20", "s60", "s60plus"]


class SelfDeclaredOut(OutModel):
    """What the artist says about their reach elsewhere. Not checked, not used for ranking."""

    label: str = Field(description="'自报' / 'self-declared': show it next to these numbers")
    followers: int | None
    avg_views: int | None
    note: str


class AudienceOut(OutModel):
    interests: dict[str, int] = Field(description="category code -> share of the audience's interest (bp)")
    regions: dict[str, int] = Field(description="province code -> share of viewers who shared a region (bp)")
    ages: dict[str, int] = Field(description="age band -> share of viewers who shared an age (bp)")
    sample: dict[str, int] = Field(description="viewers behind each breakdown")


class MetricsOut(OutModel):
    """Measured by the platform; refreshed by a periodic job (`refreshed_at`)."""

    followers: int
    videos: int
    avg_views: int
    completion_rate_bp: int
    engagement_rate_bp: int
    product_clicks_30d: int
    product_clicks_90d: int
    orders_30d: int
    orders_90d: int
    gmv_30d_fen: int
    gmv_90d_fen: int
    conversion_30d_bp: int | None
    conversion_90d_bp: int | None
    bookings_done: int
    bookings_on_time: int
    rating_avg: float | None
    rating_count: int
    categories: dict[str, int]
    audience: AudienceOut
    refreshed_at: dt.datetime

    @classmethod
    def of(cls, m: ArtistMetrics) -> MetricsOut:
        a = m.audience or {}
        return cls(
            **{name: getattr(m, name) for name in cls.model_fields if name not in ("audience", "rating_avg")},
            rating_avg=None if m.rating_avg is None else round(m.rating_avg, 2),
            audience=AudienceOut(
                interests=a.get("interests", {}),
                regions=a.get("regions", {}),
                ages=a.get("ages", {}),
                sample=a.get("sample", {}),
            ),
        )


class ArtistOut(OutModel):
    id: int
    name: str
    bio: str
    categories: list[str]
    tags: list[str]
    region: str | None
    accepting_bookings: bool
    unavailable_until: dt.datetime | None
    available_now: bool
    max_open_bookings: int
    rates: dict[str, int] = Field(description="length tier (s20, s60, s60plus) -> price per video in fen")
    self_declared: SelfDeclaredOut
    measured: MetricsOut | None = Field(description="null until the metrics job has run for this artist")

    @classmethod
    def of(cls, view: profiles.ArtistView) -> ArtistOut:
        p: ArtistProfile = view.profile
        en = get_locale().startswith("en")
        return cls(
            id=view.user.id,
            name=view.user.display_name,
            bio=p.bio,
            categories=list(p.categories),
            tags=list(p.tags),
            region=p.region,
            accepting_bookings=p.accepting_bookings,
            unavailable_until=p.unavailable_until,
            available_now=p.is_available(clock.now()),
            max_open_bookings=p.max_open_bookings,
            rates={r.tier.value: r.price_fen for r in p.rates},
            self_declared=SelfDeclaredOut(
                label="self-declared" if en else "自报",
                followers=p.declared_followers,
                avg_views=p.declared_avg_views,
                note=p.declared_note,
            ),
            measured=MetricsOut.of(view.metrics) if view.metrics else None,
        )


class ProfileIn(ApiModel):
    """Only the fields sent change; null clears an optional one (region, unavailable_until, declared numbers) and
    leaves the others as they are (send [] to clear categories or tags)."""

    bio: str | None = Field(default=None, max_length=2000)
    categories: list[str] | None = Field(default=None, max_length=20)
    tags: list[str] | None = Field(default=None, max_length=30)
    region: str | None = Field(default=None, max_length=16)
    rates: dict[Tier, int | None] | None = Field(default=None, description="tier -> price per video (fen), null drops")
    accepting_bookings: bool | None = None
    unavailable_until: dt.datetime | None = None
    max_open_bookings: int | None = None
    declared_followers: int | None = None
    declared_avg_views: int | None = None
    declared_note: str | None = Field(default=None, max_length=200)


class SimilarPartOut(OutModel):
    key: str
    label: str
    points: float
    max_points: float


class SimilarOut(OutModel):
    artist_id: int
    name: str
    score: float
    parts: list[SimilarPartOut]
    followers: int
    rate_s60_fen: int | None


class SimilarQuery(QueryModel):
    limit: int = Field(default=10, ge=1, le=50)


class TraitsIn(ApiModel):
    age_band: Literal["18-23", "24-30", "31-40", "41-50", "50+"] | None = None
    region: str | None = Field(default=None, max_length=16)


class TraitsOut(OutModel):
    age_band: str | None
    region: str | None
    updated_at: dt.datetime | None

    @classmethod
    def of(cls, t: ViewerTraits | None) -> TraitsOut:
        if t is None:
            return cls(age_band=None, region=None, updated_at=None)
        return cls(age_band=t.age_band.value if t.age_band else None, region=t.region, updated_at=t.updated_at)


class Option(OutModel):
    code: str
    name: str


class OptionsOut(OutModel):
    categories: list[Option]
    regions: list[Option]
    age_bands: list[Option]
    length_tiers: list[Option]
    follower_bands: list[Option]
    price_bands: list[Option]


TIER_NAMES = {"s20": ("1–20 秒", "1–20 s"), "s60": ("21–60 秒", "21–60 s"), "s60plus": ("60 秒以上", "over 60 s")}
FOLLOWER_BAND_NAMES = {
    "lt10k": ("1 万以下", "under 10k"),
    "10k-100k": ("1–10 万", "10k–100k"),
    "100k-1m": ("10–100 万", "100k–1M"),
    "1m+": ("100 万以上", "1M+"),
}
PRICE_BAND_NAMES = {
    "lt1k": ("1 千元以下", "under ¥1k"),
    "1k-5k": ("1 千–5 千元", "¥1k–5k"),
    "5k-20k": ("5 千–2 万元", "¥5k–20k"),
    "20k-100k": ("2 万–10 万元", "¥20k–100k"),
    "100k+": ("10 万元以上", "¥100k+"),
}


def named(pairs: dict[str, tuple[str, str]]) -> list[Option]:
    en = get_locale().startswith("en")
    return [Option(code=k, name=v[1] if en else v[0]) for k, v in pairs.items()]


def options() -> OptionsOut:
    cats: dict[str, tuple[str, str]] = {}
    for root in categories.ROOTS:
        cats[root.code] = (root.name_zh, root.name_en)
        for c in root.children:
            cats[c.code] = (c.path_zh, c.path_en)
    return OptionsOut(
        categories=named(cats),
        regions=named(REGIONS),
        age_bands=named({a.value: (a.value + " 岁", a.value) for a in AgeBand}),
        length_tiers=named(TIER_NAMES),
        follower_bands=named(FOLLOWER_BAND_NAMES),
        price_bands=named(PRICE_BAND_NAMES),
    )


@bp.get("/booking/options")
@endpoint(summary="Codes and names for booking forms", tags=TAGS, response=OptionsOut)
def booking_options() -> OptionsOut:
    """Categories, regions, age bands, video length tiers and the matching page's follower and price bands."""
    return options()


@bp.get("/artists/<int:artist_id>")
@endpoint(summary="An artist's profile: self-declared facts and measured metrics", tags=TAGS, response=ArtistOut,
          errors=[404])  # fmt: skip
def get_artist(artist_id: int) -> ArtistOut:
    return ArtistOut.of(profiles.get_artist(extensions.session(), artist_id))


@bp.get("/me/artist-profile")
@endpoint(summary="The caller's own artist profile", tags=TAGS, response=ArtistOut, auth="required", errors=[404])
def my_profile() -> ArtistOut:
    return ArtistOut.of(profiles.get_artist(extensions.session(), require_current_user().id))


@bp.patch("/me/artist-profile")
@endpoint(summary="Edit the caller's artist profile and rate card", tags=TAGS, body=ProfileIn, response=ArtistOut,
          auth="required", errors=[403, 422])  # fmt: skip
def edit_profile(body: ProfileIn) -> ArtistOut:
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    if "rates" in changes and changes["rates"] is not None:
        changes["rates"] = {LengthTier(k): v for k, v in changes["rates"].items()}
    elif "rates" in changes:
        del changes["rates"]
    session, user = extensions.session(), require_current_user()
    profiles.update_profile(session, user, changes)
    return ArtistOut.of(profiles.get_artist(session, user.id))


@bp.get("/artists/<int:artist_id>/similar")
@endpoint(summary="Artists similar to this one, with why", tags=TAGS, query=SimilarQuery, response=list[SimilarOut],
          errors=[404])  # fmt: skip
def similar_artists(artist_id: int, query: SimilarQuery) -> list[SimilarOut]:
    """Same categories, overlapping tags and hashtags, alike audiences, similar price and reach (100 points)."""
    locale = get_locale()
    found = matching.similar(extensions.session(), artist_id, limit=query.limit)
    return [
        SimilarOut(
            artist_id=s.artist.candidate.artist_id,
            name=s.artist.name,
            score=s.total / 10,
            parts=[
                SimilarPartOut(key=k, label=label(k, locale), points=v / 10, max_points=matching.SIMILAR_MAX[k] / 10)
                for k, v in s.parts.items()
            ],
            followers=s.artist.followers,
            rate_s60_fen=s.artist.candidate.rate_fen,
        )
        for s in found
    ]


@bp.get("/me/audience-traits")
@endpoint(summary="The age band and region you share with artists you watch", tags=TAGS, response=TraitsOut,
          auth="required")  # fmt: skip
def my_traits() -> TraitsOut:
    return TraitsOut.of(audience.get_traits(extensions.session(), current_user()))


@bp.put("/me/audience-traits")
@endpoint(summary="Share your age band and region (opt-in)", tags=TAGS, body=TraitsIn, response=TraitsOut,
          auth="required", errors=[422])  # fmt: skip
def share_traits(body: TraitsIn) -> TraitsOut:
    """Only ever shown aggregated: as shares of an artist's audience, with the sample size."""
    t = audience.share_traits(extensions.session(), current_user(), age_band=body.age_band, region=body.region)
    return TraitsOut.of(t)


@bp.delete("/me/audience-traits")
@endpoint(summary="Stop sharing your age band and region", tags=TAGS, status=204, auth="required")
def withdraw_traits() -> tuple[None, int]:
    audience.withdraw_traits(extensions.session(), current_user())
    return None, 204

"""The match score: five explained parts that add up to the total, from precomputed numbers only.

Points are kept in tenths (integers) so the parts add up to the total exactly;
100.0 points is a perfect match. Every part carries the facts that produced it,
which the API and the matching page turn into sentences. Self-declared numbers
are never an input: an artist gains nothing by claiming followers.

| part        | max | from |
|-------------|-----|------|
| content     | 30  | categories of products linked in their videos, declared categories, search relevance |
| audience    | 20  | measured audience against the brief's target, shrunk toward chance on small samples |
| price       | 15  | rate card for the brief's length × number of videos, against the budget |
| sales       | 25  | GMV and conversion of orders attributed to them (90 days) |
| reliability | 10  | on-time delivery and brand ratings of finished bookings, shrunk toward a prior |
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from commerce.artists.models import AgeBand
from commerce.artists.regions import REGIONS
from commerce.catalog import categories

MAX = {"content": 300, "audience": 200, "price": 150, "sales": 250, "reliability": 100}
PARTS = tuple(MAX)

AUDIENCE_PSEUDO_VIEWERS = 30  # a measured share is trusted like this many viewers at the chance share
RELIABILITY_PRIOR_ON_TIME = 0.8
RELIABILITY_PRIOR_STARS = 4.0
RELIABILITY_PSEUDO_BOOKINGS = 3
CONVERSION_PSEUDO_CLICKS = 20
OVER_BUDGET_SLACK = 0.5  # the price part reaches 0 at 150 % of the budget's maximum


@dataclass(frozen=True)
class Brief:
    """What a campaign asks for, as the scorer needs it."""

    category: str
    audience_interests: Sequence[str] = ()
    audience_regions: Sequence[str] = ()
    audience_ages: Sequence[str] = ()
    budget_min_fen: int = 0
    budget_max_fen: int = 0
    videos_count: int = 1


@dataclass(frozen=True)
class Candidate:
    """One artist's precomputed numbers (an `ArtistMetrics` row, their profile and the rate for the brief's tier)."""

    artist_id: int
    rate_fen: int | None = None
    declared_categories: Sequence[str] = ()
    categories_bp: Mapping[str, int] = field(default_factory=dict)
    audience: Mapping[str, Any] = field(default_factory=dict)
    gmv_90d_fen: int = 0
    orders_90d: int = 0
    product_clicks_90d: int = 0
    bookings_done: int = 0
    bookings_on_time: int = 0
    rating_count: int = 0
    rating_sum: int = 0
    relevance: float = 0.0  # 0–1: how well their videos answer the brief's words in the search index


@dataclass(frozen=True)
class Reference:
    """Platform-wide yardsticks, computed once per ranking."""

    gmv_90d_fen: int = 100_000  # a strong seller's GMV (the 90th percentile among sellers)
    conversion: float = 0.02  # orders per product click, platform-wide


@dataclass(frozen=True)
class Part:
    key: str
    points: int  # tenths
    max_points: int
    facts: dict[str, Any]


@dataclass(frozen=True)
class Score:
    artist_id: int
    parts: tuple[Part, ...]

    @property
    def total(self) -> int:
        return sum(p.points for p in self.parts)


def _tenths(fraction: float, part: str) -> int:
    return round(max(0.0, min(1.0, fraction)) * MAX[part])


def category_affinity(code: str, target: str) -> float:
    """1 when `code` is the target or inside it, 0.5 in the same top-level category, else 0."""
    if code == target or code.startswith(target + "."):
        return 1.0
    if target.startswith(code + "."):  # an artist declaring all of beauty fits a skincare brief, a bit less
        return 0.75
    return 0.5 if code.split(".", maxsplit=1)[0] == target.split(".", maxsplit=1)[0] else 0.0


def content(c: Candidate, b: Brief) -> Part:
    linked = sum(bp * category_affinity(code, b.category) for code, bp in c.categories_bp.items()) / 10_000
    declared = max((category_affinity(code, b.category) for code in c.declared_categories), default=0.0)
    fraction = 0.5 * linked + 0.2 * declared + 0.3 * c.relevance
    return Part(
        "content",
        _tenths(fraction, "content"),
        MAX["content"],
        {"linked_share_pct": round(linked * 100), "declared": declared > 0, "relevance_pct": round(c.relevance * 100)},
    )


def _chance(dimension: str, targets: Sequence[str]) -> float:
    universe = {
        "interests": len(categories.ROOTS),
        "regions": len(REGIONS),
        "ages": len(AgeBand),
    }[dimension]
    return min(1.0, len(targets) / universe)


def _audience_share(shares: Mapping[str, int], dimension: str, targets: Sequence[str]) -> float:
    if dimension != "interests":
        return sum(shares.get(t, 0) for t in targets) / 10_000
    roots = {t.split(".")[0] for t in targets}
    return sum(bp for code, bp in shares.items() if code.split(".")[0] in roots) / 10_000


def audience(c: Candidate, b: Brief) -> Part:
    wanted = {"interests": b.audience_interests, "regions": b.audience_regions, "ages": b.audience_ages}
    wanted = {d: list(t) for d, t in wanted.items() if t}
    if not wanted:
        return Part("audience", MAX["audience"], MAX["audience"], {"targeted": False})
    samples = c.audience.get("sample", {})
    fits, facts = [], {"targeted": True}
    for dimension, targets in wanted.items():
        n = int(samples.get(dimension, 0))
        measured = _audience_share(c.audience.get(dimension, {}), dimension, targets) if n else 0.0
        chance = _chance(dimension, targets)
        k = AUDIENCE_PSEUDO_VIEWERS
        fits.append((n * measured + k * chance) / (n + k))
        facts[f"{dimension}_pct"] = round(measured * 100)
        facts[f"{dimension}_sample"] = n
    return Part("audience", _tenths(sum(fits) / len(fits), "audience"), MAX["audience"], facts)


def price(c: Candidate, b: Brief) -> Part:
    if c.rate_fen is None:
        return Part("price", 0, MAX["price"], {"fee_fen": None})
    fee = c.rate_fen * b.videos_count
    facts = {"fee_fen": fee, "budget_min_fen": b.budget_min_fen, "budget_max_fen": b.budget_max_fen}
    if fee <= b.budget_max_fen:
        return Part("price", MAX["price"], MAX["price"], {**facts, "within": True})
    over = (fee - b.budget_max_fen) / (OVER_BUDGET_SLACK * b.budget_max_fen)
    return Part("price", _tenths(1 - over, "price"), MAX["price"], {**facts, "within": False})


def sales(c: Candidate, r: Reference) -> Part:
    gmv = math.log1p(c.gmv_90d_fen / 100) / math.log1p(max(r.gmv_90d_fen, 100) / 100)
    # No orders, no credit: conversion is shrunk toward zero, never toward the platform average.
    conversion = c.orders_90d / (c.product_clicks_90d + CONVERSION_PSEUDO_CLICKS)
    conv_score = conversion / (2 * r.conversion) if r.conversion > 0 else 0.0
    fraction = 0.7 * min(1.0, gmv) + 0.3 * min(1.0, conv_score)
    measured_conversion = c.orders_90d / c.product_clicks_90d if c.product_clicks_90d else None
    return Part(
        "sales",
        _tenths(fraction, "sales"),
        MAX["sales"],
        {
            "gmv_90d_fen": c.gmv_90d_fen,
            "orders_90d": c.orders_90d,
            "conversion_pct": None if measured_conversion is None else round(measured_conversion * 100, 1),
        },
    )


def reliability(c: Candidate) -> Part:
    k = RELIABILITY_PSEUDO_BOOKINGS
    on_time = (c.bookings_on_time + k * RELIABILITY_PRIOR_ON_TIME) / (c.bookings_done + k)
    stars = (c.rating_sum + k * RELIABILITY_PRIOR_STARS) / (c.rating_count + k)
    fraction = 0.6 * on_time + 0.4 * stars / 5
    return Part(
        "reliability",
        _tenths(fraction, "reliability"),
        MAX["reliability"],
        {
            "bookings_done": c.bookings_done,
            "on_time_pct": round(c.bookings_on_time / c.bookings_done * 100) if c.bookings_done else None,
            "rating": round(c.rating_sum / c.rating_count, 1) if c.rating_count else None,
        },
    )


def score(c: Candidate, b: Brief, r: Reference) -> Score:
    return Score(c.artist_id, (content(c, b), audience(c, b), price(c, b), sales(c, r), reliability(c)))

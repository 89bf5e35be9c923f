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

import functools
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

    @functools.cached_property
    def targets(self) -> tuple[tuple[str, frozenset[str], float], ...]:
        """(dimension, audience keys that count, the share expected by chance) for each targeted dimension.

        Interests are measured by top-level category, so a leaf target counts its whole top-level category.
        """
        universe = {"interests": len(categories.ROOTS), "regions": len(REGIONS), "ages": len(AgeBand)}
        out = []
        for dimension, wanted in (("interests", self.audience_interests), ("regions", self.audience_regions),
                                  ("ages", self.audience_ages)):  # fmt: skip
            keys = frozenset(t.split(".")[0] for t in wanted) if dimension == "interests" else frozenset(wanted)
            if keys:
                out.append((dimension, keys, min(1.0, len(keys) / universe[dimension])))
        return tuple(out)


@dataclass(frozen=True, slots=True)
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


# Each part's fraction (0–1) comes from one helper, used both by `totals` (every candidate, nothing but numbers,
# so ranking thousands allocates little) and by `score` (the page shown, with the facts that explain each part).


def _linked_declared(c: Candidate, b: Brief) -> tuple[float, float]:
    linked = sum(bp * category_affinity(code, b.category) for code, bp in c.categories_bp.items()) / 10_000
    declared = max((category_affinity(code, b.category) for code in c.declared_categories), default=0.0)
    return linked, declared


def _content_fraction(linked: float, declared: float, relevance: float) -> float:
    return 0.5 * linked + 0.2 * declared + 0.3 * relevance


def _audience_fits(c: Candidate, b: Brief) -> list[tuple[str, float, int, float]]:
    """(dimension, measured share in target, sample, fit shrunk toward chance) per targeted dimension."""
    samples = c.audience.get("sample", {})
    out = []
    for dimension, keys, chance in b.targets:
        n = int(samples.get(dimension, 0))
        shares = c.audience.get(dimension) or {}
        measured = sum(shares.get(k, 0) for k in keys) / 10_000 if n else 0.0
        out.append(
            (dimension, measured, n, (n * measured + AUDIENCE_PSEUDO_VIEWERS * chance) / (n + AUDIENCE_PSEUDO_VIEWERS))
        )
    return out


def _audience_fraction(fits: list[tuple[str, float, int, float]]) -> float:
    return sum(f[3] for f in fits) / len(fits) if fits else 1.0  # no targeting: everybody fits


def _price_fraction(c: Candidate, b: Brief) -> float:
    if c.rate_fen is None:
        return 0.0
    fee = c.rate_fen * b.videos_count
    return 1.0 if fee <= b.budget_max_fen else 1 - (fee - b.budget_max_fen) / (OVER_BUDGET_SLACK * b.budget_max_fen)


def _sales_fraction(c: Candidate, r: Reference) -> float:
    gmv = math.log1p(c.gmv_90d_fen / 100) / math.log1p(max(r.gmv_90d_fen, 100) / 100)
    # No orders, no credit: conversion is shrunk toward zero, never toward the platform average.
    conversion = c.orders_90d / (c.product_clicks_90d + CONVERSION_PSEUDO_CLICKS)
    conv_score = conversion / (2 * r.conversion) if r.conversion > 0 else 0.0
    return 0.7 * min(1.0, gmv) + 0.3 * min(1.0, conv_score)


def _reliability_fraction(c: Candidate) -> float:
    k = RELIABILITY_PSEUDO_BOOKINGS
    on_time = (c.bookings_on_time + k * RELIABILITY_PRIOR_ON_TIME) / (c.bookings_done + k)
    stars = (c.rating_sum + k * RELIABILITY_PRIOR_STARS) / (c.rating_count + k)
    return 0.6 * on_time + 0.4 * stars / 5


def totals(c: Candidate, b: Brief, r: Reference, relevance: float | None = None) -> tuple[int, int]:
    """(total, sales points) in tenths: exactly what `score` adds up, without building its parts."""
    linked, declared = _linked_declared(c, b)
    sales_points = _tenths(_sales_fraction(c, r), "sales")
    total = (
        _tenths(_content_fraction(linked, declared, c.relevance if relevance is None else relevance), "content")
        + _tenths(_audience_fraction(_audience_fits(c, b)), "audience")
        + _tenths(_price_fraction(c, b), "price")
        + sales_points
        + _tenths(_reliability_fraction(c), "reliability")
    )
    return total, sales_points


def content(c: Candidate, b: Brief, relevance: float | None = None) -> Part:
    linked, declared = _linked_declared(c, b)
    rel = c.relevance if relevance is None else relevance
    return Part(
        "content",
        _tenths(_content_fraction(linked, declared, rel), "content"),
        MAX["content"],
        {"linked_share_pct": round(linked * 100), "declared": declared > 0, "relevance_pct": round(rel * 100)},
    )


def audience(c: Candidate, b: Brief) -> Part:
    fits = _audience_fits(c, b)
    facts: dict[str, Any] = {"targeted": bool(fits)}
    for dimension, measured, n, _fit in fits:
        facts[f"{dimension}_pct"] = round(measured * 100)
        facts[f"{dimension}_sample"] = n
    return Part("audience", _tenths(_audience_fraction(fits), "audience"), MAX["audience"], facts)


def price(c: Candidate, b: Brief) -> Part:
    points = _tenths(_price_fraction(c, b), "price")
    if c.rate_fen is None:
        return Part("price", points, MAX["price"], {"fee_fen": None})
    fee = c.rate_fen * b.videos_count
    facts = {"fee_fen": fee, "budget_min_fen": b.budget_min_fen, "budget_max_fen": b.budget_max_fen,
             "within": fee <= b.budget_max_fen}  # fmt: skip
    return Part("price", points, MAX["price"], facts)


def sales(c: Candidate, r: Reference) -> Part:
    measured_conversion = c.orders_90d / c.product_clicks_90d if c.product_clicks_90d else None
    return Part(
        "sales",
        _tenths(_sales_fraction(c, r), "sales"),
        MAX["sales"],
        {
            "gmv_90d_fen": c.gmv_90d_fen,
            "orders_90d": c.orders_90d,
            "conversion_pct": None if measured_conversion is None else round(measured_conversion * 100, 1),
        },
    )


def reliability(c: Candidate) -> Part:
    return Part(
        "reliability",
        _tenths(_reliability_fraction(c), "reliability"),
        MAX["reliability"],
        {
            "bookings_done": c.bookings_done,
            "on_time_pct": round(c.bookings_on_time / c.bookings_done * 100) if c.bookings_done else None,
            "rating": round(c.rating_sum / c.rating_count, 1) if c.rating_count else None,
        },
    )


def score(c: Candidate, b: Brief, r: Reference, relevance: float | None = None) -> Score:
    """`relevance` (0–1, from the search index) overrides the candidate's own when given."""
    return Score(c.artist_id, (content(c, b, relevance), audience(c, b), price(c, b), sales(c, r), reliability(c)))

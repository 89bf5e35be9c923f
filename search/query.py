"""The neutral request and response model of the engine interface.

Callers describe what they want (filters, a text match, sort, facets,
highlight, ranking functions); each backend compiles it. Ranking functions
follow Elasticsearch's `function_score` semantics exactly (score_mode "sum"),
so both backends return the same scores for the same documents.
"""

from __future__ import annotations

import datetime as dt
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

# ---------------------------------------------------------------- filters


@dataclass(frozen=True)
class Term:
    field: str
    value: Any


@dataclass(frozen=True)
class Terms:
    field: str
    values: tuple[Any, ...]

    def __init__(self, field: str, values: Sequence[Any]) -> None:
        object.__setattr__(self, "field", field)
        object.__setattr__(self, "values", tuple(values))


@dataclass(frozen=True)
class Range:
    field: str
    gte: Any = None
    gt: Any = None
    lte: Any = None
    lt: Any = None


@dataclass(frozen=True)
class Ids:
    values: tuple[str, ...]

    def __init__(self, values: Sequence[str]) -> None:
        object.__setattr__(self, "values", tuple(str(v) for v in values))


@dataclass(frozen=True)
class Exists:
    field: str


@dataclass(frozen=True)
class Not:
    filter: Filter


@dataclass(frozen=True)
class AnyOf:
    filters: tuple[Filter, ...]

    def __init__(self, *filters: Filter) -> None:
        object.__setattr__(self, "filters", tuple(filters))


@dataclass(frozen=True)
class AllOf:
    filters: tuple[Filter, ...]

    def __init__(self, *filters: Filter) -> None:
        object.__setattr__(self, "filters", tuple(filters))


Filter = Term | Terms | Range | Ids | Exists | Not | AnyOf | AllOf

# ---------------------------------------------------------------- text


@dataclass(frozen=True)
class Match:
    """Full-text match of `text` over text fields, each with a boost; the best field wins (plus a tie breaker)."""

    text: str
    fields: tuple[tuple[str, float], ...]
    operator: Literal["or", "and"] = "or"

    def __init__(self, text: str, fields: Mapping[str, float] | Sequence[str], operator: Literal["or", "and"] = "or"):
        pairs = tuple(fields.items()) if isinstance(fields, Mapping) else tuple((f, 1.0) for f in fields)
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "fields", pairs)
        object.__setattr__(self, "operator", operator)


TIE_BREAKER = 0.3

# ---------------------------------------------------------------- ranking


@dataclass(frozen=True)
class FieldFactor:
    """weight * modifier(factor * value); `missing` stands in for documents without the field."""

    field: str
    factor: float = 1.0
    modifier: Literal["none", "ln1p", "sqrt"] = "none"
    missing: float = 0.0
    weight: float = 1.0

    def value(self, raw: float | None) -> float:
        x = self.factor * (self.missing if raw is None else float(raw))
        if self.modifier == "ln1p":
            x = math.log1p(max(x, 0.0))
        elif self.modifier == "sqrt":
            x = math.sqrt(max(x, 0.0))
        return self.weight * x


@dataclass(frozen=True)
class Decay:
    """weight * decay(distance from origin): 1 at the origin (within `offset`), `decay` at `offset + scale`."""

    field: str
    origin: dt.datetime | float
    scale: dt.timedelta | float
    offset: dt.timedelta | float = 0.0
    decay: float = 0.5
    function: Literal["gauss", "exp", "linear"] = "gauss"
    weight: float = 1.0

    def numeric(self) -> tuple[float, float, float]:
        """origin, scale and offset in the field's numeric unit (epoch milliseconds for dates)."""

        def num(v: Any) -> float:
            if isinstance(v, dt.datetime):
                return v.timestamp() * 1000
            if isinstance(v, dt.timedelta):
                return v.total_seconds() * 1000
            return float(v)

        return num(self.origin), num(self.scale), num(self.offset)

    def value(self, raw: float | None) -> float:
        if raw is None:  # Elasticsearch scores documents without the field as if at the origin
            return self.weight
        origin, scale, offset = self.numeric()
        distance = max(0.0, abs(float(raw) - origin) - offset)
        if self.function == "gauss":
            sigma_sq = -(scale**2) / (2 * math.log(self.decay))
            v = math.exp(-(distance**2) / (2 * sigma_sq))
        elif self.function == "exp":
            v = math.exp(math.log(self.decay) / scale * distance)
        else:
            s = scale / (1.0 - self.decay)
            v = max(0.0, (s - distance) / s)
        return self.weight * v


@dataclass(frozen=True)
class FilterWeight:
    """Adds `weight` to documents matching `filter`."""

    filter: Filter
    weight: float


RankFunction = FieldFactor | Decay | FilterWeight


@dataclass(frozen=True)
class Ranking:
    """score = sum of functions, then combined with the text score by `boost_mode`."""

    functions: tuple[RankFunction, ...]
    boost_mode: Literal["replace", "multiply", "sum"] = "replace"

    def __init__(self, *functions: RankFunction, boost_mode: Literal["replace", "multiply", "sum"] = "replace"):
        if not any(isinstance(f, FieldFactor | Decay) for f in functions):
            # With only filtered functions a document matching none has no defined score.
            raise ValueError("a ranking needs at least one FieldFactor or Decay function")
        object.__setattr__(self, "functions", tuple(functions))
        object.__setattr__(self, "boost_mode", boost_mode)

    def combine(self, text_score: float, function_sum: float) -> float:
        if self.boost_mode == "replace":
            return function_sum
        if self.boost_mode == "multiply":
            return text_score * function_sum
        return text_score + function_sum


# ---------------------------------------------------------------- sort, facets


SCORE = "_score"


@dataclass(frozen=True)
class SortBy:
    """Sort key: a keyword, number or date field, "id" (the document id) or "_score"."""

    field: str
    descending: bool = True


@dataclass(frozen=True)
class TermsFacet:
    field: str
    size: int = 10


@dataclass(frozen=True)
class RangeBucket:
    key: str
    gte: float | None = None
    lt: float | None = None


@dataclass(frozen=True)
class RangeFacet:
    field: str
    ranges: tuple[RangeBucket, ...]


FacetRequest = TermsFacet | RangeFacet


@dataclass(frozen=True)
class FacetBucket:
    key: str
    count: int


# ---------------------------------------------------------------- request, response


@dataclass(frozen=True)
class SearchRequest:
    """What to find.

    `filters` narrow everything. `facet_filters` (keyed by facet name) narrow the
    hits but each facet is counted without its own filter, so a shopper sees
    the other brands while one brand is selected (Elasticsearch's post_filter).
    Without `sort`, hits come by score, then by id. `search_after` takes the
    `sort` values of the last hit of the previous page.
    """

    match: Match | None = None
    filters: tuple[Filter, ...] = ()
    facet_filters: tuple[tuple[str, Filter], ...] = ()
    facets: tuple[tuple[str, FacetRequest], ...] = ()
    sort: tuple[SortBy, ...] = ()
    ranking: Ranking | None = None
    highlight: tuple[str, ...] = ()
    size: int = 10
    offset: int = 0
    search_after: tuple[Any, ...] | None = None
    with_total: bool = True

    def effective_sort(self) -> tuple[SortBy, ...]:
        """The full sort, always ending in the id so the order is total and cursors are stable."""
        keys = self.sort or (SortBy(SCORE),)
        if keys[-1].field != "id":
            keys = (*keys, SortBy("id", descending=False))
        return keys


@dataclass
class Hit:
    id: str
    score: float | None
    source: dict[str, Any]
    sort: tuple[Any, ...] = ()
    highlight: dict[str, str] = field(default_factory=dict)
    version: int | None = None


@dataclass
class SearchResult:
    hits: list[Hit]
    total: int | None
    facets: dict[str, list[FacetBucket]] = field(default_factory=dict)


@dataclass(frozen=True)
class Suggestion:
    text: str
    id: str
    score: float


# ---------------------------------------------------------------- writes


@dataclass(frozen=True)
class Upsert:
    id: str
    doc: dict[str, Any]
    version: int


@dataclass(frozen=True)
class Delete:
    id: str
    version: int


Action = Upsert | Delete


@dataclass
class BulkResult:
    applied: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # a newer (or the same) version was already there
    errors: dict[str, str] = field(default_factory=dict)  # permanent per-document failures


def newest_per_id(actions: Sequence[Action]) -> tuple[list[Action], list[str]]:
    """Several events for one document in a batch: only the newest version is written, the rest are stale."""
    latest: dict[str, Action] = {}
    stale: list[str] = []
    for action in actions:
        prev = latest.get(action.id)
        if prev is None or action.version > prev.version:
            if prev is not None:
                stale.append(prev.id)
            latest[action.id] = action
        else:
            stale.append(action.id)
    return list(latest.values()), stale


def float32(x: float) -> float:
    """`x` rounded to the nearest 32-bit float: the precision search engines keep scores in."""
    if math.isinf(x) or math.isnan(x):
        return x
    return float(struct.unpack("f", struct.pack("f", x))[0])

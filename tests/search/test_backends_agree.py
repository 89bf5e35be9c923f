"""The service's own requests (feed candidates, video search with facets) give the same answers on both backends."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

import pytest

from search import feed
from search.backends.embedded import EmbeddedEngine
from search.documents import VIDEOS
from search.engine import SearchEngine
from search.query import Upsert
from search.service import video_search_request
from tests.search.conftest import unique_alias

PINNED = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


def corpus() -> list[Upsert]:
    rng = random.Random(5)
    words = ["口红", "连衣裙", "running shoes", "火锅", "耳机", "防晒", "hoodie", "咖啡"]
    docs = []
    for i in range(1, 121):
        word = words[i % len(words)]
        docs.append(
            Upsert(
                str(i),
                {
                    "title": f"{word} 第{i}期 {rng.choice(['推荐', '测评', 'review'])}",
                    "hashtags": [rng.choice(["美妆", "穿搭", "美食", "数码"])],
                    "hashtags_text": "",
                    "creator_id": str(i % 17),
                    "creator_name": f"达人{i % 17}",
                    "creator_since": PINNED - dt.timedelta(days=(i % 17) * 7),
                    "brands": [rng.choice(["花西子", "李宁", "小米"])],
                    "price_bands": [rng.choice(["0-50", "100-300"])],
                    "published_at": PINNED - dt.timedelta(hours=i * 5 + rng.randint(0, 4)),
                    "views": rng.randint(0, 100_000),
                    "engagement": round(rng.uniform(0.01, 0.3), 6),
                    "completion": round(rng.uniform(0.1, 0.9), 6),
                    "popularity": round(rng.uniform(0, 5), 6),
                },
                1,
            )
        )
    return docs


@pytest.fixture(params=["embedded", "elasticsearch"])
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[tuple[SearchEngine, str]]:  # type: ignore[no-untyped-def]
    alias = unique_alias("agree")
    embedded = request.param == "embedded"
    eng: SearchEngine = EmbeddedEngine(tmp_path / "s") if embedded else request.getfixturevalue("osmem_engine")
    eng.create_index(f"{alias}__1", VIDEOS.with_alias(alias))
    eng.point_alias(alias, f"{alias}__1")
    eng.bulk(alias, corpus())
    eng.refresh(alias)
    yield eng, alias
    eng.delete_index(f"{alias}__1")


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[str, float | None]]]:
    """Answers computed on the embedded engine once, which the other backend must reproduce."""
    eng = EmbeddedEngine(tmp_path_factory.mktemp("reference"))
    eng.create_index("ref__1", VIDEOS.with_alias("ref"))
    eng.point_alias("ref", "ref__1")
    eng.bulk("ref", corpus())
    eng.refresh("ref")
    out = {name: [(h.id, h.score) for h in eng.search("ref", req).hits] for name, req in requests().items()}
    eng.close()
    return out


def requests() -> dict[str, object]:
    personal = feed.Personal(followed=(3, 5), interests=(("美妆", 0.6), ("数码", 0.4)), exclude=tuple(range(1, 120, 9)))
    return {
        "for_you": feed.for_you_request(PINNED, personal, 30),
        "anonymous": feed.for_you_request(PINNED, feed.Personal(), 30),
        "following": feed.following_request(PINNED, [3, 5, 8], 12, None),
        "latest": video_search_request("", sort="latest", limit=15),
        "popular": video_search_request("", sort="popular", facets={"brand": ["李宁"]}, limit=15),
    }


@pytest.mark.parametrize("name", ["for_you", "anonymous", "following", "latest", "popular"])
def test_the_same_request_gives_the_same_order_and_scores(
    engine: tuple[SearchEngine, str], expected: dict[str, list[tuple[str, float | None]]], name: str
) -> None:
    eng, alias = engine
    got = eng.search(alias, requests()[name]).hits  # type: ignore[arg-type]
    assert [h.id for h in got] == [i for i, _ in expected[name]]
    for hit, (_, score) in zip(got, expected[name], strict=True):
        if score is not None and hit.score is not None:
            assert hit.score == pytest.approx(score, rel=1e-4)


def test_facets_agree(engine: tuple[SearchEngine, str]) -> None:
    eng, alias = engine
    result = eng.search(alias, video_search_request("", facets={"brand": ["李宁"]}, limit=5))
    brands = {b.key: b.count for b in result.facets["brand"]}
    assert sum(brands.values()) == 120  # the brand facet ignores its own selection
    assert result.total == brands["李宁"]
    assert sum(b.count for b in result.facets["price_band"]) == brands["李宁"]

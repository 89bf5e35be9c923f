"""The conformance suite every search backend must pass.

A backend's test class inherits `EngineConformance` and provides an `engine`
fixture. Tests that need an optional ability are marked with `requires(...)`
and skipped only when the backend declares it lacks that capability.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest

from search.engine import Capability, IndexNotFound, SearchEngine
from search.query import (
    AllOf,
    AnyOf,
    Decay,
    Delete,
    Exists,
    FieldFactor,
    FilterWeight,
    Ids,
    Match,
    Not,
    Range,
    RangeBucket,
    RangeFacet,
    Ranking,
    SearchRequest,
    SortBy,
    Term,
    Terms,
    TermsFacet,
    Upsert,
)
from search.schema import Field, FieldType, IndexSchema
from tests.search.conftest import unique_alias

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def things_schema(alias: str) -> IndexSchema:
    return IndexSchema(
        alias,
        (
            Field("title", FieldType.TEXT),
            Field("body", FieldType.TEXT),
            Field("tags", FieldType.KEYWORD, multi=True),
            Field("brand", FieldType.KEYWORD),
            Field("price", FieldType.INTEGER),
            Field("rating", FieldType.FLOAT),
            Field("published_at", FieldType.DATE),
            Field("in_stock", FieldType.BOOLEAN),
            Field("suggest", FieldType.COMPLETION),
        ),
    )


CORPUS: dict[str, dict[str, Any]] = {
    "1": {
        "title": "口红推荐 夏季必备",
        "body": "这支口红颜色很正，适合黄皮",
        "tags": ["美妆", "口红"],
        "brand": "花西子",
        "price": 12900,
        "rating": 4.5,
        "published_at": T0,
        "in_stock": True,
        "suggest": {"input": ["口红推荐", "Lipstick picks"], "weight": 50},
    },
    "2": {
        "title": "Running shoes review",
        "body": "Lightweight trainers for a daily 10k run",
        "tags": ["运动", "跑鞋"],
        "brand": "李宁",
        "price": 39900,
        "rating": 4.8,
        "published_at": T0 + dt.timedelta(days=1),
        "in_stock": True,
        "suggest": {"input": ["running shoes", "跑鞋测评"], "weight": 80},
    },
    "3": {
        "title": "红色口袋连衣裙",
        "body": "夏天的碎花连衣裙，显瘦",
        "tags": ["服饰"],
        "brand": "优衣库",
        "price": 19900,
        "rating": 3.9,
        "published_at": T0 + dt.timedelta(days=2),
        "in_stock": False,
        "suggest": {"input": ["连衣裙"], "weight": 30},
    },
    "4": {
        "title": "李宁跑鞋 Running 开箱",
        "body": "mixed 中英 content: the shoe fits",
        "tags": ["运动"],
        "brand": "李宁",
        "price": 29900,
        "rating": 4.1,
        "published_at": T0 + dt.timedelta(days=3),
        "in_stock": True,
        "suggest": {"input": ["李宁跑鞋"], "weight": 60},
    },
    "5": {
        "title": "护肤 routine <script>",
        "body": "晚间护肤步骤 & tips",
        "tags": ["美妆", "护肤"],
        "brand": "花西子",
        "price": 8900,
        "rating": 4.5,
        "published_at": T0 + dt.timedelta(days=4),
        "in_stock": True,
        "suggest": {"input": ["护肤 routine"], "weight": 40},
    },
}


def server_dependent(gap: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A check a test server may be unable to run although the real engine can (see `server_gaps`)."""

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.server_gap = gap  # type: ignore[attr-defined]
        return fn

    return mark


def requires(cap: Capability) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.required_capability = cap  # type: ignore[attr-defined]
        return fn

    return mark


def _expected_value(fn: Any, doc: dict[str, Any]) -> float:
    """One ranking function's contribution, computed by hand from the document."""
    if isinstance(fn, FilterWeight):
        assert isinstance(fn.filter, Term)
        return fn.weight if doc[fn.filter.field] == fn.filter.value else 0.0
    raw = doc[fn.field]
    return float(fn.value(raw.timestamp() * 1000 if isinstance(raw, dt.datetime) else raw))


def ids(result: Any) -> list[str]:
    return [h.id for h in result.hits]


class EngineConformance:
    """Mixin: subclasses provide `engine` (a SearchEngine) as a fixture.

    `server_gaps` names checks the server under test cannot run although the
    backend supports them (a stand-in server's own limits, each with the reason);
    they run against a real cluster instead.
    """

    server_gaps: ClassVar[dict[str, str]] = {}

    @pytest.fixture(autouse=True)
    def _skip_undeclared(self, request: pytest.FixtureRequest, engine: SearchEngine) -> None:
        cap = getattr(request.function, "required_capability", None)
        if cap is not None and cap not in engine.capabilities:
            pytest.skip(f"{engine.name} declares it lacks {cap.value}")
        gap = getattr(request.function, "server_gap", None)
        if gap in self.server_gaps:
            pytest.skip(self.server_gaps[gap])

    @pytest.fixture
    def alias(self, engine: SearchEngine) -> Iterator[str]:
        alias = unique_alias("conf")
        yield alias
        for name in engine.indexes(alias):
            engine.delete_index(name)

    @pytest.fixture
    def things(self, engine: SearchEngine, alias: str) -> str:
        """A physical index behind `alias`, loaded with CORPUS at version 1 and refreshed."""
        name = f"{alias}__a"
        engine.create_index(name, things_schema(alias))
        engine.point_alias(alias, name)
        result = engine.bulk(alias, [Upsert(k, v, 1) for k, v in CORPUS.items()])
        assert sorted(result.applied) == sorted(CORPUS)
        assert not result.errors
        engine.refresh(alias)
        return alias

    # ------------------------------------------------------------ admin

    def test_ping(self, engine: SearchEngine) -> None:
        engine.ping()

    def test_create_index_is_idempotent_and_refuses_a_different_schema(self, engine: SearchEngine, alias: str) -> None:
        name = f"{alias}__a"
        engine.create_index(name, things_schema(alias))
        engine.create_index(name, things_schema(alias))
        assert engine.index_exists(name)
        other = IndexSchema(alias, (Field("title", FieldType.KEYWORD),))
        with pytest.raises(ValueError, match="different schema"):
            engine.create_index(name, other)

    def test_unknown_index_raises_index_not_found(self, engine: SearchEngine) -> None:
        with pytest.raises(IndexNotFound):
            engine.search(unique_alias("missing"), SearchRequest())

    def test_alias_swap_switches_readers_to_the_new_index(self, engine: SearchEngine, alias: str) -> None:
        schema = things_schema(alias)
        for suffix, title in (("a", "旧索引 old"), ("b", "新索引 new")):
            engine.create_index(f"{alias}__{suffix}", schema)
            engine.bulk(f"{alias}__{suffix}", [Upsert("1", {"title": title}, 1)])
            engine.refresh(f"{alias}__{suffix}")
        engine.point_alias(alias, f"{alias}__a")
        assert engine.resolve_alias(alias) == f"{alias}__a"
        assert engine.get(alias, ["1"])["1"].source["title"] == "旧索引 old"
        engine.point_alias(alias, f"{alias}__b")
        assert engine.resolve_alias(alias) == f"{alias}__b"
        assert engine.get(alias, ["1"])["1"].source["title"] == "新索引 new"
        assert engine.indexes(alias) == [f"{alias}__a", f"{alias}__b"]
        engine.delete_index(f"{alias}__a")
        assert engine.indexes(alias) == [f"{alias}__b"]
        assert engine.resolve_alias(unique_alias("nothing")) is None

    # ------------------------------------------------------------ writes

    def test_documents_round_trip_with_their_types(self, engine: SearchEngine, things: str) -> None:
        got = engine.get(things, ["1", "2", "404"])
        assert set(got) == {"1", "2"}
        assert got["1"].source == CORPUS["1"]
        assert got["1"].version == 1
        assert got["2"].source["published_at"] == T0 + dt.timedelta(days=1)
        assert engine.count(things) == len(CORPUS)

    @requires(Capability.EXTERNAL_VERSIONING)
    def test_stale_and_repeated_versions_lose(self, engine: SearchEngine, things: str) -> None:
        newer = engine.bulk(things, [Upsert("1", {**CORPUS["1"], "title": "v5 新标题"}, 5)])
        assert newer.applied == ["1"]
        older = engine.bulk(things, [Upsert("1", {**CORPUS["1"], "title": "v3 旧标题"}, 3)])
        same = engine.bulk(things, [Upsert("1", {**CORPUS["1"], "title": "v5 again"}, 5)])
        assert older.stale == ["1"]
        assert not older.applied
        assert same.stale == ["1"]
        assert not same.applied
        engine.refresh(things)
        hit = engine.get(things, ["1"])["1"]
        assert (hit.source["title"], hit.version) == ("v5 新标题", 5)

    @requires(Capability.EXTERNAL_VERSIONING)
    def test_delete_is_versioned_and_a_late_older_upsert_cannot_resurrect(
        self, engine: SearchEngine, things: str
    ) -> None:
        assert engine.bulk(things, [Delete("3", 7)]).applied == ["3"]
        late = engine.bulk(things, [Upsert("3", CORPUS["3"], 6)])
        assert late.stale == ["3"]
        engine.refresh(things)
        assert engine.get(things, ["3"]) == {}
        assert engine.count(things) == len(CORPUS) - 1
        assert "3" not in ids(engine.search(things, SearchRequest(size=10)))
        back = engine.bulk(things, [Upsert("3", CORPUS["3"], 8)])
        assert back.applied == ["3"]
        engine.refresh(things)
        assert engine.get(things, ["3"])["3"].version == 8

    def test_deleting_a_missing_document_is_not_an_error(self, engine: SearchEngine, things: str) -> None:
        result = engine.bulk(things, [Delete("nope", 3)])
        assert result.applied == ["nope"]
        assert not result.errors

    @requires(Capability.EXTERNAL_VERSIONING)
    def test_within_one_batch_the_newest_version_wins(self, engine: SearchEngine, things: str) -> None:
        result = engine.bulk(
            things,
            [
                Upsert("2", {**CORPUS["2"], "price": 2}, 12),
                Upsert("2", {**CORPUS["2"], "price": 3}, 13),
                Upsert("2", {**CORPUS["2"], "price": 1}, 11),
            ],
        )
        assert "2" in result.applied
        assert result.stale.count("2") == 2
        engine.refresh(things)
        assert engine.get(things, ["2"])["2"].source["price"] == 3

    def test_a_bad_document_is_reported_and_the_rest_are_written(self, engine: SearchEngine, things: str) -> None:
        result = engine.bulk(
            things,
            [Upsert("6", {"title": "好的 fine", "price": 100}, 2), Upsert("7", {"price": "not a number"}, 2)],
        )
        assert result.applied == ["6"]
        assert set(result.errors) == {"7"}
        engine.refresh(things)
        assert set(engine.get(things, ["6", "7"])) == {"6"}

    def test_writes_become_visible_after_refresh(self, engine: SearchEngine, things: str) -> None:
        engine.bulk(things, [Upsert("9", {"title": "新来的 newcomer"}, 1)])
        engine.refresh(things)
        assert engine.count(things, [Ids(["9"])]) == 1

    # ------------------------------------------------------------ filters

    @pytest.mark.parametrize(
        ("filters", "expected"),
        [
            ([Term("brand", "李宁")], {"2", "4"}),
            ([Term("tags", "美妆")], {"1", "5"}),
            ([Terms("tags", ["服饰", "护肤"])], {"3", "5"}),
            ([Terms("tags", [])], set()),
            ([Range("price", gte=19900, lt=39900)], {"3", "4"}),
            ([Range("price", gt=19900)], {"2", "4"}),
            ([Range("published_at", gte=T0 + dt.timedelta(days=3))], {"4", "5"}),
            ([Range("rating", lte=4.1)], {"3", "4"}),
            ([Term("in_stock", False)], {"3"}),
            ([Ids(["1", "5", "zz"])], {"1", "5"}),
            ([Not(Term("brand", "花西子"))], {"2", "3", "4"}),
            ([AnyOf(Term("brand", "优衣库"), Term("price", 8900))], {"3", "5"}),
            ([AllOf(Term("tags", "运动"), Range("rating", gte=4.5))], {"2"}),
            ([Term("brand", "李宁"), Term("tags", "跑鞋")], {"2"}),
            ([Exists("brand")], {"1", "2", "3", "4", "5"}),
        ],
    )
    def test_filters(self, engine: SearchEngine, things: str, filters: list[Any], expected: set[str]) -> None:
        result = engine.search(things, SearchRequest(filters=tuple(filters), size=20))
        assert set(ids(result)) == expected
        assert result.total == len(expected)
        assert engine.count(things, filters) == len(expected)

    def test_exists_leaves_out_documents_without_the_field(self, engine: SearchEngine, things: str) -> None:
        engine.bulk(things, [Upsert("8", {"title": "没有品牌 no brand"}, 1)])
        engine.refresh(things)
        assert "8" not in ids(engine.search(things, SearchRequest(filters=(Exists("brand"),), size=20)))
        assert ids(engine.search(things, SearchRequest(filters=(Not(Exists("brand")),)))) == ["8"]

    # ------------------------------------------------------------ full text

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("口红", {"1"}),  # the two characters side by side, not 口 and 红 anywhere (doc 3 has 红色口袋)
            ("连衣裙", {"3"}),
            ("running", {"2", "4"}),
            ("RUNNING", {"2", "4"}),
            ("shoes", {"2", "4"}),  # English is stemmed: shoes ~ shoe
            ("Ｒｕｎｎｉｎｇ", {"2", "4"}),  # full-width letters fold to ASCII
            ("李宁 running", {"2", "4"}),
            ("跑鞋", {"4"}),
            ("无关词汇", set()),
            ("!!!", set()),
        ],
    )
    def test_match_chinese_english_and_mixed(
        self, engine: SearchEngine, things: str, text: str, expected: set[str]
    ) -> None:
        result = engine.search(things, SearchRequest(match=Match(text, {"title": 2.0, "body": 1.0}), size=20))
        assert set(ids(result)) == expected

    def test_match_operator_and_needs_every_term(self, engine: SearchEngine, things: str) -> None:
        either = engine.search(things, SearchRequest(match=Match("running 开箱", ["title"])))
        both = engine.search(things, SearchRequest(match=Match("running 开箱", ["title"], operator="and")))
        assert set(ids(either)) == {"2", "4"}
        assert ids(both) == ["4"]

    @requires(Capability.BM25)
    def test_field_boost_decides_the_order(self, engine: SearchEngine, things: str) -> None:
        engine.bulk(
            things,
            [
                Upsert("10", {"title": "防晒霜 sunscreen", "body": "夏天"}, 1),
                Upsert("11", {"title": "夏天", "body": "防晒霜 sunscreen"}, 1),
            ],
        )
        engine.refresh(things)
        title_first = engine.search(things, SearchRequest(match=Match("防晒霜", {"title": 3.0, "body": 1.0})))
        body_first = engine.search(things, SearchRequest(match=Match("防晒霜", {"title": 1.0, "body": 3.0})))
        assert ids(title_first) == ["10", "11"]
        assert ids(body_first) == ["11", "10"]
        assert title_first.hits[0].score is not None
        assert title_first.hits[0].score > title_first.hits[1].score

    @requires(Capability.BM25)
    def test_more_matching_terms_rank_higher(self, engine: SearchEngine, things: str) -> None:
        result = engine.search(things, SearchRequest(match=Match("李宁跑鞋 running", ["title"])))
        assert ids(result)[0] == "4"

    @requires(Capability.HIGHLIGHT)
    def test_highlight_wraps_matches_and_escapes_html(self, engine: SearchEngine, things: str) -> None:
        r = engine.search(things, SearchRequest(match=Match("口红", ["title"]), highlight=("title",)))
        assert r.hits[0].highlight["title"] == "<em>口红</em>推荐 夏季必备"
        r = engine.search(things, SearchRequest(match=Match("routine", ["title"]), highlight=("title",)))
        assert r.hits[0].highlight["title"] == "护肤 <em>routine</em> &lt;script&gt;"
        r = engine.search(things, SearchRequest(match=Match("running", ["title", "body"]), highlight=("title", "body")))
        by_id = {h.id: h.highlight for h in r.hits}
        assert by_id["2"]["title"] == "<em>Running</em> shoes review"
        assert "body" not in by_id["4"]

    # ------------------------------------------------------------ sort and pages

    def test_sort_by_field_then_id_and_search_after_walks_every_document_once(
        self, engine: SearchEngine, things: str
    ) -> None:
        engine.bulk(things, [Upsert(str(n), {"title": "同价", "price": 19900}, 1) for n in range(20, 26)])
        engine.refresh(things)
        request = SearchRequest(sort=(SortBy("price", descending=True),), size=3)
        seen: list[str] = []
        prices: list[int] = []
        after = None
        for _ in range(10):
            page = engine.search(things, SearchRequest(**{**request.__dict__, "search_after": after}))
            if not page.hits:
                break
            seen += ids(page)
            prices += [h.source["price"] for h in page.hits]
            after = page.hits[-1].sort
        assert len(seen) == len(set(seen)) == 11
        assert prices == sorted(prices, reverse=True)
        same_price = [i for i, p in zip(seen, prices, strict=True) if p == 19900]
        assert same_price == sorted(same_price)  # ties broken by id, ascending

    def test_sort_ascending_by_date_with_offset(self, engine: SearchEngine, things: str) -> None:
        request = SearchRequest(sort=(SortBy("published_at", descending=False),), size=2, offset=1)
        page = engine.search(things, request)
        assert ids(page) == ["2", "3"]
        assert page.total == 5

    def test_documents_missing_the_sort_field_come_last(self, engine: SearchEngine, things: str) -> None:
        engine.bulk(things, [Upsert("30", {"title": "no price"}, 1)])
        engine.refresh(things)
        for descending in (True, False):
            page = engine.search(things, SearchRequest(sort=(SortBy("price", descending=descending),), size=10))
            assert ids(page)[-1] == "30"

    @server_dependent("score_cursor")
    def test_relevance_pages_with_search_after(self, engine: SearchEngine, things: str) -> None:
        match = Match("running 口红 连衣裙 护肤", ["title", "body"])
        everything = ids(engine.search(things, SearchRequest(match=match, size=20)))
        walked: list[str] = []
        after = None
        while True:
            page = engine.search(things, SearchRequest(match=match, size=2, search_after=after))
            if not page.hits:
                break
            walked += ids(page)
            after = page.hits[-1].sort
        assert walked == everything
        assert len(everything) == 5

    # ------------------------------------------------------------ facets

    @requires(Capability.FACETS)
    def test_facets_count_without_their_own_filter(self, engine: SearchEngine, things: str) -> None:
        price_bands = RangeFacet(
            "price", (RangeBucket("<100", lt=10000), RangeBucket("100-300", 10000, 30000), RangeBucket("300+", 30000))
        )
        request = SearchRequest(
            facets=(("brand", TermsFacet("brand")), ("tag", TermsFacet("tags")), ("price", price_bands)),
            facet_filters=(("brand", Term("brand", "李宁")),),
            size=10,
        )
        r = engine.search(things, request)
        assert set(ids(r)) == {"2", "4"}  # hits are narrowed by the brand filter ...
        assert [(b.key, b.count) for b in r.facets["brand"]] == [("李宁", 2), ("花西子", 2), ("优衣库", 1)]
        # ... other facets count only Li-Ning's documents
        assert [(b.key, b.count) for b in r.facets["tag"]] == [("运动", 2), ("跑鞋", 1)]
        assert [(b.key, b.count) for b in r.facets["price"]] == [("<100", 0), ("100-300", 1), ("300+", 1)]

    @requires(Capability.FACETS)
    def test_facets_respect_the_query_and_filters(self, engine: SearchEngine, things: str) -> None:
        r = engine.search(
            things,
            SearchRequest(
                match=Match("running 口红", ["title"]),
                filters=(Term("in_stock", True),),
                facets=(("brand", TermsFacet("brand", size=1)),),
            ),
        )
        assert [(b.key, b.count) for b in r.facets["brand"]] == [("李宁", 2)]

    # ------------------------------------------------------------ suggest

    @requires(Capability.COMPLETION)
    def test_suggest_by_prefix_best_weight_first(self, engine: SearchEngine, things: str) -> None:
        assert [s.text for s in engine.suggest(things, "口")] == ["口红推荐"]
        assert [(s.text, s.id) for s in engine.suggest(things, "Run")] == [("running shoes", "2")]
        assert [s.text for s in engine.suggest(things, "li")] == ["Lipstick picks"]
        assert [s.text for s in engine.suggest(things, "李宁跑")] == ["李宁跑鞋"]
        everything = engine.suggest(things, "护肤 r")
        assert [s.text for s in everything] == ["护肤 routine"]
        assert engine.suggest(things, "不存在") == []
        assert engine.suggest(things, "") == []

    @requires(Capability.COMPLETION)
    def test_suggest_orders_by_weight_and_forgets_deleted(self, engine: SearchEngine, things: str) -> None:
        engine.bulk(
            things,
            [
                Upsert("40", {"title": "a", "suggest": {"input": ["夏季新款"], "weight": 5}}, 1),
                Upsert("41", {"title": "b", "suggest": {"input": ["夏季连衣裙"], "weight": 90}}, 1),
                Upsert("42", {"title": "c", "suggest": {"input": ["夏季防晒"], "weight": 20}}, 1),
            ],
        )
        engine.refresh(things)
        assert [s.text for s in engine.suggest(things, "夏季")] == ["夏季连衣裙", "夏季防晒", "夏季新款"]
        assert [s.score for s in engine.suggest(things, "夏季", size=1)] == [90.0]
        engine.bulk(things, [Delete("41", 2)])
        engine.refresh(things)
        assert [s.text for s in engine.suggest(things, "夏季")] == ["夏季防晒", "夏季新款"]

    # ------------------------------------------------------------ ranking

    @requires(Capability.RANKING)
    def test_ranking_functions_score_exactly(self, engine: SearchEngine, things: str) -> None:
        ranking = Ranking(
            FieldFactor("rating", factor=2.0, modifier="ln1p", weight=1.5),
            Decay("published_at", origin=T0 + dt.timedelta(days=4), scale=dt.timedelta(days=2), decay=0.5),
            Decay("price", origin=10000, scale=20000, function="exp", weight=0.5),
            Decay("price", origin=10000, scale=20000, offset=1000, function="linear", decay=0.2, weight=0.25),
            FilterWeight(Term("brand", "花西子"), 0.75),
        )
        r = engine.search(things, SearchRequest(ranking=ranking, size=10))
        expected = {doc_id: sum(_expected_value(fn, doc) for fn in ranking.functions) for doc_id, doc in CORPUS.items()}
        assert ids(r) == sorted(expected, key=lambda k: -expected[k])
        for hit in r.hits:
            assert hit.score == pytest.approx(expected[hit.id], rel=1e-5)

    @requires(Capability.RANKING)
    def test_ranking_multiplies_with_the_text_score(self, engine: SearchEngine, things: str) -> None:
        match = Match("running", ["title"])
        plain = {h.id: h.score for h in engine.search(things, SearchRequest(match=match)).hits}
        ranked = engine.search(
            things, SearchRequest(match=match, ranking=Ranking(FieldFactor("price", 0.0001), boost_mode="multiply"))
        )
        for hit in ranked.hits:
            price = CORPUS[hit.id]["price"]
            assert hit.score == pytest.approx(plain[hit.id] * price * 0.0001, rel=1e-4)
        assert ids(ranked) == ["2", "4"]

    @requires(Capability.RANKING)
    def test_ranked_pages_with_search_after_and_filters(self, engine: SearchEngine, things: str) -> None:
        ranking = Ranking(FieldFactor("rating"), FilterWeight(Term("in_stock", False), 10.0))
        request = SearchRequest(ranking=ranking, filters=(Not(Term("brand", "李宁")),), size=2)
        first = engine.search(things, request)
        assert ids(first) == ["3", "1"]
        assert first.total == 3
        second = engine.search(things, SearchRequest(**{**request.__dict__, "search_after": first.hits[-1].sort}))
        assert ids(second) == ["5"]  # rating ties with doc 1; the id decides

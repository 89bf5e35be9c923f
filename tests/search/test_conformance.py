"""The conformance suite on every backend: embedded (both Chinese tokenizers), osmem over HTTP, a real cluster."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import ClassVar

import pytest

from search.backends.elastic import ElasticsearchEngine
from search.backends.embedded import EmbeddedEngine
from search.engine import SearchEngine
from tests.search.conformance import EngineConformance


class TestEmbeddedHan(EngineConformance):
    @pytest.fixture
    def engine(self, embedded_engine: EmbeddedEngine) -> SearchEngine:
        return embedded_engine


class TestEmbeddedJieba(EngineConformance):
    @pytest.fixture
    def engine(self, tmp_path) -> Iterator[SearchEngine]:  # type: ignore[no-untyped-def]
        engine = EmbeddedEngine(tmp_path / "search", chinese="jieba")
        yield engine
        engine.close()


class TestElasticsearchOnOsmem(EngineConformance):
    server_gaps: ClassVar[dict[str, str]] = {
        "score_cursor": (
            "osmem compares search_after _score values at 64-bit precision while it reports 32-bit scores, "
            "so a relevance-sorted page can repeat the previous page's last hit; runs against ELASTICSEARCH_URL"
        ),
    }

    @pytest.fixture
    def engine(self, osmem_engine: ElasticsearchEngine) -> SearchEngine:
        return osmem_engine


if os.environ.get("ELASTICSEARCH_URL"):

    class TestElasticsearchCluster(EngineConformance):
        """The same suite against the real cluster at ELASTICSEARCH_URL."""

        @pytest.fixture
        def engine(self, real_es_engine: ElasticsearchEngine) -> SearchEngine:
            return real_es_engine

else:

    def test_real_cluster_suite_runs_when_elasticsearch_url_is_set() -> None:
        pytest.skip("ELASTICSEARCH_URL is not set: the conformance suite ran on osmem-server only")

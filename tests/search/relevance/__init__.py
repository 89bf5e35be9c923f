"""Relevance test set: a fixed corpus of short-video documents and queries (Chinese, English, mixed).

Each query lists every document of the corpus a person would want for it (in the query's language: lexical
search is not expected to match across languages). Metrics per query, averaged:

- precision@5: relevant documents in the top five / min(5, number of relevant documents), so 1.0 means the
  top five hold as many relevant documents as they can;
- purity@5: relevant documents among the (at most five) results returned; it drops when a distractor is
  shown, even if every relevant document made the top five too.

`python -m tests.search.relevance` prints the table for every backend and tokenizer; README.md records it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search.documents import VIDEOS
from search.engine import SearchEngine, physical_name
from search.query import Upsert
from search.service import video_search_request

HERE = Path(__file__).parent
CORPUS: list[dict[str, Any]] = json.loads((HERE / "corpus.json").read_text())
QUERIES: list[dict[str, Any]] = json.loads((HERE / "queries.json").read_text())


@dataclass
class QueryResult:
    q: str
    lang: str
    relevant: list[str]
    top5: list[str]

    @property
    def precision(self) -> float:
        return len(set(self.top5) & set(self.relevant)) / min(5, len(self.relevant))

    @property
    def purity(self) -> float:
        return len(set(self.top5) & set(self.relevant)) / len(self.top5) if self.top5 else 0.0


@dataclass
class Report:
    results: list[QueryResult]

    def mean(self, lang: str | None = None) -> float:
        picked = [r.precision for r in self.results if lang is None or r.lang == lang]
        return sum(picked) / len(picked)

    def purity(self) -> float:
        return sum(r.purity for r in self.results) / len(self.results)

    def misses(self) -> list[QueryResult]:
        return [r for r in self.results if r.precision < 1.0]


def load(engine: SearchEngine, alias: str = "relevance") -> str:
    """Index the corpus (the video schema, as the service indexes videos) behind `alias`."""
    name = physical_name(alias, "1")
    engine.create_index(name, VIDEOS.with_alias(alias))
    engine.point_alias(alias, name)
    docs = [
        Upsert(d["id"], {**{k: v for k, v in d.items() if k != "id"}, "hashtags_text": " ".join(d["hashtags"])}, 1)
        for d in CORPUS
    ]
    result = engine.bulk(alias, docs)
    assert not result.errors, result.errors
    engine.refresh(alias)
    return alias


def evaluate(engine: SearchEngine, alias: str) -> Report:
    """Run every query through the same request the /search endpoint sends."""
    results = []
    for item in QUERIES:
        hits = engine.search(alias, video_search_request(item["q"], limit=5)).hits
        results.append(QueryResult(item["q"], item["lang"], item["relevant"], [h.id for h in hits]))
    return Report(results)

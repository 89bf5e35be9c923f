"""Search test fixtures: engines for every backend.

The Elasticsearch backend runs against osmem-server (an in-memory,
Elasticsearch-API-compatible server started once per session) and, when
ELASTICSEARCH_URL is set, against that real cluster.

osmem only speaks plain `application/json`, while the official client sends
Elasticsearch's compatibility media type. The rewrite lives here, in a
transport node class handed to the client the tests build; production code
never sees it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from elastic_transport import Urllib3HttpNode
from elasticsearch import Elasticsearch
from osmem_server import OsmemServer

from core.outbox import Relay
from search.backends.elastic import ElasticsearchEngine
from search.backends.embedded import EmbeddedEngine
from search.engine import SearchEngine
from search.indexing import Indexer
from search.query import Match, SearchRequest

COMPAT = "vnd.elasticsearch+"


class PlainJsonNode(Urllib3HttpNode):
    """Sends `application/json` (or x-ndjson) where the client asks for the compatibility media type."""

    def perform_request(  # type: ignore[override]
        self, method: str, target: str, body: bytes | None = None, headers: Any = None, **kwargs: Any
    ) -> Any:
        if headers:
            headers = headers.copy()
            for name in ("accept", "content-type"):
                value = headers.get(name)
                if value and COMPAT in value:
                    headers[name] = "application/x-ndjson" if "x-ndjson" in value else "application/json"
        return super().perform_request(method, target, body=body, headers=headers, **kwargs)


@pytest.fixture(scope="session")
def osmem_server() -> Iterator[OsmemServer]:
    """One osmem process for the whole session (overrides the plugin's seeded default)."""
    server = OsmemServer.start(japanese=False)
    yield server
    server.close()


def osmem_client(url: str) -> Elasticsearch:
    return Elasticsearch(url, node_class=PlainJsonNode, request_timeout=30)


@pytest.fixture(scope="session")
def osmem_engine(osmem_server: OsmemServer) -> Iterator[ElasticsearchEngine]:
    engine = ElasticsearchEngine(osmem_server.url, client=osmem_client(osmem_server.url))
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def real_es_engine() -> Iterator[ElasticsearchEngine]:
    url = os.environ.get("ELASTICSEARCH_URL")
    if not url:
        pytest.skip("ELASTICSEARCH_URL is not set: the suite ran on osmem only")
    engine = ElasticsearchEngine(url, text_analyzer=os.environ.get("SEARCH_ES_ANALYZER", "cjk"))  # type: ignore[arg-type]
    yield engine
    engine.close()


@pytest.fixture
def embedded_engine(tmp_path) -> Iterator[EmbeddedEngine]:  # type: ignore[no-untyped-def]
    engine = EmbeddedEngine(tmp_path / "search", chinese="han")
    yield engine
    engine.close()


def unique_alias(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture
def search_engine(app_ctx, tmp_path) -> Iterator[EmbeddedEngine]:  # type: ignore[no-untyped-def]
    """A fresh embedded index for this test, swapped into the app (the indexer writes to it, the API reads it)."""
    from search.documents import ENTITIES
    from search.indexing import ensure_index

    engine = EmbeddedEngine(tmp_path / "app-search")
    for entity in ENTITIES.values():
        ensure_index(engine, entity)
    indexer = app_ctx.extensions["search_indexer"]
    saved = app_ctx.extensions["search"], indexer.engine
    app_ctx.extensions["search"] = indexer.engine = engine
    yield engine
    app_ctx.extensions["search"], indexer.engine = saved
    engine.close()


@pytest.fixture
def index_now(app_ctx, db_session, search_engine):  # type: ignore[no-untyped-def]
    """Commit, run the outbox relay as the search worker would, and make the writes visible."""

    def run() -> None:
        db_session.commit()
        relay = app_ctx.extensions["outbox"]
        for _ in range(5):  # video events fan out to artist events
            if relay.drain(db_session) == 0:
                break
        search_engine.refresh("videos")
        search_engine.refresh("artists")

    return run


@dataclass
class Stack:
    """An engine with the indexer subscribed to a relay of its own, outside any Flask app."""

    engine: SearchEngine
    relay: Relay
    indexer: Indexer
    url: str  # how a subprocess reaches the same engine
    kind: str

    def find(self, text: str) -> list[str]:
        self.engine.refresh("videos")
        result = self.engine.search("videos", SearchRequest(match=Match(text, ["title", "description"]), size=50))
        return [h.id for h in result.hits]

    def drain(self, session: Any) -> None:
        for _ in range(5):  # video events fan out to artist events
            if self.relay.drain(session) == 0:
                return


@pytest.fixture(params=["embedded", "elasticsearch"])
def stack(request: pytest.FixtureRequest, tmp_path) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    """The same scenario on the embedded engine and on Elasticsearch (osmem)."""
    from search.documents import ENTITIES
    from search.indexing import ensure_index

    engine: SearchEngine
    if request.param == "embedded":
        url = str(tmp_path / "search")
        engine = EmbeddedEngine(url)
    else:
        url = request.getfixturevalue("osmem_server").url
        engine = ElasticsearchEngine(url, client=osmem_client(url))
    for entity in ENTITIES.values():
        ensure_index(engine, entity)
    relay = Relay()
    indexer = Indexer(engine)
    indexer.subscribe(relay)
    yield Stack(engine, relay, indexer, url, request.param)
    for entity in ENTITIES.values():  # the osmem server is shared by the whole session
        for name in engine.indexes(entity.alias):
            engine.delete_index(name)
    engine.close()

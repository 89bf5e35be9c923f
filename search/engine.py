"""The search engine interface every backend implements, and how one is chosen.

Indexes are physical (`videos__20260101t120000`) and reached through an alias
(`videos`); every call accepts either. Writes carry an external version (the
outbox event id): a write whose version is not newer than the stored one is
stale and loses, so redelivered or reordered events can never roll a
document back. Writes are durable when `bulk` returns and visible to searches
after `refresh` (or the backend's own refresh interval).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from search.query import Action, BulkResult, Filter, Hit, Match, SearchRequest, SearchResult, Suggestion
from search.schema import IndexSchema

if TYPE_CHECKING:
    from core.settings import Settings


class Capability(enum.StrEnum):
    """Optional abilities. The conformance suite skips only what a backend declares it lacks."""

    EXTERNAL_VERSIONING = "external_versioning"
    FACETS = "facets"
    HIGHLIGHT = "highlight"
    COMPLETION = "completion"
    RANKING = "ranking"  # function_score style ranking functions
    BM25 = "bm25"  # relevance scores that favour rarer terms and shorter fields


ALL_CAPABILITIES = frozenset(Capability)


class SearchError(RuntimeError):
    """The engine failed in a way a retry may fix (unreachable, overloaded, locked)."""


class IndexNotFound(LookupError):
    pass


class SearchEngine(Protocol):
    name: str
    capabilities: frozenset[Capability]

    def ping(self) -> None:
        """Raise if the engine cannot serve requests."""

    def create_index(self, name: str, schema: IndexSchema) -> None:
        """Create the physical index `name`; a no-op when it exists with the same schema."""

    def delete_index(self, name: str) -> None: ...

    def index_exists(self, name: str) -> bool: ...

    def indexes(self, alias: str) -> list[str]:
        """Physical indexes built for `alias` (by name prefix), oldest first."""

    def resolve_alias(self, alias: str) -> str | None:
        """The physical index the alias points to, or None."""

    def point_alias(self, alias: str, index: str) -> None:
        """Atomically point `alias` at `index` (readers switch without downtime)."""

    def bulk(self, index: str, actions: Sequence[Action]) -> BulkResult: ...

    def refresh(self, index: str) -> None: ...

    def get(self, index: str, ids: Sequence[str]) -> dict[str, Hit]:
        """Current documents (with versions) by id; absent and deleted ids are left out."""

    def search(self, index: str, request: SearchRequest) -> SearchResult: ...

    def count(self, index: str, filters: Sequence[Filter] = (), match: Match | None = None) -> int: ...

    def suggest(self, index: str, prefix: str, *, size: int = 10) -> list[Suggestion]:
        """Completion-field entries starting with `prefix`, best weight first, one per text."""

    def close(self) -> None: ...


def physical_name(alias: str, stamp: str) -> str:
    return f"{alias}__{stamp}"


def open_engine(settings: Settings) -> SearchEngine:
    if settings.search_is_remote:
        from search.backends.elastic import ElasticsearchEngine

        return ElasticsearchEngine(settings.search_url, text_analyzer=settings.search_es_analyzer)
    from search.backends.embedded import EmbeddedEngine

    return EmbeddedEngine(settings.search_url, chinese=settings.search_chinese_tokenizer)

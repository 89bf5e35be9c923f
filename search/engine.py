"""The search engine interface every backend implements."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.settings import Settings


class SearchEngine(Protocol):
    name: str

    def ping(self) -> None:
        """Raise if the engine cannot serve requests."""


def open_engine(settings: Settings) -> SearchEngine:
    if settings.search_is_remote:
        from search.backends.elastic import ElasticsearchEngine

        return ElasticsearchEngine(settings.search_url)
    from search.backends.embedded import EmbeddedEngine

    return EmbeddedEngine(settings.search_url)

"""Elasticsearch backend on the official client."""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch


class ElasticsearchEngine:
    name = "elasticsearch"

    def __init__(self, url: str, *, client: Elasticsearch | None = None, **client_kwargs: Any) -> None:
        self.url = url
        self.client = client or Elasticsearch(url, request_timeout=10, **client_kwargs)

    def ping(self) -> None:
        self.client.info()

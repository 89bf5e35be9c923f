"""Matching tests reuse the search tests' embedded engine and indexing helpers."""

from tests.search.conftest import index_now, search_engine  # noqa: F401

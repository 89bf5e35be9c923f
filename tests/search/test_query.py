"""Ranking functions: the column-at-a-time (numpy) form the embedded engine uses equals the per-value definition."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from search.backends.embedded import _column_values
from search.query import Decay, FieldFactor, Ranking, Upsert, newest_per_id

raw_values = st.lists(st.one_of(st.none(), st.floats(min_value=-1e6, max_value=1e6)), max_size=30)


@given(raw_values, st.sampled_from(["none", "ln1p", "sqrt"]), st.floats(0.1, 10), st.floats(0, 5))
def test_field_factor_column_matches_value(
    raws: list[float | None], modifier: str, factor: float, missing: float
) -> None:
    fn = FieldFactor("x", factor=factor, modifier=modifier, missing=missing, weight=1.5)  # type: ignore[arg-type]
    assert list(_column_values(fn, raws)) == pytest.approx([fn.value(r) for r in raws], rel=1e-12, abs=1e-12)


@given(raw_values, st.sampled_from(["gauss", "exp", "linear"]), st.floats(0.05, 0.95), st.floats(0, 100))
def test_decay_column_matches_value(raws: list[float | None], function: str, decay: float, offset: float) -> None:
    fn = Decay("x", origin=10.0, scale=50.0, offset=offset, decay=decay, function=function, weight=2.0)  # type: ignore[arg-type]
    assert list(_column_values(fn, raws)) == pytest.approx([fn.value(r) for r in raws], rel=1e-9, abs=1e-12)


def test_dates_decay_in_milliseconds() -> None:
    origin = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)
    fn = Decay("t", origin=origin, scale=dt.timedelta(days=2), decay=0.5)
    two_days_before = (origin - dt.timedelta(days=2)).timestamp() * 1000
    assert fn.value(two_days_before) == pytest.approx(0.5)
    assert fn.value(None) == 1.0  # missing: treated as at the origin, as Elasticsearch does


def test_a_ranking_needs_an_unconditional_function() -> None:
    from search.query import FilterWeight, Term

    with pytest.raises(ValueError, match="at least one"):
        Ranking(FilterWeight(Term("a", "b"), 1.0))


def test_newest_version_per_id() -> None:
    kept, stale = newest_per_id([Upsert("a", {}, 2), Upsert("b", {}, 1), Upsert("a", {}, 5), Upsert("a", {}, 3)])
    assert [(a.id, a.version) for a in kept] == [("a", 5), ("b", 1)]
    assert stale == ["a", "a"]

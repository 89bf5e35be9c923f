from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import MoneyError, apply_bp, format_yuan, largest_remainder, parse_yuan, split_by_bp


@given(
    total=st.integers(min_value=0, max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12).filter(lambda w: sum(w) > 0),
)
def test_largest_remainder_sums_exactly_and_stays_within_one_fen(total: int, weights: list[int]) -> None:
    parts = largest_remainder(total, weights)
    assert sum(parts) == total
    wsum = sum(weights)
    for part, w in zip(parts, weights, strict=True):
        exact_floor = total * w // wsum
        assert exact_floor <= part <= exact_floor + 1
    assert largest_remainder(total, weights) == parts  # deterministic


def test_largest_remainder_gives_leftover_fen_to_largest_remainders() -> None:
    # 100 fen in thirds: 33.33 each, the one spare fen goes to the first (ties go earlier).
    assert largest_remainder(100, [1, 1, 1]) == [34, 33, 33]
    # 10 fen by 0.15/0.35/0.5: exact 1.5/3.5/5 -> remainders tie at .5, earlier wins.
    assert largest_remainder(10, [15, 35, 50]) == [2, 3, 5]


@given(
    total=st.integers(min_value=0, max_value=10**10),
    rates=st.lists(st.integers(min_value=0, max_value=2500), min_size=1, max_size=4),
)
def test_split_by_bp_never_creates_or_loses_a_fen(total: int, rates: list[int]) -> None:
    shares, rest = split_by_bp(total, rates)
    assert sum(shares) + rest == total
    assert all(s >= 0 for s in shares)
    assert rest >= 0


def test_split_by_bp_rejects_rates_over_100_percent() -> None:
    with pytest.raises(MoneyError):
        split_by_bp(100, [6000, 5000])


@pytest.mark.parametrize(
    ("text", "fen"), [("12", 1200), ("12.5", 1250), ("0.01", 1), ("1,299.90", 129990), (" 3.00 ", 300)]
)
def test_parse_yuan(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen
    assert parse_yuan(format_yuan(fen)) == fen


@pytest.mark.parametrize("text", ["abc", "-1", "1.234", "", "NaN", "inf"])
def test_parse_yuan_rejects(text: str) -> None:
    with pytest.raises(MoneyError):
        parse_yuan(text)


def test_apply_bp_rounds_half_up_and_checks_range() -> None:
    assert apply_bp(1999, 1000) == 200  # 199.9 -> 200
    assert apply_bp(5, 1000) == 1  # 0.5 -> 1
    with pytest.raises(MoneyError):
        apply_bp(100, 10_001)

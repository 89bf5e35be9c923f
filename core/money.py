"""Money in integer fen (分) and rates in basis points; never floats.

1 yuan = 100 fen; 1 bp = 0.01 %, so 10_000 bp = 100 %.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

BP_WHOLE = 10_000
CURRENCY = "CNY"


class MoneyError(ValueError):
    pass


def parse_yuan(text: str) -> int:
    """'12.5' / '12.50' / '12' -> fen. Rejects more than two decimals and negatives."""
    raw = text.strip().replace(",", "")
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise MoneyError(f"not an amount: {text!r}") from exc
    if not value.is_finite() or value < 0:
        raise MoneyError(f"not a positive amount: {text!r}")
    if value != value.quantize(Decimal("0.01")):
        raise MoneyError(f"more than two decimals: {text!r}")
    return int(value * 100)


def format_yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}{whole}.{part:02d}"


def apply_bp(amount: int, bp: int) -> int:
    """`amount` × `bp` / 10 000, rounded half up to the fen (used for single shares)."""
    if not 0 <= bp <= BP_WHOLE:
        raise MoneyError(f"rate out of range: {bp} bp")
    return int((Decimal(amount) * bp / BP_WHOLE).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` fen in proportion to `weights` so the parts sum exactly to `total`.

    Each part gets the floor of its exact share; the fen left over go to the parts
    with the largest fractional remainders, ties to the earlier part, so the split
    is deterministic.
    """
    if total < 0:
        raise MoneyError("cannot split a negative total")
    if any(w < 0 for w in weights):
        raise MoneyError("weights must be non-negative")
    wsum = sum(weights)
    if not weights:
        raise MoneyError("nothing to split into")
    if wsum == 0:
        if total:
            raise MoneyError("cannot split a non-zero total by zero weights")
        return [0] * len(weights)
    floors = [total * w // wsum for w in weights]
    remainders = [total * w % wsum for w in weights]
    left = total - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[:left]:
        floors[i] += 1
    return floors


def split_by_bp(total: int, rates_bp: Sequence[int]) -> tuple[list[int], int]:
    """Shares of `total` at each rate plus the residual, all summing to `total`.

    The residual (whatever the rates leave) is one more part of the same
    largest-remainder split, so rounding never creates or loses a fen.
    """
    if sum(rates_bp) > BP_WHOLE:
        raise MoneyError("rates add up to more than 100 %")
    parts = largest_remainder(total, [*rates_bp, BP_WHOLE - sum(rates_bp)])
    return parts[:-1], parts[-1]

"""Commerce: catalog, orders, payments, attribution, ledger, booking."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    """Nothing to wire yet; catalog and money-path issues register consumers here."""

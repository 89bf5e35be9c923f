"""Opaque cursors for keyset pagination."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.orm import Session

from core.errors import BadRequest, register_messages

T = TypeVar("T")

register_messages({"invalid_cursor": ("分页游标无效", "Invalid pagination cursor")})


def encode_cursor(values: dict[str, Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (ValueError, json.JSONDecodeError) as exc:
        raise BadRequest("invalid_cursor") from exc
    if not isinstance(value, dict):
        raise BadRequest("invalid_cursor")
    return value


def keyset_page(
    session: Session,
    stmt: Select[Any],
    order: Sequence[tuple[ColumnElement[Any], bool]],
    key: Callable[[T], Sequence[int | str]],
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[T], str | None]:
    """One page of `stmt` in `order` ((column, descending) pairs ending with a unique column), after `cursor`.

    The cursor carries the sort values of the last row served, so pages stay stable
    while rows are added or removed elsewhere in the list (no OFFSET drift).
    """
    after = decode_cursor(cursor)
    if after is not None:
        values = after.get("k")
        if not isinstance(values, list) or len(values) != len(order):
            raise BadRequest("invalid_cursor")
        if not all(isinstance(v, int | str) and not isinstance(v, bool) for v in values):
            raise BadRequest("invalid_cursor")
        # (a, b, c) after (x, y, z): a beyond x, or a = x and b beyond y, or ...
        alternatives = []
        for i, (col, desc) in enumerate(order):
            equal = [c == v for (c, _), v in zip(order[:i], values[:i], strict=True)]
            beyond = col < values[i] if desc else col > values[i]
            alternatives.append(and_(*equal, beyond))
        stmt = stmt.where(or_(*alternatives))
    stmt = stmt.order_by(*[col.desc() if desc else col.asc() for col, desc in order]).limit(limit + 1)
    rows: list[T] = list(session.scalars(stmt).unique())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor({"k": list(key(rows[-1]))}) if more and rows else None
    return rows, next_cursor

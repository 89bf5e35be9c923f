"""What SQL a piece of code sends: for tests that pin how many round trips an operation costs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import event
from sqlalchemy.orm import Session


@contextlib.contextmanager
def recorded(session: Session) -> Iterator[list[str]]:
    """The statements the session's connection executes inside the block, whitespace collapsed."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(" ".join(statement.split()))

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", record)

"""A service's unit of work: commit at the end, roll back on any error.

Services validate as they go; an error half-way must not leave pending rows in a
session that someone else later commits (a CLI loop, a test sharing its session).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import Conflict, DomainError


@contextlib.contextmanager
def unit_of_work(
    session: Session, on_integrity_error: Callable[[IntegrityError], DomainError] | None = None
) -> Iterator[None]:
    try:
        yield
        session.flush()
    except IntegrityError as exc:  # a concurrent writer won a race the checks could not see
        session.rollback()
        raise (on_integrity_error(exc) if on_integrity_error else Conflict()) from exc
    except BaseException:
        session.rollback()
        raise
    # Not inside the try: once COMMIT went through, there is nothing left to roll back (an
    # after-commit hook failing to reach the broker must surface as itself).
    session.commit()

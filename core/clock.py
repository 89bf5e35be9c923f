"""An injectable clock: all "now" in the code base comes from here.

Tests move time with `use_clock(FrozenClock(...))` to cross return windows,
attribution windows and booking timeouts without sleeping.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FrozenClock:
    """A clock that only moves when told to."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        start = start or dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = start

    def now(self) -> dt.datetime:
        return self._now

    def advance(self, **delta: float) -> dt.datetime:
        self._now += dt.timedelta(**delta)
        return self._now

    def set(self, when: dt.datetime) -> None:
        self._now = when


_installed: list[Clock] = [SystemClock()]


def now() -> dt.datetime:
    return _installed[-1].now()


@contextlib.contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    """Install `clock` process-wide (threads included) for the duration of the block."""
    _installed.append(clock)
    try:
        yield clock
    finally:
        _installed.remove(clock)

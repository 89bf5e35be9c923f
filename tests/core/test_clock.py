from __future__ import annotations

import datetime as dt
import threading

import pytest

from core import clock
from core.clock import FrozenClock, use_clock


def test_frozen_clock_moves_only_when_told_and_reaches_other_threads() -> None:
    start = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    seen: list[dt.datetime] = []
    with use_clock(FrozenClock(start)) as c:
        assert clock.now() == start
        c.advance(days=7, seconds=1)
        t = threading.Thread(target=lambda: seen.append(clock.now()))
        t.start()
        t.join()
    assert seen == [start + dt.timedelta(days=7, seconds=1)]
    assert clock.now() > start  # back on the system clock
    assert clock.now().tzinfo is dt.UTC


def test_frozen_clock_refuses_naive_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        FrozenClock(dt.datetime(2026, 1, 1))  # noqa: DTZ001

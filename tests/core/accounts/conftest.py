from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.clock import FrozenClock, use_clock


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    """Time stands still unless the test moves it (code lifetimes, resend waits, link expiry)."""
    with use_clock(FrozenClock()) as c:
        assert isinstance(c, FrozenClock)
        yield c

"""What the in-process benchmarks share: a scratch app on the embedded defaults, and timing side by side."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from search.documents import ENTITIES
from search.indexing import ensure_index


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def alternate(rounds: Sequence[Sequence[Callable[[], Any]]], warmup: int = 0) -> list[list[float]]:
    """Milliseconds per call, one list per position: each round runs its calls back to back, so the paths being
    compared see the same machine state; the first `warmup` rounds are not counted."""
    times: list[list[float]] = [[] for _ in rounds[0]]
    for n, calls in enumerate(rounds):
        for i, call in enumerate(calls):
            t = time.perf_counter()
            call()
            if n >= warmup:
                times[i].append((time.perf_counter() - t) * 1000)
    return times


@contextmanager
def scratch_app() -> Iterator[Any]:
    """The app in production mode on a migrated SQLite file and embedded search in a temporary directory, with
    every index created; removed afterwards."""
    from tests.conftest import make_settings, migrate
    from web import create_app

    with tempfile.TemporaryDirectory(prefix="xl-bench-") as tmp:
        var = Path(tmp)
        url = f"sqlite:///{var / 'bench.sqlite3'}"
        migrate(url)
        app = create_app(
            make_settings(var, database_url=url, env="production", secret_key="bench-secret-key-0123456789")
        )
        db, engine = app.extensions["db"], app.extensions["search"]
        for entity in ENTITIES.values():
            ensure_index(engine, entity)
        try:
            yield app
        finally:
            engine.close()
            db.dispose()

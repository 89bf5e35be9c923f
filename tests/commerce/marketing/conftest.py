"""Both admission gates, each a real backend: the SQL gate on the test database, the Redis gate on 127.0.0.1:6379
under a key prefix of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from commerce.marketing.gates import RedisStockGate, SqlStockGate, StockGate
from tests.conftest import REDIS_URL


def redis_gate() -> Iterator[RedisStockGate]:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    gate = RedisStockGate(client, prefix=f"test-flash-{uuid.uuid4().hex[:10]}")
    yield gate
    for key in client.scan_iter(f"{gate.prefix}:*"):
        client.delete(key)
    client.close()


@pytest.fixture(params=["sql", pytest.param("redis", marks=pytest.mark.redis)])
def gate(request: pytest.FixtureRequest) -> Iterator[StockGate]:
    if request.param == "sql":
        yield SqlStockGate()
    else:
        yield from redis_gate()

"""The chat's fan-out hubs. Redis: two app instances (two servers, as two gunicorn workers would be) share one
Redis, so a message sent through one reaches a socket held by the other, and presence is seen by both. Memory: the
embedded default stays inside its process (what its docstring warns about)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings
from tests.browser import LiveServer, live_server
from tests.conftest import free_port
from tests.web.support_site import Desk, SocketClient, next_event, served
from web.realtime import MemoryHub, RedisHub, open_hub


def test_the_backend_follows_the_broker_unless_set() -> None:
    assert Settings(celery_broker_url="sqla+sqlite:///x.db").realtime[0] == "memory"
    redis_broker = Settings(celery_broker_url="redis://cache:6379/3")
    assert redis_broker.realtime == ("redis", "redis://cache:6379/3")
    assert Settings(celery_broker_url="redis://cache:6379/3", realtime_backend="memory").realtime[0] == "memory"
    assert isinstance(open_hub("memory", "", "xl"), MemoryHub)


def test_the_memory_hub_does_not_cross_instances() -> None:
    a, b = MemoryHub(), MemoryHub()
    with a.subscribe(["conversation:1"]) as here:
        b.publish("conversation:1", {"type": "message"})
        a.publish("conversation:2", {"type": "message"})
        assert here.get(timeout=0) is None
        a.publish("conversation:1", {"type": "message", "n": 1})
        assert here.get(timeout=1) == {"type": "message", "n": 1}
    token = a.join(7)
    assert a.is_online(7)
    assert not b.is_online(7)
    a.leave(7, token)
    assert not a.is_online(7)


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


@pytest.mark.redis
def test_redis_hubs_share_events_and_presence(prefix: str) -> None:
    a, b = RedisHub("redis://127.0.0.1:6379/0", prefix=prefix), RedisHub("redis://127.0.0.1:6379/0", prefix=prefix)
    try:
        with a.subscribe(["brand:5"]) as here:
            b.publish("brand:5", {"type": "message", "text": "跨进程"})
            assert here.get(timeout=10) == {"type": "message", "text": "跨进程"}
        token = b.join(9)
        assert a.is_online(9)
        b.leave(9, token)
        assert not a.is_online(9)
    finally:
        a.close()
        b.close()


@contextlib.contextmanager
def _second(desk: Desk, var: Path, prefix: str) -> Iterator[LiveServer]:
    """Another app over the same database and Redis: a second worker."""
    from tests.conftest import make_settings
    from web import create_app

    port = free_port()
    settings = make_settings(var, database_url=desk.server.app.config["SETTINGS"].database_url,
                             public_base_url=f"http://127.0.0.1:{port}", realtime_backend="redis",
                             realtime_key_prefix=prefix)  # fmt: skip
    app = create_app(settings)
    with live_server(app, port) as server:
        yield server
    app.extensions["realtime"].close()
    app.extensions["db"].dispose()


@pytest.mark.redis
def test_a_message_sent_through_one_instance_reaches_a_socket_on_the_other(tmp_path: Path, prefix: str) -> None:
    with served(tmp_path / "a", realtime_backend="redis", realtime_key_prefix=prefix) as desk, \
            _second(desk, tmp_path / "b", prefix) as other:  # fmt: skip
        status, c = desk.call("POST", "/api/v1/conversations", {"brand_id": desk.brand_id}, desk.buyer)
        assert status == 201, c
        ws = SocketClient.connect(f"{desk.ws}/ws/chat/{c['id']}", headers=desk.buyer)
        try:
            next_event(ws, "ready")
            # Presence crosses instances too: the buyer, connected to the first, is online for the second.
            assert other.app.extensions["realtime"].is_online(desk.buyer_id)
            second = Desk(other, desk.brand_id, desk.product_id, desk.sku_id, desk.buyer, desk.agent, desk.stranger,
                          desk.buyer_id, desk.agent_id)  # fmt: skip
            status, sent = second.call("POST", f"/api/v1/conversations/{c['id']}/messages", {"text": "另一个进程"},
                                       desk.agent)  # fmt: skip
            assert status == 201, sent
            event = next_event(ws, "message")
            assert event["message"]["text"] == "另一个进程"
        finally:
            ws.close()

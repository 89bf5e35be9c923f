"""The chat's WebSocket and SSE endpoints against a real served app: a message sent over the API reaches the other
side's open socket and stream; only the buyer and the brand's staff connect; a cookie-authenticated handshake needs
our Origin and the session's CSRF token; a connected recipient is not notified, an offline one is."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from simple_websocket import ConnectionError as Refused
from sqlalchemy import func, select

from commerce.notifications.models import Notification
from tests import factories
from tests.browser import until
from tests.web.support_site import Desk, SocketClient, next_event, served


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    with served(tmp_path_factory.mktemp("support-socket")) as d:
        yield d


@pytest.fixture(scope="module")
def conversation(desk: Desk) -> dict[str, Any]:
    status, body = desk.call("POST", "/api/v1/conversations", {"brand_id": desk.brand_id}, desk.buyer)
    assert status == 201, body
    return body  # type: ignore[no-any-return]


def _notes(desk: Desk, user_id: int) -> int:
    with desk.server.app.extensions["db"].session() as s:
        return int(s.scalar(select(func.count()).where(Notification.user_id == user_id)) or 0)


def test_messages_reach_the_other_sides_socket(desk: Desk, conversation: dict[str, Any]) -> None:
    cid = conversation["id"]
    buyer = SocketClient.connect(f"{desk.ws}/ws/chat/{cid}", headers=desk.buyer)
    inbox = SocketClient.connect(f"{desk.ws}/ws/inbox/{desk.brand_id}", headers=desk.agent)
    try:
        assert next_event(buyer, "ready") == {"type": "ready"}
        next_event(inbox, "ready")
        before = _notes(desk, desk.buyer_id)
        status, sent = desk.call("POST", f"/api/v1/conversations/{cid}/messages", {"text": "您好，在的"}, desk.agent)
        assert status == 201, sent
        event = next_event(buyer, "message")
        assert event["message"]["text"] == "您好，在的"
        assert event["message"]["side"] == "agent"
        assert event["conversation"]["buyer_unread"] >= 1
        assert next_event(inbox, "message")["message"]["id"] == sent["id"]
        assert _notes(desk, desk.buyer_id) == before  # connected: not notified
        buyer.send("ping")
        assert next_event(buyer, "pong") == {"type": "pong"}
    finally:
        buyer.close()
        inbox.close()
    # Gone (once the server has seen the socket close): the next message notifies them.
    until(lambda: not desk.server.app.extensions["realtime"].is_online(desk.buyer_id))
    status, _ = desk.call("POST", f"/api/v1/conversations/{cid}/messages", {"text": "还在吗"}, desk.agent)
    assert status == 201
    assert _notes(desk, desk.buyer_id) == before + 1


def test_only_the_buyer_and_the_brands_staff_connect(desk: Desk, conversation: dict[str, Any]) -> None:
    cid = conversation["id"]
    for url, headers, code in (
        (f"/ws/chat/{cid}", desk.stranger, 404),
        (f"/ws/chat/{cid}", {}, 401),
        (f"/ws/inbox/{desk.brand_id}", desk.buyer, 403),
        (f"/ws/inbox/{desk.brand_id}", desk.stranger, 403),
        (f"/ws/chat/{2**64}", desk.buyer, 404),
    ):
        with pytest.raises(Refused) as refused:
            SocketClient.connect(desk.ws + url, headers=headers)
        assert refused.value.status_code == code, url


def _cookie_session(desk: Desk, email: str) -> tuple[str, str]:
    status, body = desk.call("POST", "/api/v1/auth/login", {"email": email, "password": factories.PASSWORD})
    assert status == 200, body
    # urllib drops the cookie: sign in again over http.client to read Set-Cookie.
    conn = http.client.HTTPConnection(urlsplit(desk.url).netloc, timeout=10)
    conn.request("POST", "/api/v1/auth/login", json.dumps({"email": email, "password": factories.PASSWORD}),
                 {"Content-Type": "application/json"})  # fmt: skip
    r = conn.getresponse()
    cookie = r.getheader("Set-Cookie", "").split(";")[0]
    token = json.loads(r.read())["csrf_token"]
    conn.close()
    return cookie, token


def test_a_cookie_handshake_needs_our_origin_and_the_csrf_token(desk: Desk, conversation: dict[str, Any]) -> None:
    with desk.server.app.extensions["db"].session() as s:
        from core.accounts.models import User

        email = s.get(User, desk.buyer_id).email  # type: ignore[union-attr]
    cookie, token = _cookie_session(desk, email)
    url = f"{desk.ws}/ws/chat/{conversation['id']}"
    for query, origin, code in (
        (f"?csrf={token}", "https://evil.example", 403),
        (f"?csrf={token}", None, 403),
        ("?csrf=wrong", desk.url, 403),
        ("", desk.url, 403),
    ):
        headers = {"Cookie": cookie, **({"Origin": origin} if origin else {})}
        with pytest.raises(Refused) as refused:
            SocketClient.connect(url + query, headers=headers)
        assert refused.value.status_code == code
    ws = SocketClient.connect(f"{url}?csrf={token}", headers={"Cookie": cookie, "Origin": desk.url})
    try:
        assert next_event(ws, "ready") == {"type": "ready"}
    finally:
        ws.close()


def test_the_sse_fallback_streams_the_same_events(desk: Desk, conversation: dict[str, Any]) -> None:
    cid = conversation["id"]
    conn = http.client.HTTPConnection(urlsplit(desk.url).netloc, timeout=15)
    conn.request("GET", f"/sse/chat/{cid}", headers=desk.buyer)
    r = conn.getresponse()
    assert r.status == 200
    assert r.getheader("Content-Type", "").startswith("text/event-stream")
    assert r.readline() == b"retry: 3000\n"
    assert r.readline() == b"event: ready\n"
    got: list[str] = []

    def send() -> None:
        desk.call("POST", f"/api/v1/conversations/{cid}/messages", {"text": "流式消息"}, desk.agent)

    sender = threading.Thread(target=send)
    sender.start()
    while not got:
        line = r.readline().decode()
        if line.startswith("data:") and "流式消息" in line:
            got.append(line)
    sender.join()
    conn.close()
    assert json.loads(got[0][5:])["message"]["kind"] == "text"
    stranger = http.client.HTTPConnection(urlsplit(desk.url).netloc, timeout=10)
    stranger.request("GET", f"/sse/chat/{cid}", headers=desk.stranger)
    assert stranger.getresponse().status == 404
    stranger.close()

"""Real time for the customer-service chat: WebSocket (Flask-Sock) with an SSE fallback, over a small fan-out hub.

A view that changes a conversation publishes an event on its channels after the commit (`publish`): the
conversation's (`conversation:<id>`, heard by the buyer's chat page) and its brand's (`brand:<id>`, heard by the
agents' inbox). Pages send messages through the JSON API; the socket and the stream only deliver. A connection is
also presence: while someone has one open they are online, and messages for them raise no notification.

The hub is an interface with two real implementations, chosen by `Settings.realtime` (REALTIME_BACKEND):
`MemoryHub` (in-process; the embedded default) and `RedisHub` (Redis pub/sub and a presence sorted set, so
gunicorn's workers and several hosts hear each other).

Both endpoints authorise before the handshake: the conversation's buyer and the brand's agents and members only
(`commerce.support.staff`), signed in by cookie or bearer token. A cookie-authenticated socket must come from one
of our origins (`Origin`, which browsers always send on a WebSocket handshake) and carry the session's CSRF token
(`?csrf=`), as a cross-site page could otherwise open a socket with the visitor's cookie. Each open socket or
stream holds one thread of gunicorn's gthread worker (web/gunicorn_conf.py) for as long as it lasts.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import queue
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from flask import Blueprint, Flask, Response, g, request, session, stream_with_context
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from commerce.support import conversations, staff
from core import extensions
from core.errors import PermissionDenied, register_messages
from core.urls import origin_of
from web.auth import allowed_origins
from web.auth import require_current_user as _require_user

log = logging.getLogger(__name__)

register_messages(
    {
        "socket_origin": ("不允许从其他网站连接", "Connections from other sites are not allowed"),
        "socket_csrf": ("连接缺少有效的 CSRF 令牌", "The connection lacks a valid CSRF token"),
    }
)

PRESENCE_SECONDS = 60  # a connection not heard of for this long no longer counts as online
BEAT_SECONDS = 20  # how often an open connection renews its presence (and an SSE stream sends a comment)
QUEUE_SIZE = 500


def conversation_channel(conversation_id: int) -> str:
    return f"conversation:{conversation_id}"


def brand_channel(brand_id: int) -> str:
    return f"brand:{brand_id}"


class Subscription:
    """One connection's events, in the order published; `get` waits at most `timeout` seconds."""

    def __init__(self, fanout: _Fanout, channels: Sequence[str]) -> None:
        self.fanout, self.channels = fanout, list(channels)
        self.events: queue.Queue[dict[str, Any]] = queue.Queue(QUEUE_SIZE)

    def get(self, timeout: float) -> dict[str, Any] | None:
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.fanout.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class Hub(Protocol):
    def publish(self, channel: str, event: dict[str, Any]) -> None: ...
    def subscribe(self, channels: Sequence[str]) -> Subscription: ...
    def join(self, user_id: int) -> str: ...
    def beat(self, user_id: int, token: str) -> None: ...
    def leave(self, user_id: int, token: str) -> None: ...
    def is_online(self, user_id: int) -> bool: ...
    def close(self) -> None: ...


class _Fanout:
    """This process's subscribers by channel, and delivery to them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[str, set[Subscription]] = defaultdict(set)

    def subscribe(self, channels: Sequence[str]) -> Subscription:
        sub = Subscription(self, channels)
        with self._lock:
            for c in sub.channels:
                self._subs[c].add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            for c in sub.channels:
                self._subs[c].discard(sub)
                if not self._subs[c]:
                    del self._subs[c]

    def deliver(self, channel: str, event: dict[str, Any]) -> None:
        with self._lock:
            targets = list(self._subs.get(channel, ()))
        for sub in targets:
            with contextlib.suppress(queue.Full):  # a stalled reader loses events; it refetches on reconnect
                sub.events.put_nowait(event)


class MemoryHub(_Fanout):
    """In-process fan-out and presence. It does NOT cross processes: with gunicorn's several workers (or hosts) a
    message published in one worker reaches only the sockets of that worker, and presence is per worker. Use it
    for one process (the embedded default, tests); set REALTIME_BACKEND=redis to scale out."""

    def __init__(self) -> None:
        super().__init__()
        self._online: dict[int, set[str]] = defaultdict(set)

    def publish(self, channel: str, event: dict[str, Any]) -> None:
        self.deliver(channel, event)

    def join(self, user_id: int) -> str:
        token = uuid.uuid4().hex
        with self._lock:
            self._online[user_id].add(token)
        return token

    def beat(self, user_id: int, token: str) -> None:
        return None

    def leave(self, user_id: int, token: str) -> None:
        with self._lock:
            self._online[user_id].discard(token)

    def is_online(self, user_id: int) -> bool:
        with self._lock:
            return bool(self._online.get(user_id))

    def close(self) -> None:
        return None


class RedisHub(_Fanout):
    """Redis pub/sub: `publish` goes to Redis; one listener thread per process (started on the first subscription)
    pattern-subscribes to the prefix's channels and delivers to this process's subscribers. Presence is a sorted
    set per user of connection tokens scored by when they lapse, renewed by each open connection's beat."""

    def __init__(self, url: str, *, prefix: str = "xl") -> None:
        import redis

        super().__init__()
        self.redis = redis.Redis.from_url(url)
        self.prefix = f"{prefix}:rt:"
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()

    def publish(self, channel: str, event: dict[str, Any]) -> None:
        self.redis.publish(self.prefix + channel, json.dumps(event, ensure_ascii=False))

    def subscribe(self, channels: Sequence[str]) -> Subscription:
        self._start()
        return super().subscribe(channels)

    def _start(self) -> None:
        with self._lock:
            if self._listener is None:
                self._listener = threading.Thread(target=self._listen, name="realtime-redis", daemon=True)
                self._listener.start()
        self._ready.wait(5)

    def _listen(self) -> None:
        while not self._stop.is_set():
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.psubscribe(self.prefix + "*")
                self._ready.set()
                while not self._stop.is_set():
                    item = pubsub.get_message(timeout=1.0)
                    if item is None or item.get("type") != "pmessage":
                        continue
                    channel = item["channel"].decode()[len(self.prefix) :]
                    self.deliver(channel, json.loads(item["data"]))
            except Exception:  # a lost connection: listen again after a pause
                log.warning("realtime: Redis listener lost its connection; reconnecting", exc_info=True)
                self._stop.wait(1.0)
            finally:
                with contextlib.suppress(Exception):
                    pubsub.close()

    def _key(self, user_id: int) -> str:
        return f"{self.prefix}online:{user_id}"

    def join(self, user_id: int) -> str:
        token = uuid.uuid4().hex
        self.beat(user_id, token)
        return token

    def beat(self, user_id: int, token: str) -> None:
        key = self._key(user_id)
        pipe = self.redis.pipeline()
        pipe.zadd(key, {token: time.time() + PRESENCE_SECONDS})
        pipe.expire(key, PRESENCE_SECONDS * 2)
        pipe.execute()

    def leave(self, user_id: int, token: str) -> None:
        self.redis.zrem(self._key(user_id), token)

    def is_online(self, user_id: int) -> bool:
        return int(self.redis.zcount(self._key(user_id), time.time(), "+inf")) > 0

    def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.join(timeout=3)
        self.redis.close()


def open_hub(backend: str, url: str, prefix: str) -> Hub:
    return RedisHub(url, prefix=prefix) if backend == "redis" else MemoryHub()


def hub() -> Hub:
    return extensions.extension("realtime")  # type: ignore[no-any-return]


def is_online(user_id: int) -> bool:
    """For services: whether `user_id` has a chat connection open (then they are not notified)."""
    try:
        return hub().is_online(user_id)
    except Exception:  # presence is a courtesy: when it cannot be told, notify
        log.warning("realtime: presence unavailable", exc_info=True)
        return False


def publish(channels: Sequence[str], event: dict[str, Any]) -> None:
    """After the commit: a lost event is not an error (the pages refetch what they missed when they reconnect)."""
    for channel in channels:
        try:
            hub().publish(channel, event)
        except Exception:
            log.warning("realtime: could not publish on %s", channel, exc_info=True)


# -- endpoints ------------------------------------------------------------------------------------------------

bp = Blueprint("realtime", __name__)
sock = Sock()


def _channels_for(kind: str, ident: int) -> tuple[int, list[str]]:
    """Who is connecting and what they may hear; refused before the handshake for anyone else."""
    user = _require_user()
    s = extensions.session()
    if kind == "chat":
        conversation, _side = conversations.get(s, user, ident)
        channels = [conversation_channel(conversation.id)]
    else:
        staff.require_staff(s, user, ident)
        channels = [brand_channel(ident)]
    return user.id, channels


def _check_handshake() -> None:
    """Cookie-authenticated connections come from our pages only: their origin, and the session's CSRF token."""
    if request.headers.get("Authorization"):
        return
    if origin_of(request.headers.get("Origin") or "") not in allowed_origins():
        raise PermissionDenied("socket_origin")
    expected, sent = session.get("csrf"), request.args.get("csrf", "")
    if not isinstance(expected, str) or not hmac.compare_digest(expected, sent):
        raise PermissionDenied("socket_csrf")


@bp.before_request
def _authorise() -> None:
    view = request.endpoint or ""
    args = request.view_args or {}
    kind = "chat" if "conversation_id" in args else "inbox"
    ident = int(args.get("conversation_id") or args.get("brand_id") or 0)
    _require_user()  # 401 first: a signed-out visitor hears that, not the origin rule
    if view.endswith("_socket"):
        _check_handshake()
    g.realtime = _channels_for(kind, ident)
    extensions.session().rollback()  # the connection lasts: hold no transaction (nor SQLite's read snapshot)


@contextlib.contextmanager
def _connected() -> Iterator[tuple[Subscription, Any]]:
    user_id, channels = g.realtime
    h = hub()
    token = h.join(user_id)
    sub = h.subscribe(channels)
    try:
        yield sub, lambda: h.beat(user_id, token)
    finally:
        sub.close()
        with contextlib.suppress(Exception):
            h.leave(user_id, token)


def _serve_socket(ws: Any) -> None:
    with _connected() as (sub, beat):
        ws.send(json.dumps({"type": "ready"}))
        last = time.monotonic()
        while ws.connected:
            event = sub.get(timeout=0.5)
            if event is not None:
                ws.send(json.dumps(event, ensure_ascii=False))
            if ws.receive(timeout=0) == "ping":
                ws.send(json.dumps({"type": "pong"}))
            if time.monotonic() - last > BEAT_SECONDS:
                beat()
                last = time.monotonic()


@sock.route("/ws/chat/<int:conversation_id>", bp=bp)
def chat_socket(ws: Any, conversation_id: int) -> None:
    """The buyer's or an agent's live view of one conversation."""
    with contextlib.suppress(ConnectionClosed):
        _serve_socket(ws)


@sock.route("/ws/inbox/<int:brand_id>", bp=bp)
def inbox_socket(ws: Any, brand_id: int) -> None:
    """An agent's live inbox: every event of the brand's conversations."""
    with contextlib.suppress(ConnectionClosed):
        _serve_socket(ws)


def _stream() -> Response:
    @stream_with_context
    def events() -> Iterator[str]:
        with _connected() as (sub, beat):
            yield "retry: 3000\nevent: ready\ndata: {}\n\n"
            last = time.monotonic()
            while True:
                event = sub.get(timeout=1.0)
                if event is not None:
                    yield f"event: {event.get('type', 'message')}\ndata: {json.dumps(event, ensure_ascii=False)}\n\n"
                if time.monotonic() - last > BEAT_SECONDS:
                    beat()
                    last = time.monotonic()
                    yield ": beat\n\n"  # a comment: keeps proxies from closing an idle stream, finds a gone client

    resp = Response(events(), mimetype="text/event-stream")
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Accel-Buffering"] = "no"
    return resp


@bp.get("/sse/chat/<int:conversation_id>")
def chat_stream(conversation_id: int) -> Response:
    """The SSE fallback of the chat socket (for networks that refuse WebSocket)."""
    return _stream()


@bp.get("/sse/inbox/<int:brand_id>")
def inbox_stream(brand_id: int) -> Response:
    """The SSE fallback of the inbox socket."""
    return _stream()


def init_app(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    backend, url = settings.realtime
    app.extensions["realtime"] = open_hub(backend, url, settings.realtime_key_prefix)
    app.register_blueprint(bp)
    sock.init_app(app)

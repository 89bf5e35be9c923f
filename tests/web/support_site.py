"""A served app (werkzeug, threaded, on a real port) with a brand, its agent and a buyer, for the socket tests."""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simple_websocket import Client

from commerce.support import staff
from core.accounts import service as accounts
from core.accounts.models import BrandMember, BrandRole
from tests import factories
from tests.browser import LiveServer, live_server
from tests.conftest import free_port, make_settings, migrate


@dataclass
class Desk:
    server: LiveServer
    brand_id: int
    product_id: int
    sku_id: int
    buyer: dict[str, str]  # Authorization headers
    agent: dict[str, str]
    stranger: dict[str, str]
    buyer_id: int
    agent_id: int

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ws(self) -> str:
        return self.server.url.replace("http://", "ws://")

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")


@contextlib.contextmanager
def served(var: Path, **overrides: Any) -> Iterator[Desk]:
    from web import create_app

    port = free_port()
    url = f"sqlite:///{var / 'site.sqlite3'}"
    migrate(url)
    app = create_app(make_settings(var, database_url=url, public_base_url=f"http://127.0.0.1:{port}", **overrides))
    with live_server(app, port) as server:
        yield _world(server)
    app.extensions["realtime"].close()
    app.extensions["db"].dispose()


def _world(server: LiveServer) -> Desk:
    with server.app.extensions["db"].session() as s:
        owner, agent, buyer, stranger = (factories.user(s, display_name=n) for n in ("店主", "客服", "买家", "路人"))
        brand = factories.brand(s, owner=owner)
        s.add(BrandMember(brand_id=brand.id, user_id=agent.id, role=BrandRole.MEMBER))
        product = factories.product(s, brand=brand, name="精华液")
        s.commit()
        staff.appoint(s, owner, brand.id, agent.id)
        tokens = {u.id: {"Authorization": f"Bearer {accounts.issue_token(s, u)}"} for u in (agent, buyer, stranger)}
        s.commit()
        return Desk(server, brand.id, product.id, product.skus[0].id, tokens[buyer.id], tokens[agent.id],
                    tokens[stranger.id], buyer.id, agent.id)  # fmt: skip


class SocketClient(Client):  # type: ignore[misc]
    """simple-websocket 1.1's client, minus a race: its handshake reads the 101 and, when the server was quick,
    the first frames in the same packet, but handles only the 101; the frames then wait in wsproto's buffer until
    more bytes arrive, so a lone "ready" sent right after the handshake is never received."""

    def handshake(self) -> None:
        super().handshake()
        self._handle_events()


def next_event(ws: Any, kind: str) -> dict[str, Any]:
    """The next event of `kind` on a chat socket (a handful of others may come first); the socket's own receive
    timeout bounds the wait."""
    for _ in range(20):
        raw = ws.receive(timeout=15)
        assert raw is not None, f"no {kind} event"
        event = json.loads(raw)
        if event["type"] == kind:
            return event  # type: ignore[no-any-return]
    raise AssertionError(f"no {kind} event")

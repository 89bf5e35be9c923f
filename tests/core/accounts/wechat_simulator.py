"""A local WeChat (official-account web authorization and JS-SDK tickets) over HTTP, in its documented wire format.

- `/connect/oauth2/authorize?appid&redirect_uri&response_type=code&scope&state`: the page WeChat shows in its
  browser. Here the user has already agreed: it answers 302 to `redirect_uri?code=..&state=..` for the WeChat user
  `sim.next_user` (or with no code when `sim.deny` is set, as WeChat does when snsapi_userinfo is refused).
- `/sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code`: a code is good once, for 5 minutes.
- `/sns/userinfo?access_token&openid&lang`: only for tokens granted snsapi_userinfo.
- `/cgi-bin/token?grant_type=client_credential&appid&secret` and `/cgi-bin/ticket/getticket?access_token&type=jsapi`.

Errors are HTTP 200 with `errcode`/`errmsg`, as WeChat answers them. `calls` counts requests by path, so tests can
see a ticket is cached; `fail_next` makes the next API call answer a given errcode.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit


@dataclass
class WeChatUser:
    """One person: an openid per app, one unionid across the platform's apps."""

    unionid: str | None
    nickname: str = "小星"
    headimgurl: str = "https://thirdwx.qlogo.cn/mmopen/test/132"
    openids: dict[str, str] = field(default_factory=dict)

    def openid(self, app_id: str) -> str:
        return self.openids.setdefault(app_id, "o" + secrets.token_hex(13))


@dataclass
class Grant:
    app_id: str
    user: WeChatUser
    scope: str
    at: float
    used: bool = False


class WeChatSim:
    def __init__(self, apps: dict[str, str]) -> None:
        self.apps = dict(apps)  # app id -> secret
        self.next_user = WeChatUser(unionid="u" + secrets.token_hex(13))
        self.deny = False
        self.codes: dict[str, Grant] = {}
        self.user_tokens: dict[str, Grant] = {}
        self.access_tokens: dict[str, str] = {}  # token -> app id
        self.tickets: dict[str, str] = {}  # app id -> current ticket
        self.calls: Counter[str] = Counter()
        self.fail_next: int | None = None
        self.lock = threading.Lock()

    # -- what a test does --

    def issue_code(self, app_id: str, user: WeChatUser, scope: str = "snsapi_userinfo") -> str:
        """The code WeChat would append to the redirect after the user agrees."""
        code = secrets.token_hex(16)
        with self.lock:
            self.codes[code] = Grant(app_id=app_id, user=user, scope=scope, at=time.monotonic())
        return code

    # -- the HTTP side --

    def handle(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:  # noqa: PLR0911 - a router
        with self.lock:
            self.calls[path] += 1
            if path == "/connect/oauth2/authorize":
                return self._authorize(query)
            if self.fail_next is not None:
                errcode, self.fail_next = self.fail_next, None
                return self._error(errcode, "simulated failure")
            if path == "/sns/oauth2/access_token":
                return self._exchange(query)
            if path == "/sns/userinfo":
                return self._userinfo(query)
            if path == "/cgi-bin/token":
                return self._token(query)
            if path == "/cgi-bin/ticket/getticket":
                return self._ticket(query)
        return 404, {}, b""

    @staticmethod
    def _json(doc: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "application/json; encoding=utf-8"}, json.dumps(doc, ensure_ascii=False).encode()

    def _error(self, errcode: int, errmsg: str) -> tuple[int, dict[str, str], bytes]:
        return self._json({"errcode": errcode, "errmsg": f"{errmsg} rid: {secrets.token_hex(4)}"})

    def _authorize(self, q: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if q.get("appid") not in self.apps or q.get("response_type") != "code" or not q.get("redirect_uri"):
            return 400, {"Content-Type": "text/plain"}, b"bad authorize request"
        if q.get("scope") not in ("snsapi_base", "snsapi_userinfo"):
            return 400, {"Content-Type": "text/plain"}, b"scope"
        params = {"state": q.get("state", "")}
        if not self.deny:
            code = secrets.token_hex(16)
            self.codes[code] = Grant(app_id=q["appid"], user=self.next_user, scope=q["scope"], at=time.monotonic())
            params = {"code": code, **params}
        sep = "&" if "?" in q["redirect_uri"] else "?"
        return 302, {"Location": q["redirect_uri"] + sep + urlencode(params)}, b""

    def _exchange(self, q: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if self.apps.get(q.get("appid", "")) != q.get("secret"):
            return self._error(40125, "invalid appsecret")
        if q.get("grant_type") != "authorization_code":
            return self._error(40002, "invalid grant_type")
        grant = self.codes.get(q.get("code", ""))
        if grant is None or grant.app_id != q["appid"] or time.monotonic() - grant.at > 300:
            return self._error(40029, "invalid code")
        if grant.used:
            return self._error(40163, "code been used")
        grant.used = True
        token = secrets.token_hex(20)
        self.user_tokens[token] = grant
        doc: dict[str, Any] = {"access_token": token, "expires_in": 7200, "refresh_token": secrets.token_hex(20),
                               "openid": grant.user.openid(grant.app_id), "scope": grant.scope}  # fmt: skip
        # WeChat adds the unionid here only once the user authorised snsapi_userinfo (or follows the account).
        if grant.user.unionid and grant.scope == "snsapi_userinfo":
            doc["unionid"] = grant.user.unionid
        return self._json(doc)

    def _userinfo(self, q: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        grant = self.user_tokens.get(q.get("access_token", ""))
        if grant is None or grant.user.openid(grant.app_id) != q.get("openid"):
            return self._error(40001, "invalid credential, access_token is invalid or not latest")
        if grant.scope != "snsapi_userinfo":
            return self._error(48001, "api unauthorized")
        doc: dict[str, Any] = {"openid": q["openid"], "nickname": grant.user.nickname, "sex": 0, "province": "",
                               "city": "", "country": "", "headimgurl": grant.user.headimgurl,
                               "privilege": []}  # fmt: skip
        if grant.user.unionid:
            doc["unionid"] = grant.user.unionid
        return self._json(doc)

    def _token(self, q: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if q.get("grant_type") != "client_credential":
            return self._error(40002, "invalid grant_type")
        if self.apps.get(q.get("appid", "")) != q.get("secret"):
            return self._error(40125, "invalid appsecret")
        token = secrets.token_hex(32)
        self.access_tokens[token] = q["appid"]
        return self._json({"access_token": token, "expires_in": 7200})

    def _ticket(self, q: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        app_id = self.access_tokens.get(q.get("access_token", ""))
        if app_id is None:
            return self._error(40001, "invalid credential")
        if q.get("type") != "jsapi":
            return self._error(40097, "invalid args")
        ticket = secrets.token_urlsafe(64)
        self.tickets[app_id] = ticket
        return self._json({"errcode": 0, "errmsg": "ok", "ticket": ticket, "expires_in": 7200})


class WeChatServer:
    """The simulator behind one local HTTP server (both WeChat origins: open.weixin.qq.com and api.weixin.qq.com)."""

    def __init__(self, sim: WeChatSim) -> None:
        self.sim = sim
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                status, headers, body = outer.sim.handle(parts.path, dict(parse_qsl(parts.query)))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WeChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

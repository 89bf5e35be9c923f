"""Accounts over HTTP: the role × operation matrix, brand isolation, the sign-in throttle (sources, devices,
proxies), tampering."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from core.accounts.models import User
from core.clock import FrozenClock, use_clock
from core.db import Database
from tests import factories
from tests.conftest import make_settings


@dataclass
class World:
    viewer: User
    artist: User
    owner_a: User
    member_a: User
    owner_b: User
    admin: User
    brand_a: int
    brand_b: int
    victim: User


@pytest.fixture
def world(db_session: Session) -> World:
    viewer = factories.user(db_session)
    artist = factories.user(db_session, artist=True)
    owner_a, member_a, owner_b = (factories.user(db_session) for _ in range(3))
    admin = factories.user(db_session, admin=True)
    victim = factories.user(db_session)
    a = factories.brand(db_session, owner=owner_a, members=[member_a])
    b = factories.brand(db_session, owner=owner_b)
    return World(viewer, artist, owner_a, member_a, owner_b, admin, a.id, b.id, victim)


def token_for(client: FlaskClient, user: User) -> dict[str, str]:
    r = client.post("/api/v1/auth/tokens", json={"email": user.email, "password": factories.PASSWORD})
    assert r.status_code == 201, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    with use_clock(FrozenClock(dt.datetime(2026, 3, 1, tzinfo=dt.UTC))) as c:
        assert isinstance(c, FrozenClock)
        yield c


Operation = Callable[[FlaskClient, World, dict[str, str]], int]


def op_me(c: FlaskClient, w: World, h: dict[str, str]) -> int:
    return c.get("/api/v1/me", headers=h).status_code


def op_edit_brand_a(c: FlaskClient, w: World, h: dict[str, str]) -> int:
    return c.patch(f"/api/v1/brands/{w.brand_a}", json={"description": "新介绍"}, headers=h).status_code


def op_list_members_a(c: FlaskClient, w: World, h: dict[str, str]) -> int:
    return c.get(f"/api/v1/brands/{w.brand_a}/members", headers=h).status_code


def op_add_member_a(c: FlaskClient, w: World, h: dict[str, str]) -> int:
    return c.post(f"/api/v1/brands/{w.brand_a}/members", json={"email": w.viewer.email}, headers=h).status_code


def op_disable_user(c: FlaskClient, w: World, h: dict[str, str]) -> int:
    return c.patch(f"/api/v1/admin/users/{w.victim.id}", json={"is_active": False}, headers=h).status_code


def op_become_artist(c: FlaskClient, w: World, h: dict[str, str]) -> int:
    return c.post("/api/v1/me/artist", headers=h).status_code


OPERATIONS: dict[str, Operation] = {
    "me": op_me,
    "edit_brand_a": op_edit_brand_a,
    "list_members_a": op_list_members_a,
    "add_member_a": op_add_member_a,
    "disable_user": op_disable_user,
    "become_artist": op_become_artist,
}

# Expected status per (caller, operation). Brand A's member may edit but not add members;
# brand B's owner may do nothing to brand A; only the admin disables accounts.
MATRIX: dict[str, dict[str, int]] = {
    "anonymous": dict.fromkeys(OPERATIONS, 401),
    "viewer": {"me": 200, "edit_brand_a": 403, "list_members_a": 403, "add_member_a": 403, "disable_user": 403,
               "become_artist": 200},
    "artist": {"me": 200, "edit_brand_a": 403, "list_members_a": 403, "add_member_a": 403, "disable_user": 403,
               "become_artist": 200},
    "member_a": {"me": 200, "edit_brand_a": 200, "list_members_a": 200, "add_member_a": 403, "disable_user": 403,
                 "become_artist": 200},
    "owner_a": {"me": 200, "edit_brand_a": 200, "list_members_a": 200, "add_member_a": 201, "disable_user": 403,
                "become_artist": 200},
    "owner_b": {"me": 200, "edit_brand_a": 403, "list_members_a": 403, "add_member_a": 403, "disable_user": 403,
                "become_artist": 200},
    "admin": {"me": 200, "edit_brand_a": 200, "list_members_a": 200, "add_member_a": 201, "disable_user": 200,
              "become_artist": 200},
}  # fmt: skip


@pytest.mark.parametrize("caller", list(MATRIX))
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_role_operation_matrix(client: FlaskClient, world: World, caller: str, operation: str) -> None:
    headers = {} if caller == "anonymous" else token_for(client, getattr(world, caller))
    assert OPERATIONS[operation](client, world, headers) == MATRIX[caller][operation]


def test_brand_member_cannot_act_for_another_brand_even_via_service(db_session: Session, world: World) -> None:
    from core.accounts import service
    from core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        service.update_brand(db_session, world.owner_b, world.brand_a, name="hijacked", description=None)
    with pytest.raises(PermissionDenied):
        service.add_brand_member(db_session, world.member_a, world.brand_a, email=world.viewer.email, role="member")  # type: ignore[arg-type]


def test_registration_signs_in_with_cookie_and_csrf_is_enforced(client: FlaskClient) -> None:
    r = client.post(
        "/api/v1/auth/register",
        json={"email": "new@brand.cn", "password": "password123", "display_name": "新品牌", "role": "brand",
              "brand_name": "新品牌旗舰店"},
    )  # fmt: skip
    assert r.status_code == 201
    body = r.get_json()
    assert "brand" in body["user"]["roles"]
    assert body["user"]["brands"][0]["role"] == "owner"
    brand_id = body["user"]["brands"][0]["brand_id"]
    assert client.get("/api/v1/me").status_code == 200
    # A state change with the cookie but without the CSRF token is refused ...
    r = client.patch(f"/api/v1/brands/{brand_id}", json={"description": "x"})
    assert r.status_code == 403
    assert r.get_json()["code"] == "csrf_failed"
    # ... and accepted with it.
    r = client.patch(
        f"/api/v1/brands/{brand_id}", json={"description": "x"}, headers={"X-CSRF-Token": body["csrf_token"]}
    )
    assert r.status_code == 200


def test_duplicate_email_is_a_conflict(client: FlaskClient, world: World) -> None:
    r = client.post(
        "/api/v1/auth/register",
        json={"email": world.viewer.email.upper(), "password": "password123", "display_name": "x"},
    )
    assert r.status_code == 409
    assert r.get_json()["code"] == "email_taken"


def login(
    app: Flask, email: str, password: str, *, ip: str = "198.51.100.1", path: str = "/api/v1/auth/login",
    headers: dict[str, str] | None = None, device_cookie: str | None = None,
) -> TestResponse:  # fmt: skip
    """One sign-in from a fresh client (a signed-in cookie session would want a CSRF token for the next one)."""
    client = app.test_client()
    if device_cookie:
        client.set_cookie("xl_did", device_cookie)
    return client.post(path, json={"email": email, "password": password}, headers=headers or {},
                       environ_base={"REMOTE_ADDR": ip})  # fmt: skip


def test_wrong_passwords_back_off_that_account_from_that_source_only(
    app_ctx: Flask, world: World, clock: FrozenClock
) -> None:
    for _ in range(app_ctx.config["SETTINGS"].login_free_failures):
        r = login(app_ctx, world.viewer.email, "wrong-password")
        assert r.status_code == 401
        assert r.get_json()["code"] == "invalid_credentials"
    # Backing off now: even the right password waits, and is told for how long.
    r = login(app_ctx, world.viewer.email, factories.PASSWORD)
    assert r.status_code == 429
    assert r.get_json()["code"] == "rate_limited"
    assert r.headers["Retry-After"] == "1"
    # Another account from the same IP is fine, and so is this account from another IP.
    assert login(app_ctx, world.artist.email, factories.PASSWORD).status_code == 200
    assert login(app_ctx, world.viewer.email, factories.PASSWORD, ip="198.51.100.2").status_code == 200


def test_backoff_ends_after_retry_after_and_grows_with_each_failure(
    app_ctx: Flask, world: World, clock: FrozenClock
) -> None:
    for _ in range(app_ctx.config["SETTINGS"].login_free_failures):
        login(app_ctx, world.viewer.email, "nope-nope")
    waits = []
    for _ in range(3):
        r = login(app_ctx, world.viewer.email, "nope-nope")
        assert r.status_code == 429
        waits.append(int(r.headers["Retry-After"]))
        clock.advance(seconds=waits[-1])
        assert login(app_ctx, world.viewer.email, "nope-nope").status_code == 401
    assert waits == [1, 2, 4]
    r = login(app_ctx, world.viewer.email, factories.PASSWORD)
    assert r.headers["Retry-After"] == "8"
    clock.advance(seconds=8)
    assert login(app_ctx, world.viewer.email, factories.PASSWORD).status_code == 200


def test_the_owners_known_device_signs_in_while_an_attacker_guesses_from_many_ips(
    app_ctx: Flask, world: World, clock: FrozenClock
) -> None:
    settings = app_ctx.config["SETTINGS"]
    phone = {"X-Device-Id": "owner-phone-0123456789"}
    assert login(app_ctx, world.victim.email, factories.PASSWORD, ip="203.0.113.7", headers=phone).status_code == 200
    laptop = "owner-laptop-0123456789"  # the H5 app's cookie, as the /login page issues it
    assert (
        login(app_ctx, world.victim.email, factories.PASSWORD, ip="203.0.113.7", device_cookie=laptop).status_code
        == 200
    )
    failed = 0
    while failed < settings.login_account_free_failures + 5:  # spread over many IPs, none past its own free failures
        r = login(app_ctx, world.victim.email, "guess", ip=f"192.0.2.{failed}")
        if r.status_code == 429:
            clock.advance(seconds=int(r.headers["Retry-After"]))
            continue
        assert r.status_code == 401
        failed += 1
    # A new source waits ...
    r = login(app_ctx, world.victim.email, factories.PASSWORD, ip="192.0.2.250")
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    # ... the owner's phone, from a network it never used, does not; nor the laptop's cookie, nor for a token.
    assert login(app_ctx, world.victim.email, factories.PASSWORD, ip="100.64.0.9", headers=phone).status_code == 200
    assert (
        login(app_ctx, world.victim.email, factories.PASSWORD, ip="100.64.0.10", device_cookie=laptop).status_code
        == 200
    )
    r = login(app_ctx, world.victim.email, factories.PASSWORD, ip="100.64.0.11", path="/api/v1/auth/tokens",
              headers=phone)  # fmt: skip
    assert r.status_code == 201


def test_a_forged_x_forwarded_for_does_not_change_the_source_without_proxy_fix(
    app_ctx: Flask, world: World, clock: FrozenClock
) -> None:
    assert app_ctx.config["SETTINGS"].proxy_fix_hops == 0
    for n in range(app_ctx.config["SETTINGS"].login_free_failures):
        login(app_ctx, world.viewer.email, "wrong", ip="198.51.100.9", headers={"X-Forwarded-For": f"10.9.9.{n}"})
    r = login(app_ctx, world.viewer.email, "wrong", ip="198.51.100.9", headers={"X-Forwarded-For": "10.9.9.200"})
    assert r.status_code == 429  # still the socket's address: a fresh forwarded one escapes nothing
    # Nor the per-IP backoff: credential stuffing across e-mails, a new X-Forwarded-For on every request.
    for n in range(app_ctx.config["SETTINGS"].login_ip_free_failures - 3):
        r = login(
            app_ctx, f"leaked{n}@example.com", "wrong", ip="198.51.100.9", headers={"X-Forwarded-For": f"10.8.{n}.1"}
        )
        assert r.status_code == 401
    r = login(
        app_ctx, world.artist.email, factories.PASSWORD, ip="198.51.100.9", headers={"X-Forwarded-For": "10.7.0.1"}
    )
    assert r.status_code == 429


@pytest.fixture
def behind_one_proxy(database_url: str, db_session: Session, tmp_path: Path) -> Iterator[Flask]:
    from web import create_app

    app = create_app(make_settings(tmp_path, database_url=database_url, proxy_fix_hops=1))
    database: Database = app.extensions["db"]
    database.session_factory, database.owns_sessions = (lambda: db_session), False
    yield app
    database.dispose()


def test_with_one_proxy_hop_the_forwarded_address_is_the_source(
    behind_one_proxy: Flask, world: World, clock: FrozenClock
) -> None:
    app, proxy = behind_one_proxy, "10.0.0.2"
    assert app.config["SETTINGS"].proxy_fix_hops == 1
    for _ in range(app.config["SETTINGS"].login_free_failures):
        r = login(app, world.viewer.email, "wrong", ip=proxy, headers={"X-Forwarded-For": "203.0.113.5"})
        assert r.status_code == 401
    r = login(app, world.viewer.email, factories.PASSWORD, ip=proxy, headers={"X-Forwarded-For": "203.0.113.5"})
    assert r.status_code == 429
    # Another client behind the same proxy is another source; the proxy's own address is not what counts.
    r = login(app, world.viewer.email, factories.PASSWORD, ip=proxy, headers={"X-Forwarded-For": "203.0.113.6"})
    assert r.status_code == 200


def test_tampered_session_cookie_is_rejected(app_ctx: Flask, world: World) -> None:
    client = app_ctx.test_client()
    r = client.post("/api/v1/auth/login", json={"email": world.viewer.email, "password": factories.PASSWORD})
    assert r.status_code == 200
    assert client.get("/api/v1/me").status_code == 200
    cookie = client.get_cookie("session")
    assert cookie is not None
    value = cookie.value
    # Flip one character of the signed payload: the signature no longer matches.
    tampered = value[:5] + ("A" if value[5] != "A" else "B") + value[6:]
    client.set_cookie("session", tampered)
    r = client.get("/api/v1/me")
    assert r.status_code == 401
    assert r.get_json()["code"] == "not_authenticated"


def test_cookie_forged_with_another_key_is_rejected(app_ctx: Flask, world: World) -> None:
    from flask.sessions import SecureCookieSessionInterface

    forger = Flask("forger")
    forger.secret_key = "some-other-secret-key-xxxxxxxx"
    serializer = SecureCookieSessionInterface().get_signing_serializer(forger)
    assert serializer is not None
    client = app_ctx.test_client()
    client.set_cookie("session", serializer.dumps({"uid": world.admin.id, "av": 1}))
    assert client.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize(
    "header",
    ["Bearer xl_not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer {token}x", "Bearer x{token}"],
)
def test_tampered_or_malformed_token_is_rejected(client: FlaskClient, world: World, header: str) -> None:
    good = token_for(client, world.viewer)["Authorization"].split(" ", 1)[1]
    r = client.get("/api/v1/me", headers={"Authorization": header.format(token=good)})
    assert r.status_code == 401
    assert r.headers["Content-Type"].startswith("application/problem+json")


def test_revoked_token_and_password_change_invalidate_tokens(client: FlaskClient, world: World) -> None:
    h1 = token_for(client, world.viewer)
    h2 = token_for(client, world.viewer)
    assert client.delete("/api/v1/auth/tokens/current", headers=h1).status_code == 204
    assert client.get("/api/v1/me", headers=h1).status_code == 401
    assert client.get("/api/v1/me", headers=h2).status_code == 200
    r = client.post(
        "/api/v1/me/password", json={"old_password": factories.PASSWORD, "new_password": "brand-new-pass"}, headers=h2
    )
    assert r.status_code == 204
    assert client.get("/api/v1/me", headers=h2).status_code == 401


def test_a_token_works_until_it_expires(client: FlaskClient, world: World) -> None:
    with use_clock(FrozenClock(dt.datetime.now(dt.UTC))) as clock:
        assert isinstance(clock, FrozenClock)
        headers = token_for(client, world.viewer)  # 30 days
        clock.advance(days=29, hours=23)
        assert client.get("/api/v1/me", headers=headers).status_code == 200
        clock.advance(hours=2)
        r = client.get("/api/v1/me", headers=headers)
        assert (r.status_code, r.get_json()["code"]) == (401, "invalid_token")


def test_disabled_account_cannot_sign_in_or_use_tokens(client: FlaskClient, world: World) -> None:
    victim_headers = token_for(client, world.victim)
    admin = token_for(client, world.admin)
    assert (
        client.patch(f"/api/v1/admin/users/{world.victim.id}", json={"is_active": False}, headers=admin).status_code
        == 200
    )
    assert client.get("/api/v1/me", headers=victim_headers).status_code == 401
    r = client.post("/api/v1/auth/tokens", json={"email": world.victim.email, "password": factories.PASSWORD})
    assert r.status_code == 400
    assert r.get_json()["code"] == "account_disabled"


def test_passwords_are_stored_with_argon2id(db_session: Session) -> None:
    u = factories.user(db_session)
    assert u.password_hash.startswith("$argon2id$")
    assert factories.PASSWORD not in u.password_hash


def test_english_messages_on_request(client: FlaskClient) -> None:
    r = client.get("/api/v1/me", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert r.get_json()["title"] == "Please sign in first"
    r = client.get("/api/v1/me")
    assert r.get_json()["title"] == "请先登录"


def test_the_login_page_gives_a_new_browser_its_device_id_once(client: FlaskClient) -> None:
    r = client.get("/login")
    assert r.status_code == 200
    issued = client.get_cookie("xl_did")
    assert issued is not None
    assert len(issued.value) >= 8
    assert issued.http_only
    again = client.get("/login")
    assert "xl_did" not in again.headers.get("Set-Cookie", "")  # kept, not replaced
    assert client.get_cookie("xl_did").value == issued.value  # type: ignore[union-attr]

"""Rate limits on sign-up, share links, checkout, withdrawals, uploads and refused webhooks (Flask-Limiter)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from commerce.payments.provider import EventType
from commerce.payments.sandbox import SIGNATURE_HEADER, signature_header
from core import clock
from core.db import Database
from tests import factories
from tests.conftest import REDIS_URL, make_settings
from tests.factories import bearer

AppFactory = Callable[..., Flask]


@pytest.fixture
def limited_app(tmp_path: Path, database_url: str, db_session: Session) -> Iterator[AppFactory]:
    """Apps with real limits (the session-wide app has them out of reach), sharing the test's session."""
    from web import create_app

    made: list[Flask] = []

    def make(**limits: object) -> Flask:
        app = create_app(make_settings(tmp_path, database_url=database_url, **limits))
        database: Database = app.extensions["db"]
        database.session_factory, database.owns_sessions = (lambda: db_session), False
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["db"].dispose()


def _signup(app: Flask, n: int, **kw: object) -> tuple[int, dict[str, object], dict[str, str]]:
    client = app.test_client()  # signed out: a sign-up signs in, and the next one must not carry its session
    body = {"email": f"rl{n}-{uuid.uuid4().hex[:8]}@example.com", "password": "long enough pw", "display_name": "u"}
    r = client.post("/api/v1/auth/register", json=body, **kw)  # type: ignore[arg-type]
    return r.status_code, r.get_json(), dict(r.headers)


def test_sign_ups_from_one_address_are_limited_with_a_real_wait_and_a_sentence(limited_app: AppFactory) -> None:
    app = limited_app(rate_limit_signup="3 per hour")
    assert [_signup(app, n)[0] for n in range(3)] == [201, 201, 201]
    status, problem, headers = _signup(app, 3)
    assert status == 429
    assert headers["Content-Type"] == "application/problem+json"
    assert problem["code"] == "rate_limited"
    wait = int(headers["Retry-After"])
    assert 3000 < wait <= 3600  # the hour's window, not a made-up figure
    assert f"{wait} 秒后再试" in str(problem["title"])
    status, problem, _ = _signup(app, 4, headers={"Accept-Language": "en"})
    assert status == 429
    assert "try again in" in str(problem["title"])
    # Another address is not affected, and a forged X-Forwarded-For is not another address (no proxy trusted).
    assert _signup(app, 5, environ_base={"REMOTE_ADDR": "10.0.0.9"})[0] == 201
    assert _signup(app, 6, headers={"X-Forwarded-For": "10.0.0.10"})[0] == 429


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_one_counted(limited_app: AppFactory) -> None:
    app = limited_app(rate_limit_signup="1 per hour", proxy_fix_hops=1)
    assert _signup(app, 0, headers={"X-Forwarded-For": "203.0.113.1"})[0] == 201
    assert _signup(app, 1, headers={"X-Forwarded-For": "203.0.113.1"})[0] == 429
    assert _signup(app, 2, headers={"X-Forwarded-For": "203.0.113.2"})[0] == 201


@pytest.mark.parametrize(
    ("kind", "method", "path", "body"),
    [
        ("share_links", "post", "/api/v1/share-links", {"target": "video", "target_id": 9_999_999}),
        ("checkout", "post", "/api/v1/checkouts", {}),
        ("withdrawals", "post", "/api/v1/wallet/payouts", {}),
        ("uploads", "post", "/api/v1/uploads", {}),
    ],
)
def test_each_account_has_its_own_count_on_the_operations_worth_abusing(  # noqa: PLR0917 (parametrized)
    limited_app: AppFactory, db_session: Session, kind: str, method: str, path: str, body: dict[str, object]
) -> None:
    client = limited_app(**{f"rate_limit_{kind}": "2 per hour"}).test_client()
    abuser, other = factories.user(db_session, artist=True), factories.user(db_session, artist=True)
    as_abuser = {**bearer(db_session, abuser), "Idempotency-Key": "k"}

    def call(headers: dict[str, str], key: str) -> int:
        return getattr(client, method)(path, json=body, headers={**headers, "Idempotency-Key": key}).status_code

    first = [call(as_abuser, f"a{n}") for n in range(2)]
    assert 429 not in first  # whatever the operation said (here: the body is refused), it was heard
    refused = getattr(client, method)(path, json=body, headers={**as_abuser, "Idempotency-Key": "a3"})
    assert refused.status_code == 429
    assert refused.get_json()["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0
    # Same address, another account: its own count.
    assert call(bearer(db_session, other), "b0") != 429


def _webhook(client: FlaskClient, secret: bytes | None, n: int) -> int:
    data = {"payment_id": f"sbxpay_unknown{n}", "merchant_ref": f"xlp_{n}", "amount": 100, "currency": "CNY", "fee": 0}
    doc = {"id": f"evt_rl{n}", "type": EventType.PAYMENT_SUCCEEDED.value, "created": int(clock.now().timestamp()),
           "data": data}  # fmt: skip
    body = json.dumps(doc).encode()
    sig = signature_header(secret or b"a guess", body)
    return client.post("/api/v1/payments/webhooks/sandbox", data=body, headers={SIGNATURE_HEADER: sig}).status_code


def test_only_refused_webhooks_count_against_an_address(limited_app: AppFactory) -> None:
    app = limited_app(rate_limit_webhook_errors="3 per minute")
    client, secret = app.test_client(), app.config["SETTINGS"].sandbox_secrets()[0]
    assert [_webhook(client, secret, n) for n in range(6)] == [200] * 6  # authentic ones never run out
    assert [_webhook(client, None, n) for n in range(4)] == [400, 400, 400, 429]
    assert _webhook(client, None, 9) == 429


@pytest.mark.redis
def test_processes_sharing_redis_share_one_count(limited_app: AppFactory) -> None:
    shared = {"rate_limit_signup": "2 per hour", "rate_limit_storage_url": REDIS_URL,
              "rate_limit_key_prefix": f"xl-test-{uuid.uuid4().hex}"}  # fmt: skip
    one, two = limited_app(**shared), limited_app(**shared)
    assert _signup(one, 0)[0] == 201
    assert _signup(two, 1)[0] == 201
    assert _signup(one, 2)[0] == 429
    assert _signup(two, 3)[0] == 429


def test_the_openapi_document_says_which_operations_are_limited(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/auth/register", "/share-links", "/checkouts", "/wallet/payouts", "/uploads"):
        assert "429" in paths[f"/api/v1{path}"]["post"]["responses"], path
    assert "429" not in paths["/api/v1/auth/logout"]["post"]["responses"]

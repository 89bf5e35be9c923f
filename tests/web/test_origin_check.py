"""A state change from a page on another website is refused even with a valid CSRF token: the browser's Origin (or
Referer, when it sends no Origin) must be PUBLIC_BASE_URL's origin or the host the request was addressed to. Bearer
token calls and signed requests (payment webhooks, presigned storage) are not browsers' cookie requests: they pass."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient

from tests import factories

EVIL = "https://evil.example"
ZH = "这个请求来自其他网站，已被拒绝。请回到本站页面重试"
EN = "This request came from another website and was refused; please retry from our own page"


@dataclass
class Signed:
    client: FlaskClient
    brand_id: int
    csrf: str


@pytest.fixture
def signed(client: FlaskClient) -> Signed:
    r = client.post("/api/v1/auth/register", json={
        "email": "owner@brand.cn", "password": "password123", "display_name": "品牌主", "role": "brand",
        "brand_name": "新品牌旗舰店",
    })  # fmt: skip
    assert r.status_code == 201, r.text
    body = r.get_json()
    return Signed(client, body["user"]["brands"][0]["brand_id"], body["csrf_token"])


def _patch(s: Signed, description: str, **headers: str) -> tuple[int, dict[str, object]]:
    r = s.client.patch(f"/api/v1/brands/{s.brand_id}", json={"description": description},
                       headers={"X-CSRF-Token": s.csrf, **headers})  # fmt: skip
    return r.status_code, r.get_json()


def _description(s: Signed) -> str:
    return str(s.client.get(f"/api/v1/brands/{s.brand_id}").get_json()["description"])


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Referer": f"{EVIL}/attack.html"},  # no Origin: the Referer names the page
        {"Origin": "null"},  # a sandboxed frame or a file:// page
        {"Origin": "http://localhost:8080"},  # our host on another port is another origin
        {"Origin": "https://localhost"},  # and so is another scheme
        {"Origin": "http://127.0.0.1:8000.evil.example"},
        {"Origin": "not a url"},
    ],
)
def test_a_cookie_request_from_another_origin_is_refused_despite_its_csrf_token(
    signed: Signed, headers: dict[str, str]
) -> None:
    status, body = _patch(signed, "hijacked", **headers)
    assert (status, body["code"]) == (403, "cross_origin")
    assert body["title"] == ZH
    assert _description(signed) != "hijacked"


def test_the_refusal_is_human_in_english_and_as_a_page(signed: Signed) -> None:
    r = signed.client.patch(f"/api/v1/brands/{signed.brand_id}?lang=en", json={"description": "x"},
                            headers={"X-CSRF-Token": signed.csrf, "Origin": EVIL})  # fmt: skip
    assert r.status_code == 403
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert r.get_json()["title"] == EN
    # A page's form (the sandbox pay page's) posted from another site gets an HTML error page.
    page = signed.client.post("/sandbox/pay/pay_123", data={"csrf_token": signed.csrf, "action": "pay"},
                              headers={"Origin": EVIL, "Accept": "text/html"})  # fmt: skip
    assert page.status_code == 403
    assert page.mimetype == "text/html"
    assert ZH in page.get_data(as_text=True)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://localhost"},  # the host the request was sent to (the test client's)
        {"Origin": "http://127.0.0.1:8000"},  # PUBLIC_BASE_URL's origin
        {"Origin": "HTTP://LOCALHOST:80"},  # the same origin, spelled otherwise
        {"Referer": "http://localhost/brand?tab=catalog"},
        {},  # not a browser: nothing to compare, the CSRF token decides
    ],
)
def test_our_own_origins_pass(signed: Signed, headers: dict[str, str]) -> None:
    status, body = _patch(signed, "ours", **headers)
    assert status == 200, body
    assert _description(signed) == "ours"


def test_without_the_csrf_token_our_origin_is_not_enough(signed: Signed) -> None:
    r = signed.client.patch(f"/api/v1/brands/{signed.brand_id}", json={"description": "x"},
                            headers={"Origin": "http://localhost"})  # fmt: skip
    assert (r.status_code, r.get_json()["code"]) == (403, "csrf_failed")


def test_signing_in_from_another_site_is_refused(client: FlaskClient, db_session: object) -> None:
    """Login CSRF: a foreign page must not sign the visitor into an account of its choosing."""
    user = factories.user(db_session, email="viewer@example.com")  # type: ignore[arg-type]
    r = client.post("/api/v1/auth/login", json={"email": user.email, "password": factories.PASSWORD},
                    headers={"Origin": EVIL})  # fmt: skip
    assert (r.status_code, r.get_json()["code"]) == (403, "cross_origin")
    assert client.get("/api/v1/me").status_code == 401
    r = client.post("/api/v1/auth/login", json={"email": user.email, "password": factories.PASSWORD},
                    headers={"Origin": "http://localhost"})  # fmt: skip
    assert r.status_code == 200


def test_bearer_token_calls_and_signed_webhooks_are_not_checked(client: FlaskClient, db_session: object) -> None:
    from core.accounts import service as accounts

    user = factories.user(db_session, email="api@example.com")  # type: ignore[arg-type]
    token = accounts.issue_token(db_session, user)  # type: ignore[arg-type]
    r = client.post("/api/v1/notifications/read", json={},
                    headers={"Authorization": f"Bearer {token}", "Origin": EVIL})  # fmt: skip
    assert r.status_code < 300, r.text
    # A webhook is judged by its signature alone: this unsigned one is refused as such, not for its origin.
    r = client.post("/api/v1/payments/webhooks/sandbox", data=b"{}", headers={"Origin": EVIL})
    assert r.status_code == 400
    assert r.get_json()["code"] != "cross_origin"

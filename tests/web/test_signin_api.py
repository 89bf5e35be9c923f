"""Phone + SMS code sign-in, password reset and the sandbox pages over HTTP, with sentences in both languages."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from core.accounts import reset as resets
from core.accounts.delivery import SandboxOutbox
from core.clock import FrozenClock, use_clock
from core.db import Database
from core.tasks import RecordingSender
from tests import factories
from tests.conftest import make_settings


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    with use_clock(FrozenClock()) as c:
        assert isinstance(c, FrozenClock)
        yield c


def phone() -> str:
    return "139" + f"{uuid.uuid4().int % 10**8:08d}"


def last_code(db_session: Session) -> str:
    found = re.search(r"\b(\d{6})\b", SandboxOutbox(db_session).latest("sms", 1)[0].body)
    assert found is not None
    return found.group(1)


def test_a_code_signs_in_creates_the_account_and_starts_a_session(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    number = phone()
    r = client.post("/api/v1/auth/sms/code", json={"phone": f"+86 {number}"})
    assert r.status_code == 202
    assert r.get_json() == {"sent_to": f"{number[:3]}****{number[-4:]}", "expires_in": 300, "resend_after": 60}
    r = client.post("/api/v1/auth/sms/login", json={"phone": number, "code": last_code(db_session),
                                                    "display_name": "小星"})  # fmt: skip
    assert r.status_code == 200
    body = r.get_json()
    assert body["created"] is True
    assert body["user"]["phone"] == f"+86{number}"
    assert body["user"]["email"] is None
    assert body["user"]["display_name"] == "小星"
    assert client.get("/api/v1/me").get_json()["phone"] == f"+86{number}"


@pytest.mark.parametrize(
    ("lang", "expected"), [("zh-CN", "请输入中国大陆 11 位手机号"), ("en", "Enter a mainland China mobile number")]
)
def test_a_bad_number_is_a_422_sentence(client: FlaskClient, lang: str, expected: str) -> None:
    r = client.post(f"/api/v1/auth/sms/code?lang={lang}", json={"phone": "12345"})
    assert r.status_code == 422
    assert r.headers["Content-Type"] == "application/problem+json"
    problem = r.get_json()
    assert problem["code"] == "phone_invalid"
    assert problem["title"].startswith(expected)


def test_asking_again_within_a_minute_is_a_429_with_the_wait(client: FlaskClient, clock: FrozenClock) -> None:
    number = phone()
    assert client.post("/api/v1/auth/sms/code", json={"phone": number}).status_code == 202
    clock.advance(seconds=15)
    r = client.post("/api/v1/auth/sms/code?lang=en", json={"phone": number})
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "45"
    assert r.get_json()["title"] == "A code was just sent; you can ask for another in 45 s"


def test_a_wrong_code_says_how_many_tries_are_left(client: FlaskClient, clock: FrozenClock) -> None:
    number = phone()
    client.post("/api/v1/auth/sms/code", json={"phone": number})
    r = client.post("/api/v1/auth/sms/login", json={"phone": number, "code": "abcdef"})
    assert r.status_code == 422
    assert r.get_json()["title"] == "验证码不正确，还可以再试 4 次"


def test_a_signed_in_user_binds_a_phone(client: FlaskClient, db_session: Session, clock: FrozenClock) -> None:
    user = factories.user(db_session)
    h = factories.bearer(db_session, user)
    number = phone()
    client.post("/api/v1/auth/sms/code", json={"phone": number})
    r = client.post("/api/v1/me/phone", json={"phone": number, "code": last_code(db_session)}, headers=h)
    assert r.status_code == 200
    assert r.get_json()["phone"] == f"+86{number}"
    assert client.post("/api/v1/me/phone", json={"phone": number, "code": "000000"}).status_code == 401


def deliver_reset_mails(db_session: Session, sender: RecordingSender) -> None:
    """What the worker does with the tasks the requests queued."""
    for name, (user_id, locale), _ in sender.sent:
        if name == "accounts.send_password_reset":
            resets.send_reset_link(db_session, SandboxOutbox(db_session), user_id=user_id, base_url="http://localhost",
                                   ttl=dt.timedelta(hours=1), locale=locale)  # fmt: skip


def test_forgot_answers_alike_for_known_and_unknown_addresses(
    client: FlaskClient, db_session: Session, clock: FrozenClock, sender: RecordingSender
) -> None:
    user = factories.user(db_session)
    known = client.post("/api/v1/auth/password/forgot", json={"email": user.email})
    unknown = client.post("/api/v1/auth/password/forgot", json={"email": "nobody-at-all@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.get_data() == unknown.get_data()
    assert "如果这个邮箱注册过星炼" in known.get_json()["message"]
    assert sender.sent == [("accounts.send_password_reset", (user.id, "zh-CN"), {})]  # the mail goes from a task
    deliver_reset_mails(db_session, sender)
    mails = SandboxOutbox(db_session).latest("email")
    assert [m.recipient for m in mails if m.recipient in (user.email, "nobody-at-all@example.com")] == [user.email]


def test_reset_link_sets_the_password_and_ends_other_sessions(
    client: FlaskClient, db_session: Session, clock: FrozenClock, sender: RecordingSender
) -> None:
    user = factories.user(db_session)
    h = factories.bearer(db_session, user)
    client.post("/api/v1/auth/password/forgot", json={"email": user.email})
    deliver_reset_mails(db_session, sender)
    mail = SandboxOutbox(db_session).latest("email", 1)[0]
    found = re.search(r"/reset-password\?token=([\w-]+)", mail.body)
    assert found is not None
    token = found.group(1)
    r = client.post("/api/v1/auth/password/reset", json={"token": token, "new_password": "fresh password 1"})
    assert r.status_code == 204
    assert client.get("/api/v1/me", headers=h).status_code == 401  # the old API token is dead
    again = client.post("/api/v1/auth/password/reset?lang=en", json={"token": token, "new_password": "another pw 22"})
    assert again.status_code == 422
    assert again.get_json()["title"].startswith("This reset link is invalid, already used or expired")
    login = client.post("/api/v1/auth/login", json={"email": user.email, "password": "fresh password 1"})
    assert login.status_code == 200


def test_a_short_new_password_is_a_sentence(client: FlaskClient) -> None:
    r = client.post("/api/v1/auth/password/reset", json={"token": "x", "new_password": "short"})
    assert r.status_code == 422
    assert r.get_json()["title"] == "密码至少需要 8 个字符"


def test_the_sandbox_pages_list_codes_and_mails(client: FlaskClient, db_session: Session, clock: FrozenClock) -> None:
    number = phone()
    client.post("/api/v1/auth/sms/code", json={"phone": number})
    html = client.get("/sandbox/sms").get_data(as_text=True)
    assert f"+86{number}" in html
    assert last_code(db_session) in html
    assert client.get("/sandbox/mail").status_code == 200


def test_no_sandbox_pages_in_production(tmp_path: Path, database_url: str, db_session: Session) -> None:
    from web import create_app

    app: Flask = create_app(make_settings(tmp_path, database_url=database_url, env="production",
                                          public_base_url="https://xl.example"))  # fmt: skip
    database: Database = app.extensions["db"]
    database.session_factory, database.owns_sessions = (lambda: db_session), False
    try:
        assert app.test_client().get("/sandbox/sms").status_code == 404
        assert app.test_client().get("/sandbox/mail").status_code == 404
    finally:
        database.dispose()


def test_sms_codes_from_one_address_are_limited(tmp_path: Path, database_url: str, db_session: Session) -> None:
    from web import create_app

    app: Flask = create_app(make_settings(tmp_path, database_url=database_url, rate_limit_sms="2 per minute"))
    database: Database = app.extensions["db"]
    database.session_factory, database.owns_sessions = (lambda: db_session), False
    try:
        c = app.test_client()
        statuses = [c.post("/api/v1/auth/sms/code", json={"phone": phone()}).status_code for _ in range(3)]
        assert statuses == [202, 202, 429]
    finally:
        database.dispose()


def test_the_sandbox_logs_codes_in_development_but_never_in_production(
    tmp_path: Path, db_session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    from core.accounts.delivery import open_sms_provider

    for env, shows in (("development", True), ("production", False)):
        caplog.clear()
        with caplog.at_level("INFO", logger="core.accounts.delivery"):
            settings = make_settings(tmp_path, env=env, public_base_url="https://xl.example")
            open_sms_provider(settings, db_session).send_sms("+8613800138000", "验证码 123456")
        assert ("123456" in caplog.text) is shows
        assert "+8613800138000" in caplog.text


def test_every_field_of_the_sign_in_requests_has_a_label() -> None:
    """A refused sign-up, code or reset names its field the way people do, never "This field"."""
    from core.errors import field_label
    from web.api.accounts import ForgotIn, PhoneBindIn, PhoneLoginIn, RegisterIn, ResetIn, SmsCodeIn

    for model in (RegisterIn, SmsCodeIn, PhoneLoginIn, PhoneBindIn, ForgotIn, ResetIn):
        for name in model.model_fields:
            for locale, unlabelled in (("zh-CN", "此项"), ("en", "This field")):
                assert field_label(name, locale) != unlabelled, (model.__name__, name, locale)

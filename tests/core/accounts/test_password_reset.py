"""Password reset by e-mail: one link, used once, within the hour; it signs out everywhere and tells no one who
has an account."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy.orm import Session

from core.accounts import passwords
from core.accounts import reset as resets
from core.accounts import service as accounts
from core.accounts.delivery import SandboxOutbox
from core.accounts.models import User
from core.clock import FrozenClock
from core.errors import ValidationFailed
from core.tasks import SENDER, RecordingSender
from tests import factories

HOUR = dt.timedelta(hours=1)
BASE = "https://xl.example"


def ask(session: Session, email: str, locale: str = "zh-CN") -> str | None:
    """Ask for a link and run the mail task the request queued, as the worker would; the token of the mail that
    arrived, or None when nothing was sent."""
    sender: RecordingSender = session.info[SENDER]
    queued = len(sender.sent)
    resets.request_reset(session, email=email, locale=locale)
    outbox = SandboxOutbox(session)
    before = [m.id for m in outbox.latest("email")]
    for name, args, _ in sender.sent[queued:]:
        assert name == "accounts.send_password_reset"
        user_id, task_locale = args
        resets.send_reset_link(session, outbox, user_id=user_id, base_url=BASE, ttl=HOUR, locale=task_locale)
    new = [m for m in outbox.latest("email") if m.id not in before]
    if not new:
        return None
    assert len(new) == 1
    found = re.search(r"https://xl\.example/reset-password\?token=([\w-]+)", new[0].body)
    assert found is not None, new[0].body
    return found.group(1)


def test_a_link_sets_a_new_password_once_and_signs_out_everywhere(db_session: Session, clock: FrozenClock) -> None:
    user = factories.user(db_session, email="reset@example.com")
    version = user.auth_version
    api_token = accounts.issue_token(db_session, user)
    token = ask(db_session, " Reset@Example.com ")
    assert token is not None
    resets.reset_password(db_session, reset_token=token, new_password="a brand new pw")
    assert passwords.verify_password(user.password_hash, "a brand new pw")
    assert user.auth_version == version + 1
    assert accounts.user_for_token(db_session, api_token) is None  # the old token is revoked
    assert accounts.user_for_session(db_session, user.id, version) is None  # so is every old cookie session
    with pytest.raises(ValidationFailed) as err:
        resets.reset_password(db_session, reset_token=token, new_password="a third password")
    assert err.value.code == "reset_token_invalid"
    assert passwords.verify_password(user.password_hash, "a brand new pw")


def test_a_link_expires_after_an_hour(db_session: Session, clock: FrozenClock) -> None:
    user = factories.user(db_session)
    assert user.email is not None
    token = ask(db_session, user.email)
    assert token is not None
    clock.advance(minutes=60)
    with pytest.raises(ValidationFailed) as err:
        resets.reset_password(db_session, reset_token=token, new_password="a brand new pw")
    assert err.value.code == "reset_token_invalid"
    assert "已过期" in err.value.message("zh-CN")
    assert "expired" in err.value.message("en")


def test_a_new_link_retires_the_old_one(db_session: Session, clock: FrozenClock) -> None:
    user = factories.user(db_session)
    assert user.email is not None
    first, second = ask(db_session, user.email), ask(db_session, user.email)
    assert first
    assert second
    assert first != second
    with pytest.raises(ValidationFailed):
        resets.reset_password(db_session, reset_token=first, new_password="a brand new pw")
    resets.reset_password(db_session, reset_token=second, new_password="a brand new pw")


def test_unknown_and_disabled_addresses_answer_alike_and_get_nothing(
    db_session: Session, clock: FrozenClock, sender: RecordingSender
) -> None:
    off = factories.user(db_session, email="off@example.com", is_active=False)
    assert resets.request_reset(db_session, email="nobody@example.com") is None
    assert ask(db_session, "nobody@example.com") is None
    assert ask(db_session, off.email or "") is None
    assert sender.sent == []  # not even a task: the answer costs what it costs for a known address


def test_the_request_only_queues_the_mail_for_after_commit(
    db_session: Session, clock: FrozenClock, sender: RecordingSender
) -> None:
    user = factories.user(db_session)
    assert user.email is not None
    resets.request_reset(db_session, email=user.email.upper(), locale="en")
    assert sender.sent == [("accounts.send_password_reset", (user.id, "en"), {})]
    assert [m for m in SandboxOutbox(db_session).latest("email") if m.recipient == user.email] == []


def test_the_mail_task_sends_nothing_for_an_account_disabled_since(db_session: Session, clock: FrozenClock) -> None:
    user = factories.user(db_session, is_active=False)
    outbox = SandboxOutbox(db_session)
    assert not resets.send_reset_link(db_session, outbox, user_id=user.id, base_url=BASE, ttl=HOUR)


def test_many_requests_for_one_account_stop_sending(db_session: Session, clock: FrozenClock) -> None:
    user = factories.user(db_session)
    assert user.email is not None
    sent = [ask(db_session, user.email) for _ in range(resets.MAX_LINKS_PER_HOUR + 2)]
    assert all(sent[: resets.MAX_LINKS_PER_HOUR])
    assert sent[resets.MAX_LINKS_PER_HOUR :] == [None, None]
    clock.advance(minutes=61)
    assert ask(db_session, user.email) is not None


def test_a_short_password_and_a_made_up_token_are_refused_with_sentences(db_session: Session) -> None:
    with pytest.raises(ValidationFailed) as err:
        resets.reset_password(db_session, reset_token="x", new_password="short")
    assert err.value.message("zh-CN") == "密码至少需要 8 个字符"
    with pytest.raises(ValidationFailed) as err:
        resets.reset_password(db_session, reset_token="made-up", new_password="long enough")
    assert err.value.code == "reset_token_invalid"


def test_the_mail_is_in_the_asker_language(db_session: Session, clock: FrozenClock) -> None:
    user = factories.user(db_session, display_name="Lin")
    assert user.email is not None
    ask(db_session, user.email, locale="en")
    mail = SandboxOutbox(db_session).latest("email", 1)[0]
    assert mail.recipient == user.email
    assert mail.subject == "Reset your xinglian password"
    assert "Hello Lin" in mail.body
    assert "&lang=en" in mail.body
    assert "60 minutes" in mail.body


def test_a_phone_only_account_has_no_password_to_match(db_session: Session) -> None:
    user = User(phone="+8613800138000", display_name="x")
    db_session.add(user)
    db_session.flush()
    assert user.password_hash == ""
    assert not passwords.verify_password(user.password_hash, "")

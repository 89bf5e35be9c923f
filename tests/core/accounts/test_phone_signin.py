"""Phone + SMS code sign-in: codes expire, work once, die after wrong tries, and each number is rate-limited."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts import phone as phones
from core.accounts.delivery import SandboxOutbox
from core.accounts.models import SmsCode, User
from core.clock import FrozenClock
from core.errors import Conflict, RateLimited, ValidationFailed, translate
from tests import factories

POLICY = phones.SmsPolicy(secret="test-secret-key-0123456789abcdef")
PHONE = "+8613800138000"


def send(session: Session, phone: str = PHONE) -> str:
    """Ask for a code and read it from the sandbox, as a person reads their phone."""
    outbox = SandboxOutbox(session)
    phones.send_code(session, outbox, phone=phone, ip_hash="ip", policy=POLICY)
    text = outbox.latest("sms", 1)[0]
    assert text.recipient == phones.normalise_phone(phone)
    found = re.search(r"\b(\d{6})\b", text.body)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize(
    "raw", ["13800138000", "138 0013 8000", "+86 138-0013-8000", "8613800138000", "008613800138000", "+86(138)00138000"]
)
def test_mainland_mobile_numbers_are_kept_in_e164(raw: str) -> None:
    assert phones.normalise_phone(raw) == PHONE


@pytest.mark.parametrize("raw", ["", "12800138000", "1380013800", "138001380001", "+1 415 555 0100", "abc", "+8612"])
def test_other_numbers_are_refused_with_a_sentence(raw: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        phones.normalise_phone(raw)
    assert err.value.code == "phone_invalid"
    assert "11 位手机号" in err.value.message("zh-CN")
    assert "mainland China mobile" in err.value.message("en")


def test_the_first_code_creates_the_account_and_later_codes_sign_it_in(db_session: Session, clock: FrozenClock) -> None:
    user, created = phones.sign_in_with_code(db_session, phone=PHONE, code=send(db_session), policy=POLICY)
    assert created
    assert user.phone == PHONE
    assert user.email is None
    assert user.display_name == "用户8000"
    clock.advance(seconds=61)
    again, created_again = phones.sign_in_with_code(
        db_session, phone="138 0013 8000", code=send(db_session), policy=POLICY, display_name="ignored"
    )
    assert again.id == user.id
    assert not created_again
    assert again.display_name == "用户8000"


def test_a_new_account_takes_the_name_given(db_session: Session, clock: FrozenClock) -> None:
    user, _ = phones.sign_in_with_code(
        db_session, phone=PHONE, code=send(db_session), policy=POLICY, display_name=" 小星 "
    )
    assert user.display_name == "小星"


def test_codes_are_stored_hashed(db_session: Session, clock: FrozenClock) -> None:
    code = send(db_session)
    row = db_session.scalar(select(SmsCode).where(SmsCode.phone == PHONE))
    assert row is not None
    assert code not in row.code_hash
    assert len(row.code_hash) == 64


def test_a_code_expires_after_five_minutes(db_session: Session, clock: FrozenClock) -> None:
    code = send(db_session)
    clock.advance(seconds=300)
    with pytest.raises(ValidationFailed) as err:
        phones.sign_in_with_code(db_session, phone=PHONE, code=code, policy=POLICY)
    assert err.value.code == "sms_code_invalid"
    assert db_session.scalar(select(User).where(User.phone == PHONE)) is None


def test_a_code_works_just_before_it_expires(db_session: Session, clock: FrozenClock) -> None:
    code = send(db_session)
    clock.advance(seconds=299)
    user, _ = phones.sign_in_with_code(db_session, phone=PHONE, code=code, policy=POLICY)
    assert user.phone == PHONE


def test_a_code_works_once(db_session: Session, clock: FrozenClock) -> None:
    code = send(db_session)
    phones.sign_in_with_code(db_session, phone=PHONE, code=code, policy=POLICY)
    with pytest.raises(ValidationFailed) as err:
        phones.sign_in_with_code(db_session, phone=PHONE, code=code, policy=POLICY)
    assert err.value.code == "sms_code_invalid"


def test_a_new_code_retires_the_previous_one(db_session: Session, clock: FrozenClock) -> None:
    first = send(db_session)
    clock.advance(seconds=61)
    second = send(db_session)
    if first != second:
        with pytest.raises(ValidationFailed):
            phones.sign_in_with_code(db_session, phone=PHONE, code=first, policy=POLICY)
    user, _ = phones.sign_in_with_code(db_session, phone=PHONE, code=second, policy=POLICY)
    assert user.phone == PHONE


def test_five_wrong_tries_kill_the_code(db_session: Session, clock: FrozenClock) -> None:
    code = send(db_session)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    lefts = []
    for _ in range(4):
        with pytest.raises(ValidationFailed) as err:
            phones.sign_in_with_code(db_session, phone=PHONE, code=wrong, policy=POLICY)
        assert err.value.code == "sms_code_wrong"
        lefts.append(err.value.params["left"])
    assert lefts == [4, 3, 2, 1]
    assert "还可以再试 1 次" in err.value.message("zh-CN")
    with pytest.raises(ValidationFailed) as err:
        phones.sign_in_with_code(db_session, phone=PHONE, code=wrong, policy=POLICY)
    assert err.value.code == "sms_code_locked"
    with pytest.raises(ValidationFailed) as err:  # the right code no longer helps
        phones.sign_in_with_code(db_session, phone=PHONE, code=code, policy=POLICY)
    assert err.value.code == "sms_code_locked"
    assert db_session.scalar(select(User).where(User.phone == PHONE)) is None


def test_a_number_gets_one_code_a_minute(db_session: Session, clock: FrozenClock) -> None:
    send(db_session)
    clock.advance(seconds=20)
    with pytest.raises(RateLimited) as err:
        send(db_session)
    assert err.value.code == "sms_too_soon"
    assert err.value.headers["Retry-After"] == "40"
    assert "40 秒后" in err.value.message("zh-CN")
    send(db_session, "13900139000")  # another number is not held up
    clock.advance(seconds=40)
    send(db_session)


def test_a_number_gets_ten_codes_a_day(db_session: Session, clock: FrozenClock) -> None:
    for _ in range(10):
        send(db_session)
        clock.advance(seconds=61)
    with pytest.raises(RateLimited) as err:
        send(db_session)
    assert err.value.code == "sms_daily_limit"
    assert 0 < int(err.value.headers["Retry-After"]) <= 86400
    clock.advance(days=1)
    send(db_session)


def test_the_text_says_how_long_the_code_lasts(db_session: Session, clock: FrozenClock) -> None:
    outbox = SandboxOutbox(db_session)
    phones.send_code(db_session, outbox, phone=PHONE, ip_hash="ip", policy=POLICY, locale="en")
    assert "valid for 5 minutes" in outbox.latest("sms", 1)[0].body
    assert translate("sms_code_invalid", "en").startswith("The code is wrong")


def test_a_signed_in_user_binds_a_phone(db_session: Session, clock: FrozenClock) -> None:
    user = factories.user(db_session)
    phones.bind_phone(db_session, user, phone="13800138000", code=send(db_session), policy=POLICY)
    assert user.phone == PHONE
    clock.advance(seconds=61)
    signed_in, created = phones.sign_in_with_code(db_session, phone=PHONE, code=send(db_session), policy=POLICY)
    assert signed_in.id == user.id
    assert not created


def test_a_phone_belongs_to_one_account(db_session: Session, clock: FrozenClock) -> None:
    owner, _ = phones.sign_in_with_code(db_session, phone=PHONE, code=send(db_session), policy=POLICY)
    other = factories.user(db_session)
    clock.advance(seconds=61)
    with pytest.raises(Conflict) as err:
        phones.bind_phone(db_session, other, phone=PHONE, code=send(db_session), policy=POLICY)
    assert err.value.code == "phone_taken"
    assert other.phone is None
    assert owner.phone == PHONE


def test_binding_without_the_right_code_says_nothing_about_the_number(db_session: Session, clock: FrozenClock) -> None:
    phones.sign_in_with_code(db_session, phone=PHONE, code=send(db_session), policy=POLICY)
    other = factories.user(db_session)
    with pytest.raises(ValidationFailed) as err:  # not "phone_taken": that would tell who has an account
        phones.bind_phone(db_session, other, phone=PHONE, code="000000", policy=POLICY)
    assert err.value.code == "sms_code_invalid"

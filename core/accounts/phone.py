"""Phone number + SMS code sign-in, and binding a phone to a signed-in account.

A code is 6 digits, kept only as a keyed hash (HMAC with the app's secret, bound to the phone number), valid for
a few minutes, good once, and dead after a few wrong tries. Each number gets at most one code a minute and a
handful a day; the web layer limits each address on top (web.ratelimit). Numbers are mainland China mobiles,
kept in E.164 (+86 and 11 digits).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import clock
from core.accounts.delivery import SmsProvider
from core.accounts.models import SmsCode, User
from core.errors import Conflict, DomainError, FieldError, RateLimited, ValidationFailed, register_messages

register_messages(
    {
        "phone_invalid": (
            "请输入中国大陆 11 位手机号，例如 138 0013 8000",
            "Enter a mainland China mobile number of 11 digits, such as 138 0013 8000",
        ),
        "sms_code_invalid": (
            "验证码错误或已过期，请重新获取",
            "The code is wrong or has expired; please ask for a new one",
        ),
        "sms_code_wrong": (
            "验证码不正确，还可以再试 {left} 次",
            "That code is not right; {left} more tries",
        ),
        "sms_code_locked": (
            "验证码错误次数过多，请重新获取",
            "Too many wrong tries for this code; please ask for a new one",
        ),
        "sms_too_soon": (
            "验证码已发送，请 {retry_after} 秒后再重新获取",
            "A code was just sent; you can ask for another in {retry_after} s",
        ),
        "sms_daily_limit": (
            "这个手机号今天获取验证码的次数已达上限，请明天再试",
            "This number has had as many codes as it may today; please try again tomorrow",
        ),
        "phone_taken": ("这个手机号已绑定其他账号", "This phone number belongs to another account"),
        "sms_text": (
            "【星炼】验证码 {code}，{minutes} 分钟内有效。请勿告诉他人。",
            "[xinglian] Your code is {code}, valid for {minutes} minutes. Never share it.",
        ),
    }
)

# +86 / 0086 / 86 prefix optional; spaces, dashes and dots between digits are fine.
_MOBILE = re.compile(r"1[3-9]\d{9}")


@dataclass(frozen=True)
class SmsPolicy:
    secret: str  # keys the code hashes
    ttl_seconds: int = 300
    max_attempts: int = 5
    resend_seconds: int = 60
    per_day: int = 10


@dataclass(frozen=True)
class CodeSent:
    phone: str
    expires_in: int
    resend_after: int


def normalise_phone(raw: str) -> str:
    """A mainland China mobile number in E.164 (+8613800138000), or ValidationFailed("phone_invalid")."""
    digits = re.sub(r"[\s\-.()（）]", "", raw or "")
    if digits.startswith("+"):
        digits = digits[1:]
        if not digits.startswith("86"):
            raise _bad_phone()
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not _MOBILE.fullmatch(digits):
        raise _bad_phone()
    return "+86" + digits


def mask_phone(phone: str) -> str:
    """+8613800138000 -> 138****8000, as Chinese apps show a number back."""
    local = phone.removeprefix("+86")
    return f"{local[:3]}****{local[-4:]}"


def _bad_phone() -> ValidationFailed:
    return ValidationFailed("phone_invalid", fields=[FieldError("phone", "phone_invalid")])


def _hash(policy: SmsPolicy, phone: str, code: str) -> str:
    return hmac.new(policy.secret.encode(), f"sms:{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def _sms_text(code: str, minutes: int, locale: str) -> str:
    from core.errors import translate

    return translate("sms_text", locale, {"code": code, "minutes": minutes})


def send_code(
    session: Session, provider: SmsProvider, *, phone: str, ip_hash: str, policy: SmsPolicy, locale: str = "zh-CN"
) -> CodeSent:
    """Send a new 6-digit code to `phone` (any format `normalise_phone` reads). Earlier codes stop working."""
    phone = normalise_phone(phone)
    now = clock.now()
    recent = list(
        session.scalars(
            select(SmsCode.created_at)
            .where(SmsCode.phone == phone, SmsCode.created_at > now - dt.timedelta(days=1))
            .order_by(SmsCode.created_at.desc())
        )
    )
    if recent and (wait := policy.resend_seconds - int((now - recent[0]).total_seconds())) > 0:
        session.rollback()
        raise RateLimited(retry_after=wait, code="sms_too_soon")
    if len(recent) >= policy.per_day:
        session.rollback()
        raise RateLimited(retry_after=max(1, int((recent[-1] + dt.timedelta(days=1) - now).total_seconds())),
                          code="sms_daily_limit")  # fmt: skip
    # One live code per number: asking again retires the previous one.
    session.execute(update(SmsCode).where(SmsCode.phone == phone, SmsCode.used_at.is_(None)).values(used_at=now))
    code = f"{secrets.randbelow(10**6):06d}"
    session.add(
        SmsCode(
            phone=phone,
            code_hash=_hash(policy, phone, code),
            ip_hash=ip_hash,
            created_at=now,
            expires_at=now + dt.timedelta(seconds=policy.ttl_seconds),
        )
    )
    session.commit()
    provider.send_sms(phone, _sms_text(code, max(1, policy.ttl_seconds // 60), locale))
    return CodeSent(phone=phone, expires_in=policy.ttl_seconds, resend_after=policy.resend_seconds)


def _consume_code(session: Session, *, phone: str, code: str, policy: SmsPolicy) -> None:
    """Use up the number's live code if `code` is it; a wrong try is counted (and committed) before refusing."""
    now = clock.now()
    row = session.scalar(
        select(SmsCode)
        .where(SmsCode.phone == phone, SmsCode.used_at.is_(None), SmsCode.expires_at > now)
        .order_by(SmsCode.id.desc())
        .limit(1)
    )
    if row is None:
        session.rollback()
        raise ValidationFailed("sms_code_invalid", fields=[FieldError("code", "sms_code_invalid")])
    # Every try is counted first, in the database and only while tries are left, so parallel guesses cannot each
    # read the old count and all get a go.
    counted = session.execute(
        update(SmsCode)
        .where(SmsCode.id == row.id, SmsCode.used_at.is_(None), SmsCode.attempts < policy.max_attempts)
        .values(attempts=SmsCode.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if counted.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise ValidationFailed("sms_code_locked", fields=[FieldError("code", "sms_code_locked")])
    tries = session.scalar(select(SmsCode.attempts).where(SmsCode.id == row.id)) or policy.max_attempts
    if not hmac.compare_digest(row.code_hash, _hash(policy, phone, code.strip())):
        session.commit()
        left = policy.max_attempts - tries
        if left <= 0:
            raise ValidationFailed("sms_code_locked", fields=[FieldError("code", "sms_code_locked")])
        raise ValidationFailed("sms_code_wrong", fields=[FieldError("code", "sms_code_wrong", params={"left": left})],
                               left=left)  # fmt: skip
    # Single use even under a race: only one request flips used_at from NULL.
    used = session.execute(
        update(SmsCode)
        .where(SmsCode.id == row.id, SmsCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise ValidationFailed("sms_code_invalid", fields=[FieldError("code", "sms_code_invalid")])


def default_display_name(phone: str) -> str:
    return f"用户{phone[-4:]}"


def sign_in_with_code(
    session: Session, *, phone: str, code: str, policy: SmsPolicy, display_name: str | None = None
) -> tuple[User, bool]:
    """The user with this phone, created on the first verified code; and whether it was just created."""
    phone = normalise_phone(phone)
    _consume_code(session, phone=phone, code=code, policy=policy)
    user = session.scalar(select(User).where(User.phone == phone))
    created = user is None
    if user is None:
        name = (display_name or "").strip() or default_display_name(phone)
        user = User(phone=phone, display_name=name[:64], password_hash="")
        session.add(user)
    try:
        session.commit()
    except IntegrityError as exc:  # the same number signed up in a parallel request with its own code
        session.rollback()
        raise Conflict("phone_taken") from exc
    if not user.is_active:
        raise DomainError("account_disabled")
    return user, created


def bind_phone(session: Session, user: User, *, phone: str, code: str, policy: SmsPolicy) -> User:
    """Give a signed-in account a phone number it proves with a code; a number has one account."""
    phone = normalise_phone(phone)
    _consume_code(session, phone=phone, code=code, policy=policy)  # first: only the number's owner learns of a clash
    owner = session.scalar(select(User.id).where(User.phone == phone))
    if owner is not None and owner != user.id:
        session.commit()  # the code is spent either way
        raise Conflict("phone_taken")
    user.phone = phone
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("phone_taken") from exc
    return user

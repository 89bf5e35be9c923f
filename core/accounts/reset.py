"""Forgotten passwords: a single-use, expiring link by e-mail, then a new password that signs out everywhere.

Asking for a link answers the same, and as fast, whether or not the address has an account, so the form cannot be
used to find out who is registered: the mail itself goes out from a task. Only the token's SHA-256 is stored; a
new link retires the older ones.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core import clock
from core.accounts import passwords
from core.accounts.delivery import Mailer
from core.accounts.models import PasswordResetToken, User
from core.accounts.service import normalise_email
from core.errors import FieldError, ValidationFailed, register_field_labels, register_messages, translate
from core.ids import sha256_hex, token
from core.tasks import enqueue_after_commit

register_messages(
    {
        "reset_token_invalid": (
            "重置链接无效、已用过或已过期，请重新申请",
            "This reset link is invalid, already used or expired; please ask for a new one",
        ),
        "password_too_short": ("密码至少需要 8 个字符", "The password needs at least 8 characters"),
        "reset_mail_subject": ("重置你的星炼密码", "Reset your xinglian password"),
        "reset_mail_body": (
            "你好，{name}：\n\n点击下面的链接设置新密码（{minutes} 分钟内有效，只能使用一次）：\n{link}\n\n"
            "如果不是你本人操作，请忽略这封邮件，你的密码不会改变。",
            "Hello {name},\n\nOpen this link to set a new password (valid for {minutes} minutes, once):\n{link}\n\n"
            "If you did not ask for this, ignore this e-mail; your password stays as it is.",
        ),
    }
)

register_field_labels({"token": ("令牌", "The token"), "new_password": ("新密码", "The new password")})

RESET_PATH = "/reset-password"
MAX_LINKS_PER_HOUR = 5  # per account: more requests are answered as usual but send nothing


def request_reset(session: Session, *, email: str, locale: str = "zh-CN") -> None:
    """Queue a reset link for `email` when it belongs to an active account; silently nothing otherwise.

    The request only looks the address up: the token and the mail are made by the `accounts.send_password_reset`
    task after commit, so a known address answers as fast as an unknown one however slow the mail relay is."""
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.is_active or user.email is None:
        session.rollback()
        return
    enqueue_after_commit(session, "accounts.send_password_reset", user.id, locale)
    session.commit()


def send_reset_link(
    session: Session, mailer: Mailer, *, user_id: int, base_url: str, ttl: dt.timedelta, locale: str = "zh-CN"
) -> bool:
    """Make a fresh link (retiring older ones) and mail it; False when nothing was sent (account gone or off, or
    already sent as many links this hour as one person needs)."""
    user = session.get(User, user_id)
    if user is None or not user.is_active or user.email is None:
        session.rollback()
        return False
    now = clock.now()
    recent = session.scalar(
        select(func.count()).where(
            PasswordResetToken.user_id == user.id, PasswordResetToken.created_at > now - dt.timedelta(hours=1)
        )
    )
    if (recent or 0) >= MAX_LINKS_PER_HOUR:
        session.rollback()
        return False
    plain = token(32)
    _retire_links(session, user.id, now)
    session.add(PasswordResetToken(user_id=user.id, token_hash=sha256_hex(plain), created_at=now, expires_at=now + ttl))
    session.commit()
    link = f"{base_url.rstrip('/')}{RESET_PATH}?token={quote(plain)}"
    if locale == "en":
        link += "&lang=en"
    params = {"name": user.display_name, "minutes": int(ttl.total_seconds() // 60), "link": link}
    mailer.send_mail(user.email, translate("reset_mail_subject", locale), translate("reset_mail_body", locale, params))
    return True


def reset_password(session: Session, *, reset_token: str, new_password: str) -> User:
    """Set a new password with a link's token; the token is spent and every session and API token ends."""
    if len(new_password) < 8:
        raise ValidationFailed("password_too_short", fields=[FieldError("new_password", "password_too_short")])
    now = clock.now()
    row = session.scalar(select(PasswordResetToken).where(PasswordResetToken.token_hash == sha256_hex(reset_token)))
    if row is None or row.used_at is not None or row.expires_at <= now:
        session.rollback()
        raise _invalid()
    # Single use even when the link is opened twice at once: only one request flips used_at.
    spent = session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.id == row.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )
    user = session.get(User, row.user_id)
    if spent.rowcount != 1 or user is None or not user.is_active:  # type: ignore[attr-defined]
        session.rollback()
        raise _invalid()
    user.password_hash = passwords.hash_password(new_password)
    user.auth_version += 1  # signs out every session and token, the attacker's included
    _retire_links(session, user.id, now)
    session.commit()
    return user


def _retire_links(session: Session, user_id: int, now: dt.datetime) -> None:
    session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user_id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )


def _invalid() -> ValidationFailed:
    return ValidationFailed("reset_token_invalid", fields=[FieldError("token", "reset_token_invalid")])

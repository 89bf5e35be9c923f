"""Account operations: registration, sign-in with rate limiting, tokens, brand membership."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import clock
from core.accounts import passwords
from core.accounts.models import (
    ApiToken,
    Brand,
    BrandMember,
    BrandRole,
    LoginAttempt,
    PasswordResetToken,
    SandboxMessage,
    SmsCode,
    User,
)
from core.accounts.permissions import require_admin, require_brand_member
from core.errors import Conflict, DomainError, NotAuthenticated, NotFound, RateLimited, ValidationFailed
from core.ids import sha256_hex, token
from core.retention import delete_in_batches

SignupRole = Literal["viewer", "artist", "brand"]


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int = 5
    ip_max_failures: int = 30
    window_seconds: int = 900


def normalise_email(email: str) -> str:
    return email.strip().lower()


def register(
    session: Session,
    *,
    email: str,
    password: str,
    display_name: str,
    role: SignupRole = "viewer",
    brand_name: str | None = None,
) -> User:
    email = normalise_email(email)
    if len(password) < 8:
        raise ValidationFailed.one("password", "string_too_short")
    if role == "brand" and not (brand_name and brand_name.strip()):
        raise ValidationFailed.one("brand_name", "missing")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("email_taken")
    user = User(
        email=email,
        display_name=display_name.strip(),
        password_hash=passwords.hash_password(password),
        is_artist=role == "artist",
    )
    session.add(user)
    if role == "brand":
        assert brand_name is not None
        if session.scalar(select(Brand.id).where(Brand.name == brand_name.strip())) is not None:
            raise Conflict("brand_name_taken")
        brand = Brand(name=brand_name.strip())
        session.add(brand)
        session.flush()
        session.add(BrandMember(brand_id=brand.id, user_id=user.id, role=BrandRole.OWNER))
    try:
        session.commit()
    except IntegrityError as exc:  # a concurrent sign-up with the same e-mail won the race
        session.rollback()
        raise Conflict("email_taken") from exc
    session.refresh(user)
    return user


def authenticate(session: Session, *, email: str, password: str, ip_hash: str, policy: LoginPolicy) -> User:
    """Check a password; too many recent failures for the e-mail or the IP lock sign-in out for a while."""
    email = normalise_email(email)
    now = clock.now()
    since = now - dt.timedelta(seconds=policy.window_seconds)
    by_email = (
        session.scalar(
            select(func.count()).where(
                LoginAttempt.email == email, LoginAttempt.at >= since, LoginAttempt.succeeded.is_(False)
            )
        )
        or 0
    )
    by_ip = (
        session.scalar(
            select(func.count()).where(
                LoginAttempt.ip_hash == ip_hash, LoginAttempt.at >= since, LoginAttempt.succeeded.is_(False)
            )
        )
        or 0
    )
    if by_email >= policy.max_failures or by_ip >= policy.ip_max_failures:
        session.rollback()
        raise RateLimited(retry_after=policy.window_seconds)
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        passwords.burn_time(password)
        ok = False
    else:
        ok = passwords.verify_password(user.password_hash, password)
    session.add(LoginAttempt(email=email, ip_hash=ip_hash, succeeded=ok, at=now))
    if ok and user is not None and passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    session.commit()
    if not ok or user is None:
        raise NotAuthenticated("invalid_credentials")
    if not user.is_active:
        raise DomainError("account_disabled")
    return user


def issue_token(session: Session, user: User, *, name: str = "api", ttl_days: int = 30) -> str:
    plain = "xl_" + token(32)
    session.add(
        ApiToken(
            user_id=user.id,
            token_hash=sha256_hex(plain),
            name=name,
            auth_version=user.auth_version,
            expires_at=clock.now() + dt.timedelta(days=ttl_days),
        )
    )
    session.commit()
    return plain


def user_for_token(session: Session, plain: str) -> User | None:
    """The active user behind a bearer token, or None for unknown, expired, revoked or stale tokens."""
    if not plain.startswith("xl_"):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == sha256_hex(plain)))
    now = clock.now()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    user = row.user
    if not user.is_active or row.auth_version != user.auth_version:
        return None
    return user


def revoke_token(session: Session, plain: str) -> None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == sha256_hex(plain)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = clock.now()
        session.commit()


def user_for_session(session: Session, user_id: int, auth_version: int) -> User | None:
    user = session.get(User, user_id)
    if user is None or not user.is_active or user.auth_version != auth_version:
        return None
    return user


def change_password(session: Session, user: User, *, old: str, new: str) -> None:
    if not passwords.verify_password(user.password_hash, old):
        raise NotAuthenticated("invalid_credentials")
    if len(new) < 8:
        raise ValidationFailed.one("new_password", "string_too_short")
    user.password_hash = passwords.hash_password(new)
    user.auth_version += 1  # signs out every other session and token
    session.commit()


def become_artist(session: Session, user: User) -> User:
    user.is_artist = True
    session.commit()
    return user


def get_brand(session: Session, brand_id: int) -> Brand:
    brand = session.get(Brand, brand_id)
    if brand is None:
        raise NotFound("brand")
    return brand


def brand_members(session: Session, actor: User, brand_id: int) -> list[BrandMember]:
    require_brand_member(session, actor, brand_id)
    return list(get_brand(session, brand_id).members)


def update_brand(session: Session, actor: User, brand_id: int, *, name: str | None, description: str | None) -> Brand:
    require_brand_member(session, actor, brand_id)
    brand = get_brand(session, brand_id)
    if name is not None:
        brand.name = name.strip()
    if description is not None:
        brand.description = description
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("brand_name_taken") from exc
    return brand


def add_brand_member(session: Session, actor: User, brand_id: int, *, email: str, role: BrandRole) -> BrandMember:
    require_brand_member(session, actor, brand_id, owner=True)
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise NotFound("user")
    if session.get(BrandMember, (brand_id, user.id)) is not None:
        raise Conflict("already_member")
    member = BrandMember(brand_id=brand_id, user_id=user.id, role=role)
    session.add(member)
    session.commit()
    return member


def set_user_active(session: Session, actor: User, user_id: int, *, active: bool) -> User:
    require_admin(actor)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user")
    user.is_active = active
    if not active:
        user.auth_version += 1
    session.commit()
    return user


def prune_login_attempts(session: Session, *, older_than: dt.datetime) -> int:
    """Sign-in attempts older than the retention say nothing about a throttle any more. Commits."""
    return delete_in_batches(session, LoginAttempt, LoginAttempt.at < older_than)


def prune_sign_in_codes(session: Session, *, older_than: dt.datetime) -> int:
    """SMS codes, reset links and sandbox deliveries older than the retention (well past their use, and past the
    day a number's code count looks back over). Commits."""
    return sum(
        delete_in_batches(session, model, model.created_at < older_than)
        for model in (SmsCode, PasswordResetToken, SandboxMessage)
    )

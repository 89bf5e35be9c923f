"""Account operations: registration, sign-in with rate limiting, tokens, brand membership."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import and_, bindparam, func, or_, select
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
    WeChatOAuthState,
)
from core.accounts.permissions import require_admin, require_brand_member
from core.db import UTCDateTime
from core.errors import (
    Conflict,
    DomainError,
    NotAuthenticated,
    NotFound,
    RateLimited,
    ValidationFailed,
    register_field_labels,
)
from core.ids import sha256_hex, token
from core.retention import delete_in_batches

SignupRole = Literal["viewer", "artist", "brand"]

register_field_labels({"role": ("账号身份", "The account type"), "brand_name": ("品牌名称", "The brand name")})


@dataclass(frozen=True)
class LoginPolicy:
    """The sign-in throttle: exponential backoff per account and source, and wider backoffs that spare known sources.

    Each scope lets its first `*free_failures` failures through; after that the next attempt waits
    `backoff_base_seconds × 2^(failures − free)` (at most `backoff_max_seconds`) from the scope's latest failure.
    Failures count for `window_seconds`; a refused attempt is not a failure (the password is never checked).

    - source: this account from this source — the device when it has signed in to this account before, else the
      IP. A success from the source clears it. It applies to everyone, known or not.
    - account: this account's failures from every source (guessing spread over many IPs).
    - ip: this IP's failures across accounts (credential stuffing).
    The account and IP scopes never hold back a known source: a device or an IP that signed in to this account
    within `known_source_days`, so nobody else's failures keep its owner out.
    """

    free_failures: int = 3
    account_free_failures: int = 20
    ip_free_failures: int = 30
    backoff_base_seconds: int = 1
    backoff_max_seconds: int = 900
    window_seconds: int = 86400
    known_source_days: int = 90

    def delay_seconds(self, failures: int, free: int) -> int:
        """How long after the latest of `failures` the next attempt waits, for a scope that lets `free` through."""
        if failures < free:
            return 0
        doublings: int = min(failures - free, 40)
        return min(self.backoff_max_seconds, self.backoff_base_seconds << doublings)


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


def authenticate(
    session: Session, *, email: str, password: str, ip_hash: str, device_hash: str | None, policy: LoginPolicy
) -> User:
    """Check a password, unless the sign-in throttle (`LoginPolicy`) says this source must wait first."""
    email = normalise_email(email)
    now = clock.now()
    retry_after = _sign_in_wait(session, email=email, ip_hash=ip_hash, device_hash=device_hash, policy=policy, now=now)
    if retry_after > 0:
        session.rollback()
        raise RateLimited(retry_after=retry_after)
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        passwords.burn_time(password)
        ok = False
    else:
        ok = passwords.verify_password(user.password_hash, password)
    session.add(LoginAttempt(email=email, ip_hash=ip_hash, device_hash=device_hash, succeeded=ok, at=now))
    if ok and user is not None and passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    session.commit()
    if not ok or user is None:
        raise NotAuthenticated("invalid_credentials")
    if not user.is_active:
        raise DomainError("account_disabled")
    return user


def _sign_in_wait(
    session: Session, *, email: str, ip_hash: str, device_hash: str | None, policy: LoginPolicy, now: dt.datetime
) -> int:
    """Whole seconds until this source may try this account's password again (0: now)."""
    since = now - dt.timedelta(seconds=policy.window_seconds)
    succeeded = select(LoginAttempt.id).where(
        LoginAttempt.email == email,
        LoginAttempt.succeeded.is_(True),
        LoginAttempt.at >= now - dt.timedelta(days=policy.known_source_days),
    )
    known_device = (
        device_hash is not None
        and session.scalar(succeeded.where(LoginAttempt.device_hash == device_hash).limit(1)) is not None
    )
    known = known_device or session.scalar(succeeded.where(LoginAttempt.ip_hash == ip_hash).limit(1)) is not None
    # A device that signed in here before is its own source, wherever it connects from: failures of others behind
    # its IP are not its own. Any other client is its IP, whatever device id it sends (new ids buy nothing).
    source = LoginAttempt.device_hash == device_hash if known_device else LoginAttempt.ip_hash == ip_hash
    last_success = session.scalar(
        select(func.max(LoginAttempt.id)).where(
            LoginAttempt.email == email, source, LoginAttempt.succeeded.is_(True), LoginAttempt.at >= since
        )
    )
    scopes = [
        (policy.free_failures, [LoginAttempt.email == email, source, LoginAttempt.id > (last_success or 0)]),
    ]
    if not known:
        scopes.append((policy.account_free_failures, [LoginAttempt.email == email]))
        scopes.append((policy.ip_free_failures, [LoginAttempt.ip_hash == ip_hash]))
    wait = 0
    for free, where in scopes:
        failures, latest = session.execute(
            select(func.count(), func.max(LoginAttempt.at)).where(
                *where, LoginAttempt.succeeded.is_(False), LoginAttempt.at >= since
            )
        ).one()
        if latest is None:
            continue
        allowed_at = latest + dt.timedelta(seconds=policy.delay_seconds(int(failures), free))
        wait = max(wait, math.ceil((allowed_at - now).total_seconds()))
    return wait


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


# Every request loads its caller: one query for the user behind a live token (its checks in SQL, one entity to
# build); their brand memberships (a query of their own: the relationship's lazy default) load when first asked
# for (brand pages, permission checks), in the same session.
_CALLER = (
    select(User)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(
        ApiToken.token_hash == bindparam("token_hash"),
        ApiToken.revoked_at.is_(None),
        ApiToken.expires_at > bindparam("now", type_=UTCDateTime()),
        ApiToken.auth_version == User.auth_version,
        User.is_active.is_(True),
    )
)


def user_for_token(session: Session, plain: str) -> User | None:
    """The active user behind a bearer token, or None for unknown, expired, revoked or stale tokens."""
    if not plain.startswith("xl_"):
        return None
    user: User | None = session.scalar(_CALLER, {"token_hash": sha256_hex(plain), "now": clock.now()})
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


def prune_login_attempts(
    session: Session, *, older_than: dt.datetime, successes_older_than: dt.datetime | None = None
) -> int:
    """Sign-in attempts older than the retention say nothing about a throttle any more. Successes may be kept
    longer (`successes_older_than`, never shorter): they are what makes a device or IP a known source. Commits."""
    keep_successes_until = min(older_than, successes_older_than or older_than)
    return delete_in_batches(
        session,
        LoginAttempt,
        or_(
            and_(LoginAttempt.succeeded.is_(False), LoginAttempt.at < older_than),
            and_(LoginAttempt.succeeded.is_(True), LoginAttempt.at < keep_successes_until),
        ),
    )


def prune_sign_in_codes(session: Session, *, older_than: dt.datetime) -> int:
    """SMS codes, reset links and sandbox deliveries older than the retention (well past their use, and past the
    day a number's code count looks back over), and spent WeChat sign-in states (whose states expired minutes
    after they were made). Commits."""
    spent = delete_in_batches(session, WeChatOAuthState, WeChatOAuthState.used_at < older_than)
    return spent + sum(
        delete_in_batches(session, model, model.created_at < older_than)
        for model in (SmsCode, PasswordResetToken, SandboxMessage)
    )

"""Sign-up, sign-in (password, or phone + SMS code), password reset, the caller's profile, brands and admin."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from flask import request
from pydantic import Field

from core import extensions
from core.accounts import phone as phones
from core.accounts import reset as resets
from core.accounts import service as accounts
from core.accounts.delivery import open_sms_provider
from core.accounts.models import BrandRole, User
from web.api.blueprint import bp
from web.api.endpoint import ApiModel, OutModel, endpoint
from web.auth import client_ip_hash, require_current_user, sign_in, sign_out
from web.device import device_hash
from web.i18n import get_locale, t
from web.ratelimit import rate_limited

TAGS = ["accounts"]

Email = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class RegisterIn(ApiModel):
    email: str = Email
    password: str = Field(min_length=8, max_length=256)
    display_name: str = Field(min_length=1, max_length=64)
    role: Literal["viewer", "artist", "brand"] = "viewer"
    brand_name: str | None = Field(default=None, max_length=80)


class LoginIn(ApiModel):
    email: str = Email
    password: str = Field(min_length=1, max_length=256)


class TokenIn(LoginIn):
    name: str = Field(default="api", max_length=64)


class BrandRef(OutModel):
    brand_id: int
    role: BrandRole


class UserOut(OutModel):
    id: int
    email: str | None  # None for accounts made by phone sign-in
    phone: str | None  # E.164, once proven with a code
    display_name: str
    roles: list[str]
    brands: list[BrandRef]
    created_at: dt.datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            email=user.email,
            phone=user.phone,
            display_name=user.display_name,
            roles=sorted(r.value for r in user.roles()),
            brands=[BrandRef(brand_id=m.brand_id, role=m.role) for m in user.memberships],
            created_at=user.created_at,
        )


class SessionOut(OutModel):
    user: UserOut
    csrf_token: str


class TokenOut(OutModel):
    token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the OAuth token type name
    user: UserOut


class PasswordIn(ApiModel):
    old_password: str
    new_password: str = Field(min_length=8, max_length=256)


class BrandOut(OutModel):
    id: int
    name: str
    description: str


class BrandPatch(ApiModel):
    name: str | None = Field(default=None, min_length=1, max_length=80)
    description: str | None = Field(default=None, max_length=2000)


class MemberIn(ApiModel):
    email: str = Email
    role: Literal["owner", "member"] = "member"


class MemberOut(OutModel):
    user_id: int
    role: BrandRole


class UserActiveIn(ApiModel):
    is_active: bool


class SmsCodeIn(ApiModel):
    phone: str = Field(min_length=1, max_length=32, description="A mainland China mobile number, +86 optional")


class SmsCodeOut(OutModel):
    sent_to: str = Field(description="The number, masked as apps show it: 138****8000")
    expires_in: int = Field(description="Seconds the code stays valid")
    resend_after: int = Field(description="Seconds before another code may be asked for")


class PhoneLoginIn(ApiModel):
    phone: str = Field(min_length=1, max_length=32)
    code: str = Field(min_length=1, max_length=12)
    display_name: str | None = Field(default=None, max_length=64, description="Used only when this creates the account")


class PhoneSessionOut(SessionOut):
    created: bool = Field(description="True when this code created the account")


class PhoneBindIn(ApiModel):
    phone: str = Field(min_length=1, max_length=32)
    code: str = Field(min_length=1, max_length=12)


class ForgotIn(ApiModel):
    email: str = Email


class ForgotOut(OutModel):
    message: str = Field(description="The same sentence whether or not the address has an account")


class ResetIn(ApiModel):
    token: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=256)


def _login_policy() -> accounts.LoginPolicy:
    s = extensions.settings()
    return accounts.LoginPolicy(
        free_failures=s.login_free_failures,
        account_free_failures=s.login_account_free_failures,
        ip_free_failures=s.login_ip_free_failures,
        backoff_base_seconds=s.login_backoff_base_seconds,
        backoff_max_seconds=s.login_backoff_max_seconds,
        window_seconds=s.login_window_seconds,
        known_source_days=s.login_known_source_days,
    )


def _authenticate(body: LoginIn) -> User:
    """The caller's source for the sign-in throttle: the client IP (as ProxyFix, when configured, resolved it)
    and the device id the H5 app keeps (`web.device`)."""
    return accounts.authenticate(
        extensions.session(),
        email=body.email,
        password=body.password,
        ip_hash=client_ip_hash(),
        device_hash=device_hash(),
        policy=_login_policy(),
    )


def _sms_policy() -> phones.SmsPolicy:
    s = extensions.settings()
    return phones.SmsPolicy(
        secret=s.secret_key,
        ttl_seconds=s.sms_code_ttl_seconds,
        max_attempts=s.sms_code_max_attempts,
        resend_seconds=s.sms_resend_seconds,
        per_day=s.sms_per_phone_per_day,
    )


@bp.post("/auth/register")
@rate_limited("signup", key="address")
@endpoint(
    summary="Create an account (viewer, artist or brand)",
    tags=TAGS,
    body=RegisterIn,
    response=SessionOut,
    status=201,
    errors=[409],
)
def register(body: RegisterIn) -> SessionOut:
    """Signs the new user in with a cookie session. A brand sign-up also creates the brand, owned by this user."""
    user = accounts.register(
        extensions.session(),
        email=body.email,
        password=body.password,
        display_name=body.display_name,
        role=body.role,
        brand_name=body.brand_name,
    )
    return SessionOut(user=UserOut.of(user), csrf_token=sign_in(user))


@bp.post("/auth/login")
@endpoint(summary="Sign in with a cookie session", tags=TAGS, body=LoginIn, response=SessionOut, errors=[401, 429])
def login(body: LoginIn) -> SessionOut:
    """Send the returned `csrf_token` as `X-CSRF-Token` on every state-changing request made with the cookie."""
    user = _authenticate(body)
    return SessionOut(user=UserOut.of(user), csrf_token=sign_in(user))


@bp.post("/auth/sms/code")
@rate_limited("sms", key="address")
@endpoint(summary="Text a 6-digit sign-in code to a phone", tags=TAGS, body=SmsCodeIn, response=SmsCodeOut,
          status=202, errors=[422, 503])  # fmt: skip
def send_sms_code(body: SmsCodeIn) -> tuple[SmsCodeOut, int]:
    """The code is valid for a few minutes, once; a number gets one code a minute and a few a day. The sandbox
    provider shows sent codes on `/sandbox/sms` (outside production)."""
    session = extensions.session()
    sent = phones.send_code(session, open_sms_provider(extensions.settings(), session), phone=body.phone,
                            ip_hash=client_ip_hash(), policy=_sms_policy(), locale=get_locale())  # fmt: skip
    out = SmsCodeOut(sent_to=phones.mask_phone(sent.phone), expires_in=sent.expires_in, resend_after=sent.resend_after)
    return out, 202


@bp.post("/auth/sms/login")
@endpoint(summary="Sign in with a phone number and its SMS code (creates the account the first time)", tags=TAGS,
          body=PhoneLoginIn, response=PhoneSessionOut, errors=[409, 422])  # fmt: skip
def sms_login(body: PhoneLoginIn) -> PhoneSessionOut:
    user, created = phones.sign_in_with_code(extensions.session(), phone=body.phone, code=body.code,
                                             policy=_sms_policy(), display_name=body.display_name)  # fmt: skip
    return PhoneSessionOut(user=UserOut.of(user), csrf_token=sign_in(user), created=created)


@bp.post("/auth/password/forgot")
@rate_limited("password_reset", key="address")
@endpoint(summary="E-mail a password reset link", tags=TAGS, body=ForgotIn, response=ForgotOut, status=202)
def forgot_password(body: ForgotIn) -> tuple[ForgotOut, int]:
    """Answers the same whether or not the address has an account; the link is valid once, for an hour."""
    minutes = extensions.settings().password_reset_ttl_minutes
    resets.request_reset(extensions.session(), email=body.email, locale=get_locale())
    sentence = t(
        f"如果这个邮箱注册过星炼，重置密码的链接已经发过去了，{minutes} 分钟内有效。",
        f"If this address has a xinglian account, a link to reset its password is on its way (valid {minutes} min).",
    )
    return ForgotOut(message=sentence), 202


@bp.post("/auth/password/reset")
@endpoint(summary="Set a new password with a reset link's token (signs out every session and token)", tags=TAGS,
          body=ResetIn, status=204, errors=[422])  # fmt: skip
def reset_password(body: ResetIn) -> tuple[None, int]:
    resets.reset_password(extensions.session(), reset_token=body.token, new_password=body.new_password)
    return None, 204


@bp.post("/auth/logout")
@endpoint(summary="End the cookie session", tags=TAGS, status=204)
def logout() -> tuple[None, int]:
    sign_out()
    return None, 204


@bp.post("/auth/tokens")
@endpoint(
    summary="Exchange credentials for a bearer token",
    tags=TAGS,
    body=TokenIn,
    response=TokenOut,
    status=201,
    errors=[401, 429],
)
def create_token(body: TokenIn) -> TokenOut:
    s = extensions.session()
    user = _authenticate(body)
    plain = accounts.issue_token(s, user, name=body.name, ttl_days=extensions.settings().api_token_ttl_days)
    return TokenOut(token=plain, user=UserOut.of(user))


@bp.delete("/auth/tokens/current")
@endpoint(summary="Revoke the bearer token used for this request", tags=TAGS, status=204, auth="required")
def revoke_current_token() -> tuple[None, int]:
    header = request.headers.get("Authorization", "")
    accounts.revoke_token(extensions.session(), header.partition(" ")[2].strip())
    return None, 204


@bp.get("/me")
@endpoint(summary="The signed-in user", tags=TAGS, response=UserOut, auth="required")
def me() -> UserOut:
    return UserOut.of(require_current_user())


@bp.post("/me/artist")
@endpoint(summary="Become an artist (creator)", tags=TAGS, response=UserOut, auth="required")
def become_artist() -> UserOut:
    return UserOut.of(accounts.become_artist(extensions.session(), require_current_user()))


@bp.post("/me/phone")
@endpoint(summary="Add a phone number to your account, proven with its SMS code", tags=TAGS, body=PhoneBindIn,
          response=UserOut, auth="required", errors=[409, 422])  # fmt: skip
def bind_phone(body: PhoneBindIn) -> UserOut:
    user = phones.bind_phone(extensions.session(), require_current_user(), phone=body.phone, code=body.code,
                             policy=_sms_policy())  # fmt: skip
    return UserOut.of(user)


@bp.post("/me/password")
@endpoint(
    summary="Change password (signs out other sessions and tokens)",
    tags=TAGS,
    body=PasswordIn,
    status=204,
    auth="required",
    errors=[401],
)
def change_password(body: PasswordIn) -> tuple[None, int]:
    user = require_current_user()
    accounts.change_password(extensions.session(), user, old=body.old_password, new=body.new_password)
    if request.headers.get("Authorization") is None:
        sign_in(user)  # keep this browser signed in under the new auth version
    return None, 204


@bp.get("/brands/<int:brand_id>")
@endpoint(summary="A brand's public profile", tags=["brands"], response=BrandOut, errors=[404])
def get_brand(brand_id: int) -> BrandOut:
    return BrandOut.model_validate(accounts.get_brand(extensions.session(), brand_id))


@bp.patch("/brands/<int:brand_id>")
@endpoint(
    summary="Edit a brand (members only)",
    tags=["brands"],
    body=BrandPatch,
    response=BrandOut,
    auth="required",
    errors=[403, 404, 409],
)
def patch_brand(brand_id: int, body: BrandPatch) -> BrandOut:
    brand = accounts.update_brand(
        extensions.session(), require_current_user(), brand_id, name=body.name, description=body.description
    )
    return BrandOut.model_validate(brand)


@bp.get("/brands/<int:brand_id>/members")
@endpoint(
    summary="A brand's members (members only)", tags=["brands"], response=list[MemberOut], auth="required", errors=[403]
)
def list_members(brand_id: int) -> list[MemberOut]:
    members = accounts.brand_members(extensions.session(), require_current_user(), brand_id)
    return [MemberOut.model_validate(m) for m in members]


@bp.post("/brands/<int:brand_id>/members")
@endpoint(
    summary="Add a member to a brand (owner only)",
    tags=["brands"],
    body=MemberIn,
    response=MemberOut,
    status=201,
    auth="required",
    errors=[403, 404, 409],
)
def add_member(brand_id: int, body: MemberIn) -> MemberOut:
    member = accounts.add_brand_member(
        extensions.session(), require_current_user(), brand_id, email=body.email, role=BrandRole(body.role)
    )
    return MemberOut.model_validate(member)


@bp.patch("/admin/users/<int:user_id>")
@endpoint(
    summary="Enable or disable an account (admin only)",
    tags=["admin"],
    body=UserActiveIn,
    response=UserOut,
    auth="required",
    errors=[403, 404],
)
def admin_set_active(user_id: int, body: UserActiveIn) -> UserOut:
    user = accounts.set_user_active(extensions.session(), require_current_user(), user_id, active=body.is_active)
    return UserOut.of(user)

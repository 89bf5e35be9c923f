"""Sign-up, sign-in (cookie session or bearer token), the caller's profile, brands and admin."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from flask import request
from pydantic import Field

from core import extensions
from core.accounts import service as accounts
from core.accounts.models import BrandRole, User
from web.api.blueprint import bp
from web.api.endpoint import ApiModel, OutModel, endpoint
from web.auth import client_ip_hash, require_current_user, sign_in, sign_out
from web.device import device_hash
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
    email: str
    display_name: str
    roles: list[str]
    brands: list[BrandRef]
    created_at: dt.datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            email=user.email,
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

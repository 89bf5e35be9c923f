from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core import clock
from core.db import Base, str_enum


class Role(enum.StrEnum):
    """What a user can act as. Viewer and sharer need nothing but an account."""

    VIEWER = "viewer"
    SHARER = "sharer"
    ARTIST = "artist"
    BRAND = "brand"
    ADMIN = "admin"


class BrandRole(enum.StrEnum):
    OWNER = "owner"
    MEMBER = "member"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Accounts made by phone sign-in have no e-mail (and no password) until they add one.
    email: Mapped[str | None] = mapped_column(String(254), unique=True, default=None)
    # E.164 (+86...), proven by an SMS code; unique when present.
    phone: Mapped[str | None] = mapped_column(String(20), unique=True, default=None)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255), default="")  # "" matches no password
    is_artist: Mapped[bool] = mapped_column(default=False)
    is_admin: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str] = mapped_column(String(8), default="zh-CN")
    # Bumped on password change or forced sign-out: older sessions stop working.
    auth_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)

    # Loaded when first used (brand pages, permission checks), not with every user: most requests (a purchase, the
    # feed) never ask, and an eager load is one more query each time a user is loaded.
    memberships: Mapped[list[BrandMember]] = relationship(back_populates="user", lazy="select")

    def roles(self) -> set[Role]:
        roles = {Role.VIEWER, Role.SHARER}
        if self.is_artist:
            roles.add(Role.ARTIST)
        if self.memberships:
            roles.add(Role.BRAND)
        if self.is_admin:
            roles.add(Role.ADMIN)
        return roles

    def brand_ids(self) -> list[int]:
        return sorted(m.brand_id for m in self.memberships)


class Brand(Base):
    __tablename__ = "brands"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)

    members: Mapped[list[BrandMember]] = relationship(back_populates="brand", lazy="selectin")


class BrandMember(Base):
    __tablename__ = "brand_members"

    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[BrandRole] = mapped_column(str_enum(BrandRole, 16))
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)

    brand: Mapped[Brand] = relationship(back_populates="members", lazy="joined")
    user: Mapped[User] = relationship(back_populates="memberships")


class ApiToken(Base):
    """A bearer token for the API. Only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64), default="api")
    auth_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[dt.datetime]
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    user: Mapped[User] = relationship(lazy="joined")


class LoginAttempt(Base):
    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "at"),
        Index("ix_login_attempts_ip_at", "ip_hash", "at"),
        # The sign-in throttle's per-source questions: this account's failures and successes from one IP, or
        # from one device (core.accounts.service.authenticate).
        Index("ix_login_attempts_email_ip_at", "email", "ip_hash", "at"),
        Index("ix_login_attempts_email_device_at", "email", "device_hash", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip_hash: Mapped[str] = mapped_column(String(64))
    # The keyed hash of the device id (web.device), when the client sent one.
    device_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    succeeded: Mapped[bool]
    at: Mapped[dt.datetime] = mapped_column(default=clock.now)


class QualificationKind(enum.StrEnum):
    """A brand's papers (资质): the business licence, and one qualification per regulated group of categories."""

    BUSINESS_LICENCE = "business_licence"  # 营业执照
    COSMETICS = "cosmetics"  # 化妆品生产/经营许可或备案
    FOOD = "food"  # 食品经营许可证
    HEALTH_FOOD = "health_food"  # 保健食品批准证书


class QualificationStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class BrandQualification(Base):
    """One document a brand submitted, and the platform's decision (moderation reviews it; catalog reads it)."""

    __tablename__ = "brand_qualifications"
    __table_args__ = (Index("ix_brand_qualifications_brand_kind", "brand_id", "kind", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    kind: Mapped[QualificationKind] = mapped_column(str_enum(QualificationKind, 24))
    licence_number: Mapped[str] = mapped_column(String(64))
    expires_on: Mapped[dt.date | None] = mapped_column(default=None)
    document_key: Mapped[str] = mapped_column(String(300))  # private object storage: reviewers get a signed URL
    content_type: Mapped[str] = mapped_column(String(40))
    status: Mapped[QualificationStatus] = mapped_column(
        str_enum(QualificationStatus, 16), default=QualificationStatus.PENDING
    )
    review_note: Mapped[str | None] = mapped_column(String(500), default=None)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    decided_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class SmsCode(Base):
    """A one-time sign-in code sent to a phone. Only a keyed hash of the code is kept."""

    __tablename__ = "sms_codes"
    __table_args__ = (Index("ix_sms_codes_phone_created", "phone", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64))
    ip_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[dt.datetime]
    attempts: Mapped[int] = mapped_column(default=0)  # tries so far (the right one included)
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class PasswordResetToken(Base):
    """A single-use link sent by e-mail to set a new password. Only the token's SHA-256 is stored."""

    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class SandboxMessage(Base):
    """What the built-in sandbox SMS provider and mailer "delivered": the phone and inbox of development.

    Real providers keep nothing here; `/sandbox/sms` and `/sandbox/mail` list these outside production.
    """

    __tablename__ = "sandbox_messages"
    __table_args__ = (Index("ix_sandbox_messages_channel_id", "channel", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))  # "sms" or "email"
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(String(4000))
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


class WeChatIdentity(Base):
    """A WeChat user as one official account (app) knows them, linked to a xinglian account.

    An openid is per app; the unionid (present once the apps share an open-platform account) is the same person
    across apps, so a second app's first sign-in with a known unionid reaches the same account.
    """

    __tablename__ = "wechat_identities"
    __table_args__ = (UniqueConstraint("app_id", "openid"), Index("ix_wechat_identities_unionid", "unionid"))

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[str] = mapped_column(String(32))
    openid: Mapped[str] = mapped_column(String(64))
    unionid: Mapped[str | None] = mapped_column(String(64), default=None)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    nickname: Mapped[str] = mapped_column(String(64), default="")
    headimgurl: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


class WeChatOAuthState(Base):
    """A spent OAuth `state`: its nonce, so each signed state signs in once (a replayed callback is refused)."""

    __tablename__ = "wechat_oauth_states"

    id: Mapped[int] = mapped_column(primary_key=True)
    nonce: Mapped[str] = mapped_column(String(32), unique=True)
    used_at: Mapped[dt.datetime] = mapped_column(default=clock.now, index=True)


class WeChatCredential(Base):
    """The app's server-side access_token and jsapi_ticket, cached until shortly before they expire (WeChat limits
    how often they may be fetched: never per request)."""

    __tablename__ = "wechat_credentials"

    app_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # "access_token" | "jsapi_ticket"
    value: Mapped[str] = mapped_column(String(600))
    expires_at: Mapped[dt.datetime]

"""Attribution facts: share-link clicks, customer bindings to a sharer, and the devices people use."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from commerce.attribution.links import TargetKind
from core import clock
from core.db import Base, str_enum


class ShareClick(Base):
    """One visit through a valid share link. Its `click_id` travels with the buyer (cookie + URL) to checkout."""

    __tablename__ = "share_clicks"
    __table_args__ = (
        Index("ix_share_clicks_viewer_at", "viewer_id", "clicked_at"),
        Index("ix_share_clicks_device_at", "device_hash", "clicked_at"),
        Index("ix_share_clicks_sharer_at", "sharer_id", "clicked_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    click_id: Mapped[str] = mapped_column(String(40), unique=True)
    sharer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    parent_sharer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    target_kind: Mapped[TargetKind] = mapped_column(str_enum(TargetKind, 16))
    target_id: Mapped[int]
    key_id: Mapped[str] = mapped_column(String(32))
    issued_at: Mapped[dt.datetime]
    clicked_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    ip_hash: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    referrer: Mapped[str] = mapped_column(String(500), default="")
    viewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    device_hash: Mapped[str | None] = mapped_column(String(64), default=None)


class CustomerBinding(Base):
    """A buyer bound to a sharer: while it lasts, that sharer is credited and no other sharer's click takes over."""

    __tablename__ = "customer_bindings"
    __table_args__ = (Index("ix_customer_bindings_buyer_expires", "buyer_id", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    sharer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    parent_sharer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    click_id: Mapped[str | None] = mapped_column(String(40), default=None)
    bound_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[dt.datetime]


class UserDevice(Base):
    """Devices (hashed fingerprints) a user was seen on; self-referral checks compare them."""

    __tablename__ = "user_devices"
    __table_args__ = (Index("ix_user_devices_device", "device_hash"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    device_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seen_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=clock.now)

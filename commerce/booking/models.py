"""Campaign briefs and bookings: the brief a brand writes, each booking of an artist, and its recorded history."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from commerce.artists.models import LengthTier
from core import clock
from core.accounts.models import Brand, User
from core.db import Base, str_enum


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"  # being written; only the brand sees it, but it can already be matched and invited from
    OPEN = "open"  # listed for artists, who may apply
    CLOSED = "closed"  # no new invitations or applications; running bookings go on


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("budget_min_fen > 0 AND budget_max_fen >= budget_min_fen", name="budget_range"),
        CheckConstraint("videos_count >= 1", name="videos_count_positive"),
        CheckConstraint(
            "min_duration_s IS NULL OR max_duration_s IS NULL OR max_duration_s >= min_duration_s",
            name="duration_range",
        ),
        Index("ix_campaigns_brand_id_id", "brand_id", "id"),
        Index("ix_campaigns_status_category", "status", "category"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    title: Mapped[str] = mapped_column(String(120))
    brief: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(40))  # a leaf or top-level category code
    # Target audience; an empty list means "anyone" on that dimension.
    audience_interests: Mapped[list[str]] = mapped_column(JSON, default=list)  # category codes
    audience_regions: Mapped[list[str]] = mapped_column(JSON, default=list)  # province codes
    audience_ages: Mapped[list[str]] = mapped_column(JSON, default=list)  # AgeBand values
    # The fee for the whole deliverable (all videos), in fen.
    budget_min_fen: Mapped[int]
    budget_max_fen: Mapped[int]
    videos_count: Mapped[int] = mapped_column(default=1)
    length_tier: Mapped[LengthTier] = mapped_column(str_enum(LengthTier, 8), default=LengthTier.UP_TO_60S)
    # The draft's length the brief asks for, in whole seconds; None on a side: the length tier's bound, if any.
    min_duration_s: Mapped[int | None] = mapped_column(default=None)
    max_duration_s: Mapped[int | None] = mapped_column(default=None)
    deadline: Mapped[dt.datetime]  # drafts are due by then
    must_hashtags: Mapped[list[str]] = mapped_column(JSON, default=list)
    must_link_products: Mapped[bool] = mapped_column(default=True)
    max_revisions: Mapped[int] = mapped_column(default=2)
    status: Mapped[CampaignStatus] = mapped_column(str_enum(CampaignStatus, 16), default=CampaignStatus.DRAFT)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    brand: Mapped[Brand] = relationship(lazy="joined", innerjoin=True)
    products: Mapped[list[CampaignProduct]] = relationship(
        lazy="selectin", order_by="CampaignProduct.position", cascade="all, delete-orphan"
    )

    @property
    def product_ids(self) -> list[int]:
        return [p.product_id for p in self.products]


class CampaignProduct(Base):
    __tablename__ = "campaign_products"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)


class BookingState(enum.StrEnum):
    INVITED = "invited"  # the brand offered a fee; the artist answers
    APPLIED = "applied"  # the artist asked to join an open campaign at a fee; the brand answers
    QUOTED = "quoted"  # the artist named a fee; the brand answers
    COUNTERED = "countered"  # the brand named another fee; the artist answers
    ACCEPTED = "accepted"  # the fee is agreed; the brand funds it
    FUNDED = "funded"  # the fee sits in the booking's escrow; the artist makes the video
    DRAFT_SUBMITTED = "draft_submitted"
    REVISION_REQUESTED = "revision_requested"
    APPROVED = "approved"
    PUBLISHED = "published"  # live, with the campaign's products linked; the live check runs
    COMPLETED = "completed"  # stayed live through the check period
    PAID = "paid"  # escrow released to the artist (minus the platform fee)
    DECLINED = "declined"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    DISPUTED = "disputed"
    RESOLVED = "resolved"  # an admin split the escrow


# Bookings in these states no longer block a new booking of the same artist for the same campaign.
CLOSED_STATES = (BookingState.DECLINED, BookingState.EXPIRED, BookingState.CANCELLED)
FINAL_STATES = (*CLOSED_STATES, BookingState.PAID, BookingState.RESOLVED)


class Party(enum.StrEnum):
    BRAND = "brand"
    ARTIST = "artist"
    ADMIN = "admin"
    SYSTEM = "system"  # the periodic jobs: expiry, live check, payment


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("fee_fen > 0", name="fee_positive"),
        # One live booking per artist and campaign; declined, expired or cancelled ones may be retried.
        Index(
            "uq_bookings_campaign_artist_live",
            "campaign_id",
            "artist_id",
            unique=True,
            postgresql_where=text("state NOT IN ('declined', 'expired', 'cancelled')"),
            sqlite_where=text("state NOT IN ('declined', 'expired', 'cancelled')"),
        ),
        Index("ix_bookings_artist_id_id", "artist_id", "id"),
        Index("ix_bookings_brand_id_id", "brand_id", "id"),
        Index("ix_bookings_state_reply_due", "state", "reply_due_at"),
        Index("ix_bookings_state_live_until", "state", "live_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="RESTRICT"), index=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="RESTRICT"))
    artist_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    state: Mapped[BookingState] = mapped_column(str_enum(BookingState, 24))
    # The fee on the table while negotiating, the agreed fee from acceptance on (whole deliverable, fen).
    fee_fen: Mapped[int]
    platform_fee_bp: Mapped[int] = mapped_column(default=0)  # fixed when the fee is agreed
    message: Mapped[str] = mapped_column(Text, default="")  # the invitation's or application's words
    deadline: Mapped[dt.datetime]  # drafts due; copied from the campaign when the booking starts
    max_revisions: Mapped[int] = mapped_column(default=2)
    revisions_used: Mapped[int] = mapped_column(default=0)
    video_id: Mapped[int | None] = mapped_column(ForeignKey("videos.id", ondelete="SET NULL"), default=None)
    # Who owes the next move while negotiating or funding, and until when (the expiry job scans this).
    reply_due_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    live_until: Mapped[dt.datetime | None] = mapped_column(default=None)  # end of the live check
    draft_submitted_at: Mapped[dt.datetime | None] = mapped_column(default=None)  # the first draft
    funded_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    published_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # Escrow outcome in fen, filled when money leaves escrow (paid, refunded, split).
    paid_to_artist_fen: Mapped[int | None] = mapped_column(default=None)
    refunded_fen: Mapped[int | None] = mapped_column(default=None)
    rating: Mapped[int | None] = mapped_column(default=None)  # the brand's 1–5 stars after completion
    rating_comment: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    # Optimistic locking: every UPDATE says which version it read, so of two concurrent clicks one wins.
    version: Mapped[int] = mapped_column(default=1)

    campaign: Mapped[Campaign] = relationship(lazy="joined", innerjoin=True)
    artist: Mapped[User] = relationship(lazy="joined", innerjoin=True)

    __mapper_args__: dict[str, Any] = {"version_id_col": version}  # noqa: RUF012


class BookingEvent(Base):
    """One transition of a booking: who did what, when, from which state to which, and why."""

    __tablename__ = "booking_events"
    __table_args__ = (Index("ix_booking_events_booking_id_id", "booking_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    party: Mapped[Party] = mapped_column(str_enum(Party, 16))
    action: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[BookingState | None] = mapped_column(str_enum(BookingState, 24), default=None)
    to_state: Mapped[BookingState] = mapped_column(str_enum(BookingState, 24))
    note: Mapped[str] = mapped_column(Text, default="")
    fee_fen: Mapped[int | None] = mapped_column(default=None)  # the fee named by a quote, counter or offer
    video_id: Mapped[int | None] = mapped_column(default=None)  # the draft submitted
    amount_fen: Mapped[int | None] = mapped_column(default=None)  # money moved by this step, if any

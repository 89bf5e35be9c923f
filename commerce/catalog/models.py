"""Catalog tables: products, SKUs, images, affiliate offers, showcases, video–product links, tag decisions."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core import clock
from core.accounts.models import Brand
from core.db import Base, str_enum


class ProductStatus(enum.StrEnum):
    DRAFT = "draft"  # being prepared; only the brand sees it
    ACTIVE = "active"  # on sale: visible, linkable, open to affiliation
    ARCHIVED = "archived"  # off sale; kept because orders and links refer to it


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("brand_id", "code"),
        Index("ix_products_status_category", "status", "category"),
        Index("ix_products_brand_id_id", "brand_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    # The merchant's own product code (商家编码); CSV import matches rows to products by it.
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(40))
    status: Mapped[ProductStatus] = mapped_column(str_enum(ProductStatus), default=ProductStatus.DRAFT)
    # Cheapest and dearest active SKU, kept by the service so lists filter by price band without a join.
    price_min_fen: Mapped[int | None] = mapped_column(default=None)
    price_max_fen: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    brand: Mapped[Brand] = relationship(lazy="joined", innerjoin=True)
    skus: Mapped[list[Sku]] = relationship(
        back_populates="product", lazy="selectin", order_by="Sku.id", cascade="all, delete-orphan"
    )
    images: Mapped[list[ProductImage]] = relationship(
        lazy="selectin", order_by="ProductImage.position", cascade="all, delete-orphan"
    )

    def active_skus(self) -> list[Sku]:
        return [s for s in self.skus if s.is_active]


class Sku(Base):
    """A purchasable variant. Deleting one only deactivates it: order lines keep pointing at it."""

    __tablename__ = "product_skus"
    __table_args__ = (
        UniqueConstraint("brand_id", "code"),
        CheckConstraint("price_fen > 0", name="price_positive"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("list_price_fen IS NULL OR list_price_fen >= price_fen", name="list_price_not_below_price"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    # Denormalised from the product so SKU codes are unique per brand, as merchants expect.
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    # e.g. {"颜色": "雾霾蓝", "尺码": "M"}; empty for a product with a single variant.
    attributes: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    price_fen: Mapped[int]
    list_price_fen: Mapped[int | None] = mapped_column(default=None)
    stock: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    product: Mapped[Product] = relationship(back_populates="skus")


class ProductImage(Base):
    __tablename__ = "product_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    # The upload as received, private; renditions are re-made from it if their sizes change.
    original_key: Mapped[str] = mapped_column(String(300))
    # {"1080": "public/products/…/1080.jpg", …}: width in pixels -> public key; EXIF-free JPEGs.
    renditions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    width: Mapped[int]
    height: Mapped[int]
    format: Mapped[str] = mapped_column(String(10))
    bytes: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


class AffiliateOffer(Base):
    """One version of a product's affiliate terms.

    A rate change closes the open version and opens a new one, so the rate in
    force at any moment stays on record; checkout snapshots the open version's
    id and rates onto each order line.
    """

    __tablename__ = "affiliate_offers"
    __table_args__ = (
        # At most one open version per product.
        Index(
            "uq_affiliate_offers_open_product",
            "product_id",
            unique=True,
            postgresql_where=text("effective_to IS NULL"),
            sqlite_where=text("effective_to IS NULL"),
        ),
        CheckConstraint("artist_rate_bp >= 0 AND artist_rate_bp <= 10000", name="artist_rate_range"),
        CheckConstraint("sharer_rate_bp >= 0 AND sharer_rate_bp <= 10000", name="sharer_rate_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    artist_rate_bp: Mapped[int]
    sharer_rate_bp: Mapped[int] = mapped_column(default=0)
    effective_from: Mapped[dt.datetime] = mapped_column(default=clock.now)
    effective_to: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)

    product: Mapped[Product] = relationship(lazy="joined", innerjoin=True)

    @property
    def is_open(self) -> bool:
        return self.effective_to is None


class ShowcaseItem(Base):
    """A product an artist carries in their showcase (橱窗) and may therefore link to videos."""

    __tablename__ = "showcase_items"
    __table_args__ = (UniqueConstraint("artist_id", "product_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    artist_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    added_at: Mapped[dt.datetime] = mapped_column(default=clock.now)

    product: Mapped[Product] = relationship(lazy="joined", innerjoin=True)


class VideoProduct(Base):
    """A product card on a video, optionally shown only between two timecodes."""

    __tablename__ = "video_products"
    __table_args__ = (
        UniqueConstraint("video_id", "product_id"),
        CheckConstraint("start_seconds IS NULL OR start_seconds >= 0", name="start_not_negative"),
        CheckConstraint(
            "start_seconds IS NULL OR end_seconds IS NULL OR end_seconds > start_seconds", name="window_not_inverted"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    sku_id: Mapped[int | None] = mapped_column(ForeignKey("product_skus.id", ondelete="SET NULL"), default=None)
    position: Mapped[int] = mapped_column(default=0)
    start_seconds: Mapped[float | None] = mapped_column(default=None)
    end_seconds: Mapped[float | None] = mapped_column(default=None)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    product: Mapped[Product] = relationship(lazy="joined", innerjoin=True)


class SuggestionKind(enum.StrEnum):
    PRODUCT = "product"
    HASHTAG = "hashtag"


class Decision(enum.StrEnum):
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"


class TagDecision(Base):
    """What the uploader did with a suggestion; a dismissed one is never suggested for that video again."""

    __tablename__ = "tag_decisions"
    __table_args__ = (Index("ix_tag_decisions_user_kind_key", "user_id", "kind", "key"),)

    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[SuggestionKind] = mapped_column(str_enum(SuggestionKind, 16), primary_key=True)
    # The product id (as text) or the hashtag.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    decision: Mapped[Decision] = mapped_column(str_enum(Decision, 16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    decided_at: Mapped[dt.datetime] = mapped_column(default=clock.now)

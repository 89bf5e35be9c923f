"""Video–product links: the product cards a video shows, optionally only between two timecodes.

Who may edit a video's links: its uploader, members of the brand it was uploaded for, admins.
What may be linked is decided by the video's owner, not by whoever edits: a brand video links
only that brand's products; an artist's video links products of the artist's own brands and
products in the artist's showcase. Links on a published video can change at any time; every
change emits `video` and `product` outbox events so the feed and search follow.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, select
from sqlalchemy.orm import Session

from commerce.catalog.limits import CatalogLimits
from commerce.catalog.models import Product, ProductStatus, ShowcaseItem, VideoProduct
from commerce.catalog.products import has_open_offer
from commerce.catalog.tx import unit_of_work
from core.accounts.models import BrandMember, User
from core.accounts.permissions import require_user
from core.db import is_postgres
from core.errors import (
    Conflict,
    FieldError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    register_field_labels,
    register_messages,
)
from core.outbox import emit
from media.models import Video

register_field_labels(
    {
        "links": ("商品卡片", "The product cards"),
        "links.*.product_id": ("第 {0} 张商品卡片的商品", "Product of card {0}"),
        "links.*.sku_id": ("第 {0} 张商品卡片的规格", "SKU of card {0}"),
        "links.*.start_seconds": ("第 {0} 张商品卡片的开始时间", "Start of card {0}"),
        "links.*.end_seconds": ("第 {0} 张商品卡片的结束时间", "End of card {0}"),
        "start_seconds": ("开始时间", "The start time"),
        "end_seconds": ("结束时间", "The end time"),
        "hashtag": ("话题", "The hashtag"),
    }
)
register_messages(
    {
        "not_video_owner": ("只有视频的上传者可以修改商品链接", "Only the video's uploader can change its products"),
        "product_not_linkable": (
            "只能挂自己品牌的商品或橱窗中的商品",
            "You can only link your own brand's products or products in your showcase",
        ),
        "product_not_found": ("商品不存在", "No such product"),
        "sku_not_in_product": ("该 SKU 不属于此商品或已停售", "This SKU is not an active SKU of the product"),
        "duplicate_product": ("同一商品只能挂一次", "A product can be linked only once"),
        "too_many_products": ("每个视频最多挂 {max} 个商品", "A video can link at most {max} products"),
        "window_outside_video": (
            "时间点应在视频时长 0–{duration} 秒之内",
            "The time must lie within the video (0–{duration} s)",
        ),
        "window_inverted": ("结束时间必须晚于开始时间", "The end must come after the start"),
        "video_duration_unknown": (
            "视频还在处理中，时长未知，暂不能设置时间段",
            "The video's duration is not known yet (still processing); a time window cannot be set",
        ),
        "links_changed_concurrently": ("商品链接刚被修改，请刷新后重试", "The links just changed; reload and retry"),
    }
)


@dataclass(frozen=True)
class LinkSpec:
    product_id: int
    sku_id: int | None = None
    start_seconds: float | None = None
    end_seconds: float | None = None


# -- who may edit, what may be linked ---------------------------------------------------------------


def is_editor(session: Session, user: User | None, video: Video) -> bool:
    if user is None:
        return False
    if user.is_admin or video.uploader_id == user.id:
        return True
    return video.brand_id is not None and session.get(BrandMember, (video.brand_id, user.id)) is not None


def video_for_editor(session: Session, user: User | None, video_id: int, *, lock: bool = False) -> Video:
    user = require_user(user)
    stmt = select(Video).where(Video.id == video_id)
    if lock and is_postgres(session):
        stmt = stmt.with_for_update()  # serialises concurrent edits of one video's links
    video = session.scalar(stmt)
    if video is None:
        raise NotFound("video")
    if not is_editor(session, user, video):
        raise PermissionDenied("not_video_owner")
    return video


def linkable_condition(session: Session, video: Video) -> ColumnElement[bool]:
    """SQL condition on `Product` for what this video may link (status aside)."""
    if video.brand_id is not None:
        return Product.brand_id == video.brand_id
    uploader = session.get(User, video.uploader_id)
    if uploader is None:  # pragma: no cover - the foreign key prevents it
        return false()
    own_brands = Product.brand_id.in_(uploader.brand_ids())
    if not uploader.is_artist:
        return own_brands
    in_showcase = (
        select(ShowcaseItem.id)
        .where(ShowcaseItem.artist_id == uploader.id, ShowcaseItem.product_id == Product.id)
        .exists()
    )
    return own_brands | (in_showcase & has_open_offer())


def linkable_product_ids(session: Session, video: Video) -> list[int]:
    """Active products this video may link (the candidate set for suggestions)."""
    return list(
        session.scalars(
            select(Product.id).where(Product.status == ProductStatus.ACTIVE, linkable_condition(session, video))
        )
    )


def linkable_products(
    session: Session, user: User | None, video_id: int, *, query: str = "", limit: int = 50
) -> list[Product]:
    """The product picker: active products the video's editor may link, optionally matching a name."""
    video = video_for_editor(session, user, video_id)
    stmt = select(Product).where(Product.status == ProductStatus.ACTIVE, linkable_condition(session, video))
    if query.strip():
        stmt = stmt.where(Product.name.contains(query.strip(), autoescape=True))
    return list(session.scalars(stmt.order_by(Product.name, Product.id).limit(limit)).unique())


# -- validation -------------------------------------------------------------------------------------


def _window_errors(i: int, spec: LinkSpec, duration: float | None) -> list[FieldError]:
    prefix = f"links.{i}."
    start, end = spec.start_seconds, spec.end_seconds
    if start is None and end is None:
        return []
    for name, value in (("start_seconds", start), ("end_seconds", end)):
        if value is not None and not math.isfinite(value):
            return [FieldError(prefix + name, "value_error")]
    if duration is None:
        return [
            FieldError(prefix + ("start_seconds" if start is not None else "end_seconds"), "video_duration_unknown")
        ]
    shown = {"duration": f"{duration:g}"}
    errors = []
    if start is not None and not 0 <= start < duration:
        errors.append(FieldError(prefix + "start_seconds", "window_outside_video", params=shown))
    if end is not None and not 0 < end <= duration:
        errors.append(FieldError(prefix + "end_seconds", "window_outside_video", params=shown))
    if not errors and start is not None and end is not None and end <= start:
        errors.append(FieldError(prefix + "end_seconds", "window_inverted"))
    return errors


def _validate(
    session: Session,
    video: Video,
    specs: Sequence[LinkSpec],
    existing: dict[int, VideoProduct],
    limits: CatalogLimits,
    *,
    granted: Collection[int] = (),
) -> None:
    if len(specs) > limits.video_max_products:
        raise ValidationFailed.one("links", "too_many_products", max=limits.video_max_products)
    errors: list[FieldError] = []
    not_linkable: list[FieldError] = []
    ids = [s.product_id for s in specs]
    products = {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(ids))).unique()}
    allowed = set(session.scalars(select(Product.id).where(Product.id.in_(ids), linkable_condition(session, video))))
    allowed |= set(granted)
    seen: set[int] = set()
    for i, spec in enumerate(specs):
        field = f"links.{i}.product_id"
        product = products.get(spec.product_id)
        if spec.product_id in seen:
            errors.append(FieldError(field, "duplicate_product"))
            continue
        seen.add(spec.product_id)
        if product is None:
            errors.append(FieldError(field, "product_not_found"))
            continue
        old = existing.get(product.id)
        # A card already on the video stays valid as it was; only new products and new SKUs are checked.
        if old is None:
            if product.id not in allowed:
                not_linkable.append(FieldError(field, "product_not_linkable"))
                continue
            if product.status != ProductStatus.ACTIVE:
                errors.append(FieldError(field, "product_not_active"))
        new_sku = spec.sku_id is not None and (old is None or old.sku_id != spec.sku_id)
        if new_sku and not any(s.id == spec.sku_id and s.is_active for s in product.skus):
            errors.append(FieldError(f"links.{i}.sku_id", "sku_not_in_product"))
        errors += _window_errors(i, spec, video.duration_seconds)
    if not_linkable:
        raise PermissionDenied("product_not_linkable", fields=not_linkable + errors)
    if errors:
        raise ValidationFailed(fields=errors)


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def apply_links(
    session: Session,
    user: User | None,
    video_id: int,
    specs: Sequence[LinkSpec],
    *,
    limits: CatalogLimits,
    granted: Collection[int] = (),
) -> list[VideoProduct]:
    """Make the video's cards exactly `specs`, in that order, inside the caller's transaction.

    `granted` are products another rule lets this video link beyond its own (a booking's campaign products on
    the artist's draft for it); the caller has checked that rule."""
    video = video_for_editor(session, user, video_id, lock=True)
    current = list(session.scalars(select(VideoProduct).where(VideoProduct.video_id == video.id)).unique())
    existing = {link.product_id: link for link in current}
    _validate(session, video, specs, existing, limits, granted=granted)
    touched: set[int] = set()  # products whose card appeared, went or changed
    reordered = False
    wanted = {s.product_id for s in specs}
    for link in current:
        if link.product_id not in wanted:
            session.delete(link)
            touched.add(link.product_id)
    session.flush()
    result = []
    for position, spec in enumerate(specs):
        card = (spec.sku_id, _ms(spec.start_seconds), _ms(spec.end_seconds))
        link = existing.get(spec.product_id)
        if link is None:
            link = VideoProduct(video_id=video.id, product_id=spec.product_id, created_by=user.id if user else None)
            session.add(link)
            touched.add(spec.product_id)
        elif (link.sku_id, link.start_seconds, link.end_seconds) != card:
            touched.add(spec.product_id)
        reordered |= link.position != position
        link.sku_id, link.start_seconds, link.end_seconds = card
        link.position = position
        result.append(link)
    if touched or reordered:
        session.flush()
        emit(session, "video", video.id)
    for product_id in sorted(touched):
        emit(session, "product", product_id)
    return result


def links_conflict(_exc: Exception) -> Conflict:
    return Conflict("links_changed_concurrently")


def set_links(
    session: Session, user: User | None, video_id: int, specs: Sequence[LinkSpec], *, limits: CatalogLimits
) -> list[VideoProduct]:
    """Replace the video's cards with `specs` (the editor's whole list, in display order)."""
    with unit_of_work(session, links_conflict):
        links = apply_links(session, user, video_id, specs, limits=limits)
    return links


def current_specs(session: Session, video_id: int) -> list[LinkSpec]:
    links = session.scalars(
        select(VideoProduct).where(VideoProduct.video_id == video_id).order_by(VideoProduct.position, VideoProduct.id)
    ).unique()
    return [LinkSpec(lk.product_id, lk.sku_id, lk.start_seconds, lk.end_seconds) for lk in links]


def append_link(
    session: Session, user: User | None, video_id: int, spec: LinkSpec, *, limits: CatalogLimits
) -> VideoProduct:
    """Add one card at the end (or change it in place if already linked), inside the caller's transaction."""
    video_for_editor(session, user, video_id, lock=True)
    specs = current_specs(session, video_id)
    index = next((i for i, s in enumerate(specs) if s.product_id == spec.product_id), None)
    if index is None:
        specs.append(spec)
    else:
        specs[index] = spec
    links = apply_links(session, user, video_id, specs, limits=limits)
    return next(lk for lk in links if lk.product_id == spec.product_id)


def add_link(
    session: Session, user: User | None, video_id: int, spec: LinkSpec, *, limits: CatalogLimits
) -> VideoProduct:
    with unit_of_work(session, links_conflict):
        link = append_link(session, user, video_id, spec, limits=limits)
    return link


def remove_link(session: Session, user: User | None, video_id: int, product_id: int, *, limits: CatalogLimits) -> None:
    with unit_of_work(session, links_conflict):
        video_for_editor(session, user, video_id, lock=True)
        specs = current_specs(session, video_id)
        if not any(s.product_id == product_id for s in specs):
            raise NotFound("link")
        apply_links(session, user, video_id, [s for s in specs if s.product_id != product_id], limits=limits)


def list_links(session: Session, user: User | None, video_id: int) -> list[VideoProduct]:
    """The cards of a live video (anyone) or of any video the caller may edit."""
    video = session.get(Video, video_id)
    if video is None or not (video.is_live or is_editor(session, user, video)):
        raise NotFound("video")
    return list(
        session.scalars(
            select(VideoProduct)
            .where(VideoProduct.video_id == video_id)
            .order_by(VideoProduct.position, VideoProduct.id)
        ).unique()
    )

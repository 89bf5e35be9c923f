"""Photos a buyer sends with a refund request (a broken bottle, the wrong colour).

The buyer uploads each photo to the order first, then names the photos in the
refund request. A photo is identified by its bytes (never its name or declared
type) and re-encoded like product images: its pixel count is checked before
decoding, and only EXIF-free JPEGs are kept, so the camera's GPS position in the
original never reaches the brand. They are private objects (not under
`public/`): the buyer's and the brand's pages show them through presigned URLs.
Photos uploaded but never named in a request are removed once a request is made.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from commerce.catalog.images import delete_objects, render, store_renditions
from commerce.orders import lifecycle
from commerce.orders.models import OrderRefund, RefundPhoto
from core import ids
from core.accounts.models import User
from core.accounts.permissions import require_user
from core.errors import Conflict, NotFound, ValidationFailed, register_messages
from core.storage import ObjectStorage

register_messages(
    {
        "refund_photos_too_many": ("每次退款申请最多 {max} 张照片", "A refund request takes at most {max} photos"),
        "refund_photo_unknown": (
            "照片不存在或已用于其他申请，请重新上传",
            "That photo is gone or belongs to another request; upload it again",
        ),
        "refund_closed": ("该订单已不能申请退款", "This order can no longer be refunded"),
    }
)

WIDTH, THUMB = 1080, 240
URL_SECONDS = 3600


@dataclass(frozen=True)
class PhotoLimits:
    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000
    per_request: int = 6


DEFAULT_PHOTO_LIMITS = PhotoLimits()


@dataclass(frozen=True)
class PhotoUrls:
    id: int
    url: str
    thumb_url: str


def _waiting(session: Session, order_id: int, user_id: int) -> int:
    return int(
        session.scalar(
            select(func.count()).where(
                RefundPhoto.order_id == order_id, RefundPhoto.uploaded_by == user_id, RefundPhoto.refund_id.is_(None)
            )
        )
        or 0
    )


def _buyer_order_open_for_refund(session: Session, user: User, order_id: int) -> None:
    order = lifecycle.get_order(session, user, order_id)
    if order.buyer_id != user.id:
        raise NotFound("order")
    if not lifecycle.refund_window_open(order):
        raise Conflict("refund_closed")


def add_photo(
    session: Session, user: User | None, order_id: int, data: bytes, *, storage: ObjectStorage, limits: PhotoLimits
) -> RefundPhoto:
    """Check and keep one photo for a refund request the buyer is about to make. Commits."""
    user = require_user(user)
    _buyer_order_open_for_refund(session, user, order_id)
    if _waiting(session, order_id, user.id) >= limits.per_request:
        raise ValidationFailed.one("file", "refund_photos_too_many", max=limits.per_request)
    session.commit()  # the slow part holds no transaction (on SQLite: no write lock)
    rendered = render(data, max_bytes=limits.max_bytes, max_pixels=limits.max_pixels, widths=(WIDTH, THUMB))
    prefix = f"refunds/orders/{order_id}/{ids.short_id(nbytes=8)}"
    keys = store_renditions(storage, rendered, prefix)
    try:
        photo = RefundPhoto(
            order_id=order_id, uploaded_by=user.id, key=keys[WIDTH], thumb_key=keys[THUMB], width=rendered.width,
            height=rendered.height, bytes=len(data),
        )  # fmt: skip
        session.add(photo)
        session.commit()
    except BaseException:
        session.rollback()
        delete_objects(storage, list(keys.values()))
        raise
    return photo


def attach(session: Session, refund: OrderRefund, photo_ids: Sequence[int], *, limits: PhotoLimits) -> list[str]:
    """Name the buyer's uploaded photos in their new request (no commit). Returns the storage keys of the photos
    they uploaded for this order and did not use, which the caller deletes once the request is committed."""
    wanted = list(dict.fromkeys(photo_ids))
    if len(wanted) > limits.per_request:
        raise ValidationFailed.one("photo_ids", "refund_photos_too_many", max=limits.per_request)
    waiting = {
        p.id: p
        for p in session.scalars(
            select(RefundPhoto)
            .where(RefundPhoto.order_id == refund.order_id, RefundPhoto.uploaded_by == refund.requested_by,
                   RefundPhoto.refund_id.is_(None))
            .with_for_update()
        )
    }  # fmt: skip
    if any(i not in waiting for i in wanted):
        raise ValidationFailed.one("photo_ids", "refund_photo_unknown")
    for i in wanted:
        waiting.pop(i).refund_id = refund.id
    for abandoned in waiting.values():
        session.delete(abandoned)
    session.flush()
    session.refresh(refund, ["photos"])
    return [key for p in waiting.values() for key in (p.key, p.thumb_key)]


def urls(storage: ObjectStorage, photos: Iterable[RefundPhoto]) -> list[PhotoUrls]:
    """Presigned links for a reader the caller has already authorised (the buyer, the selling brand)."""
    sign = storage.presigned_get_url
    return [PhotoUrls(p.id, sign(p.key, URL_SECONDS), sign(p.thumb_key, URL_SECONDS)) for p in photos]

"""Publishing an approved booking draft: the video goes live, credited to the artist, with the campaign's products.

A booked video is the artist's upload made for the brand, so it carries the
brand (`Video.brand_id`) beside its uploader: its cards may then show the
brand's products, and the brand appears on it in the feed while the artist
stays its creator. The campaign's must-have hashtags are added to it, and it goes
out under a real title: the draft's own, or the campaign's when the draft's is a
file name, a "draft" label or empty.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.booking.models import Booking
from commerce.catalog import links
from commerce.catalog.limits import CatalogLimits
from commerce.catalog.models import Product, ProductStatus
from core import clock
from core.accounts.models import User
from core.errors import Conflict
from core.outbox import emit
from media.models import Video, VideoStatus, Visibility
from media.videos import normalise_hashtags, video_changed

# "IMG_0412.MOV", "VID20261203.mp4", "秋冬底妆 草稿", "Draft 2", "（草稿）": not what viewers should read.
_FILE_NAME = re.compile(r"\.(mp4|mov|m4v|webm|avi|mkv|3gp|flv|wmv|hevc|ts)$", re.IGNORECASE)
_CAMERA_NAME = re.compile(r"^(img|vid|mov|dsc|mvimg|pxl|video|screen[ _-]?recording)[\s_-]*\d[\w-]*$", re.IGNORECASE)
_DRAFT_LABEL = re.compile(
    r"[\s(（\[【_-]*(第?[\d一二三四五六七八九十]+版)?(草稿|初稿|修改稿|draft)[\s_-]*(v?\d+|[一二三四五六七八九十]+)?[)）\]】]*$",
    re.IGNORECASE,
)


def published_title(draft_title: str, campaign_title: str) -> str:
    """The title a booked video goes live with: the draft's, cleaned of draft labels, unless it is a file name."""
    title = _DRAFT_LABEL.sub("", draft_title.strip()).strip()
    if not title or _FILE_NAME.search(title) or _CAMERA_NAME.match(title):
        return campaign_title.strip()
    return title


def publish(session: Session, artist: User, booking: Booking, *, limits: CatalogLimits) -> Video:
    """Make the booking's approved draft live with the campaign's products linked. Joins the caller's transaction."""
    video = session.get(Video, booking.video_id) if booking.video_id is not None else None
    if video is None or video.status != VideoStatus.READY or video.deleted_at is not None:
        raise Conflict("draft_not_ready")
    campaign = booking.campaign
    video.brand_id = booking.brand_id
    video.title = published_title(video.title, campaign.title)
    video.hashtags = normalise_hashtags([*(video.hashtags or []), *campaign.must_hashtags])
    video.visibility = Visibility.PUBLIC
    video.publish_on_ready = True
    video.published_at = video.updated_at = clock.now()
    session.flush()
    if campaign.must_link_products and campaign.product_ids:
        on_sale = set(
            session.scalars(
                select(Product.id).where(Product.id.in_(campaign.product_ids), Product.status == ProductStatus.ACTIVE)
            )
        )
        current = links.current_specs(session, video.id)
        wanted = [links.LinkSpec(pid) for pid in campaign.product_ids if pid in on_sale]
        taken = {s.product_id for s in wanted}
        links.apply_links(session, artist, video.id, wanted + [s for s in current if s.product_id not in taken],
                          limits=limits)  # fmt: skip
    video_changed(session, video)
    emit(session, "artist", booking.artist_id)
    return video

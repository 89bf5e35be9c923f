"""Publishing an approved booking draft: the video goes live, credited to the artist, with the campaign's products.

A booked video is the artist's upload made for the brand, so it carries the
brand (`Video.brand_id`) beside its uploader: its cards may then show the
brand's products, and the brand appears on it in the feed while the artist
stays its creator. The campaign's must-have hashtags are added to it.
"""

from __future__ import annotations

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


def publish(session: Session, artist: User, booking: Booking, *, limits: CatalogLimits) -> Video:
    """Make the booking's approved draft live with the campaign's products linked. Joins the caller's transaction."""
    video = session.get(Video, booking.video_id) if booking.video_id is not None else None
    if video is None or video.status != VideoStatus.READY or video.deleted_at is not None:
        raise Conflict("draft_not_ready")
    campaign = booking.campaign
    video.brand_id = booking.brand_id
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

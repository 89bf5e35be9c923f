"""Demo data for `make run`: accounts for each role. Later capabilities add their own content here."""

from __future__ import annotations

from sqlalchemy.orm import Session

from commerce.booking.demo import seed_demo_booking
from commerce.booking.policy import BookingPolicy
from commerce.catalog.demo import seed_demo_catalog
from commerce.catalog.limits import CatalogLimits
from core import extensions
from core.accounts import service as accounts
from core.accounts.models import User

DEMO_PASSWORD = "xinglian-demo"  # noqa: S105 - printed for the local demo on purpose


def seed(session: Session) -> list[str]:
    admin = accounts.register(session, email="admin@xinglian.local", password=DEMO_PASSWORD, display_name="管理员")
    admin.is_admin = True
    session.commit()
    brand_owner = accounts.register(
        session,
        email="brand@xinglian.local",
        password=DEMO_PASSWORD,
        display_name="花西子旗舰店",
        role="brand",
        brand_name="花西子 Demo",
    )
    artist = accounts.register(
        session, email="artist@xinglian.local", password=DEMO_PASSWORD, display_name="小鹿", role="artist"
    )
    viewer = accounts.register(session, email="viewer@xinglian.local", password=DEMO_PASSWORD, display_name="路人甲")
    sharer = accounts.register(session, email="sharer@xinglian.local", password=DEMO_PASSWORD, display_name="分享达人")
    summary = [
        f"demo accounts (password {DEMO_PASSWORD}):",
        "  admin@xinglian.local  brand@xinglian.local  artist@xinglian.local  viewer@xinglian.local"
        "  sharer@xinglian.local",
    ]
    summary += seed_demo_catalog(
        session,
        extensions.storage(),
        brand_id=brand_owner.brand_ids()[0],
        owner=brand_owner,
        artist=artist,
        limits=CatalogLimits.from_settings(extensions.settings()),
    )
    summary += _seed_money(session, buyer=viewer, sharer=sharer, artist=artist, brand_owner=brand_owner)
    summary += _seed_videos(session, artist=artist, brand_owner=brand_owner)
    summary += _link_demo_products(session, brand_id=brand_owner.brand_ids()[0])
    summary += seed_demo_booking(
        session,
        brand_id=brand_owner.brand_ids()[0],
        owner=brand_owner,
        artist=artist,
        password=DEMO_PASSWORD,
        policy=BookingPolicy.from_settings(extensions.settings()),
    )
    return summary


def _seed_videos(session: Session, *, artist: User, brand_owner: User) -> list[str]:
    from media.demo import seed_demo_videos
    from media.pipelines.tools import ToolMissing, find_tools
    from media.uploads import UploadPolicy

    settings = extensions.settings()
    try:
        tools = find_tools(settings.ffmpeg_path, settings.ffprobe_path)
    except ToolMissing as exc:
        return [f"demo videos skipped: {exc}"]
    from sqlalchemy import select

    from media.models import Video
    from moderation.review import clear_as_platform

    notes = seed_demo_videos(
        session,
        extensions.storage(),
        tools,
        policy=UploadPolicy.from_settings(settings),
        artist=artist,
        brand_owner=brand_owner,
    )
    # The platform's own demo content needs no reviewer (the log says so); real uploads by these accounts would.
    mine = session.scalars(select(Video.id).where(Video.uploader_id.in_([artist.id, brand_owner.id]))).all()
    clear_as_platform(session, list(mine))
    return notes


def _seed_money(session: Session, *, buyer: User, sharer: User, artist: User, brand_owner: User) -> list[str]:
    from commerce.orders.checkout import PaymentLinks
    from commerce.orders.demo import seed_demo_money
    from commerce.payments import notify_url, open_provider

    settings = extensions.settings()
    return seed_demo_money(
        session,
        open_provider(settings, session),
        policy=extensions.extension("money_policy"),
        keys=settings.signing_keys(),
        links=PaymentLinks(
            notify_url=notify_url(settings, settings.payment_provider),
            return_url=settings.public_base_url.rstrip("/") + "/pay/return/{checkout_id}",
        ),
        buyer=buyer,
        sharer=sharer,
        artist=artist,
        brand_owner=brand_owner,
    )


# Which product card each demo video carries, and when it shows (seconds; None: the whole video), by title.
DEMO_CARDS: dict[str, list[tuple[str, float | None, float | None]]] = {
    "夏日防晒实测：海边一整天不脱妆": [("HXZ-SUN", 1.0, None), ("HXZ-CASE", None, None)],
    "花西子空气蜜粉 30 秒上妆": [("HXZ-POWDER", None, None)],
    "法式碎花裙三种穿法": [("HXZ-DRESS", 2.0, 6.0)],
}


def _link_demo_products(session: Session, *, brand_id: int) -> list[str]:
    """Product cards on the demo videos, so the feed opens with something to buy."""
    from sqlalchemy import select

    from commerce.catalog import links
    from commerce.catalog.models import Product
    from media.demo import CLIP_SECONDS
    from media.models import Video

    codes = dict(session.execute(select(Product.code, Product.id).where(Product.brand_id == brand_id)).all())
    linked = []
    for video in session.scalars(select(Video).where(Video.title.in_(DEMO_CARDS)).order_by(Video.id)):
        # Windows need the duration, which the worker measures later; the demo made the clip, so it knows it
        # (processing then stores the probed value).
        video.duration_seconds = video.duration_seconds or float(CLIP_SECONDS)
        uploader = session.get(User, video.uploader_id)
        specs = [links.LinkSpec(codes[code], None, start, end) for code, start, end in DEMO_CARDS[video.title]]
        links.set_links(session, uploader, video.id, specs, limits=CatalogLimits.from_settings(extensions.settings()))
        linked.append(video.id)
    return [f"demo product cards on videos {linked}"] if linked else []

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
    return seed_demo_videos(
        session,
        extensions.storage(),
        tools,
        policy=UploadPolicy.from_settings(settings),
        artist=artist,
        brand_owner=brand_owner,
    )


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

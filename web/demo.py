"""Demo data for `make run`: accounts for each role. Later capabilities add their own content here."""

from __future__ import annotations

from sqlalchemy.orm import Session

from commerce.catalog.demo import seed_demo_catalog
from commerce.catalog.limits import CatalogLimits
from core import extensions
from core.accounts import service as accounts

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
    accounts.register(session, email="viewer@xinglian.local", password=DEMO_PASSWORD, display_name="路人甲")
    summary = [
        f"demo accounts (password {DEMO_PASSWORD}):",
        "  admin@xinglian.local  brand@xinglian.local  artist@xinglian.local  viewer@xinglian.local",
    ]
    summary += seed_demo_catalog(
        session,
        extensions.storage(),
        brand_id=brand_owner.brand_ids()[0],
        owner=brand_owner,
        artist=artist,
        limits=CatalogLimits.from_settings(extensions.settings()),
    )
    return summary

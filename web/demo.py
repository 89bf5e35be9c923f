"""Demo data for `make run`: accounts for each role. Later capabilities add their own content here."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.accounts import service as accounts

DEMO_PASSWORD = "xinglian-demo"  # noqa: S105 - printed for the local demo on purpose


def seed(session: Session) -> list[str]:
    admin = accounts.register(session, email="admin@xinglian.local", password=DEMO_PASSWORD, display_name="管理员")
    admin.is_admin = True
    session.commit()
    accounts.register(
        session,
        email="brand@xinglian.local",
        password=DEMO_PASSWORD,
        display_name="花西子旗舰店",
        role="brand",
        brand_name="花西子 Demo",
    )
    accounts.register(
        session, email="artist@xinglian.local", password=DEMO_PASSWORD, display_name="小鹿", role="artist"
    )
    accounts.register(session, email="viewer@xinglian.local", password=DEMO_PASSWORD, display_name="路人甲")
    return [
        f"demo accounts (password {DEMO_PASSWORD}):",
        "  admin@xinglian.local  brand@xinglian.local  artist@xinglian.local  viewer@xinglian.local",
    ]

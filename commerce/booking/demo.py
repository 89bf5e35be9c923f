"""Demo data for booking: artist profiles with rate cards, an open campaign with the brand's products, an invitation."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.artists import metrics, profiles
from commerce.artists.models import LengthTier
from commerce.booking import bookings, campaigns
from commerce.booking.campaigns import CampaignSpec
from commerce.booking.policy import BookingPolicy
from commerce.catalog.models import Product, ProductStatus
from core import clock
from core.accounts import service as accounts
from core.accounts.models import User

# (e-mail, name, categories, tags, rate per 21–60 s video in fen, self-declared followers)
DEMO_ARTISTS = [
    ("artist2@xinglian.local", "阿宁的化妆间", ["beauty.makeup"], ["底妆", "测评"], 300_000, 1_200_000),
    ("artist3@xinglian.local", "大刘爱吃", ["food.snacks"], ["零食", "探店"], 150_000, None),
    ("artist4@xinglian.local", "数码小周", ["digital.audio", "digital.phone_accessories"], ["开箱"], 500_000, 80_000),
]


def seed_demo_booking(
    session: Session, *, brand_id: int, owner: User, artist: User, password: str, policy: BookingPolicy
) -> list[str]:
    profiles.update_profile(
        session,
        artist,
        {"bio": "美妆博主，专注平价彩妆和底妆测评。", "categories": ["beauty.makeup", "beauty.skincare"],
         "tags": ["彩妆", "平价"], "region": "CN-ZJ", "declared_followers": 350_000, "declared_note": "小红书账号",
         "rates": {LengthTier.UP_TO_20S: 120_000, LengthTier.UP_TO_60S: 200_000}},
    )  # fmt: skip
    for email, name, cats, tags, rate, declared in DEMO_ARTISTS:
        user = accounts.register(session, email=email, password=password, display_name=name, role="artist")
        profiles.update_profile(
            session, user,
            {"categories": cats, "tags": tags, "declared_followers": declared, "rates": {LengthTier.UP_TO_60S: rate}},
        )  # fmt: skip
    product_ids = list(
        session.scalars(
            select(Product.id)
            .where(Product.brand_id == brand_id, Product.status == ProductStatus.ACTIVE)
            .order_by(Product.id)
            .limit(2)
        )
    )
    campaign = campaigns.create(
        session,
        owner,
        brand_id,
        CampaignSpec(
            title="秋冬底妆种草", brief="拍一条 30–60 秒的上脸测评，讲清持妆和控油。", category="beauty.makeup",
            budget_min_fen=150_000, budget_max_fen=400_000, deadline=clock.now() + dt.timedelta(days=21),
            product_ids=product_ids, audience_ages=["18-23", "24-30"], must_hashtags=["秋冬底妆"], status="open",
        ),
        policy=policy,
    )  # fmt: skip
    bookings.invite(session, owner, campaign.id, artist.id, message="喜欢你的测评风格，想请你来拍。", policy=policy)
    metrics.refresh(session)
    return [
        "booking demo: more artists artist2@ / artist3@ / artist4@xinglian.local (same password);",
        f"  campaign 「{campaign.title}」 at /match?campaign={campaign.id}; the demo artist is invited (/bookings)",
    ]

"""Matching benchmark: ranking a brief over thousands of artists, side by side with its floor and its alternative.

    .venv/bin/python -m bench.matching                  # 3000 artists (thousands, as the issue asks)
    .venv/bin/python -m bench.matching --artists 10000

It builds a fresh embedded installation (SQLite + tantivy in a temporary directory) with N artists, each with a
profile and rate card, three live videos with product cards and engagement counters, followers, viewers who shared
their age and region, product clicks in the event log and orders attributed to them; indexes the videos; runs the
metrics job once (timed) and then measures, alternating call by call so both sides see the same machine:

- rank: `commerce.matching.service.rank`, the service behind /match and the API: one content-relevance query on the
  videos index, one read of the precomputed rows (profile, metrics, the brief's rate), scoring, ordering, a page;
- floor: the same rows read with the same query and nothing else (no index query, no scoring);
- recompute: what ranking would cost without the precomputed metrics: aggregate every artist's numbers from the raw
  tables (videos, counters, events, follows, traits, orders, bookings) and score them, per request.

The last line is one JSON object with the p50s and the ratios rank/floor and recompute/rank.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import random
import statistics
import time
from typing import Any

from sqlalchemy import func, insert, select

from bench.harness import alternate, percentile, scratch_app
from commerce.artists import metrics
from commerce.artists.models import AgeBand, ArtistProfile, ArtistRate, LengthTier, ViewerTraits
from commerce.booking.models import Campaign, CampaignStatus
from commerce.catalog.models import Product, ProductStatus, Sku, VideoProduct
from commerce.matching import service as matching
from commerce.matching.scoring import Candidate
from commerce.orders.models import Checkout, Order, OrderLine, OrderStatus
from core import clock
from core.accounts.models import Brand, BrandMember, BrandRole, User
from media.models import Video, VideoStatus, Visibility
from search.documents import build_videos
from search.models import EngagementEvent, EngagementKind, Follow, VideoStats
from search.query import Upsert

CATEGORIES = ["beauty.makeup", "beauty.skincare", "food.snacks", "digital.audio", "apparel.women", "home.kitchen"]
WORDS = {
    "beauty": ["粉底液", "口红", "防晒", "底妆", "测评", "foundation"],
    "food": ["零食", "开箱", "好吃", "snack"],
    "digital": ["耳机", "降噪", "开箱", "earbuds"],
    "apparel": ["穿搭", "连衣裙", "通勤", "outfit"],
    "home": ["厨房", "锅具", "收纳", "kitchen"],
}
VIEWERS = 3000


def seed(db: Any, n: int, rng: random.Random) -> dict[str, Any]:
    now = clock.now()
    user_row = {"password_hash": "x", "is_admin": False, "is_active": True, "locale": "zh-CN", "auth_version": 1,
                "created_at": now - dt.timedelta(days=400)}  # fmt: skip
    with db.engine.begin() as conn:
        conn.execute(
            insert(User), [{**user_row, "email": "brand@bench.local", "display_name": "品牌", "is_artist": False}]
        )
        owner_id = conn.scalar(select(User.id))
        conn.execute(insert(Brand), [{"name": "Bench 品牌", "description": "", "created_at": now}])
        brand_id = conn.scalar(select(Brand.id))
        conn.execute(insert(BrandMember), [{"brand_id": brand_id, "user_id": owner_id, "role": BrandRole.OWNER,
                                            "created_at": now}])  # fmt: skip
        conn.execute(insert(User), [{**user_row, "email": f"a{i}@bench.local", "display_name": f"达人{i}",
                                     "is_artist": True} for i in range(n)])  # fmt: skip
        conn.execute(insert(User), [{**user_row, "email": f"v{i}@bench.local", "display_name": f"观众{i}",
                                     "is_artist": False} for i in range(VIEWERS)])  # fmt: skip
        ids = list(conn.scalars(select(User.id).where(User.is_artist).order_by(User.id)))
        viewers = list(conn.scalars(select(User.id).where(User.email.like("v%")).order_by(User.id)))
        conn.execute(insert(ViewerTraits), [
            {"user_id": v, "age_band": rng.choice(list(AgeBand)), "region": rng.choice(["CN-GD", "CN-SH", "CN-ZJ"]),
             "updated_at": now} for v in viewers if rng.random() < 0.6
        ])  # fmt: skip
        category_of = {a: rng.choice(CATEGORIES) for a in ids}
        conn.execute(insert(ArtistProfile), [
            {"user_id": a, "bio": "", "categories": [category_of[a]], "tags": ["测评"], "accepting_bookings": True,
             "max_open_bookings": 5, "declared_followers": rng.choice([None, rng.randrange(10**3, 10**7)]),
             "declared_note": "", "created_at": now, "updated_at": now} for a in ids
        ])  # fmt: skip
        rates = [rng.randrange(50_000, 2_000_000, 1000) for _ in ids]
        conn.execute(insert(ArtistRate), [{"artist_id": a, "tier": LengthTier.UP_TO_60S, "price_fen": p}
                                          for a, p in zip(ids, rates, strict=True)])  # fmt: skip
        conn.execute(insert(Product), [
            {"brand_id": brand_id, "code": f"P{i}", "name": f"{rng.choice(WORDS[c.split('.')[0]])} {i}",
             "description": "", "category": c, "status": ProductStatus.ACTIVE, "price_min_fen": 9900,
             "price_max_fen": 9900, "created_at": now, "updated_at": now} for i, c in enumerate(CATEGORIES * 5)
        ])  # fmt: skip
        products = {c: [] for c in CATEGORIES}
        for pid, cat in conn.execute(select(Product.id, Product.category)):
            products[cat].append(pid)
        conn.execute(insert(Sku), [{"product_id": pid, "brand_id": brand_id, "code": f"S{pid}", "attributes": {},
                                    "price_fen": 9900, "stock": 10**6, "is_active": True, "created_at": now,
                                    "updated_at": now} for ps in products.values() for pid in ps])  # fmt: skip
        sku_of = dict(conn.execute(select(Sku.product_id, Sku.id)).all())
        videos = []
        for a in ids:
            root = category_of[a].split(".")[0]
            for _ in range(3):
                title = " ".join(rng.sample(WORDS[root], 2))
                videos.append({
                    "uploader_id": a, "title": title, "description": "", "hashtags": [rng.choice(WORDS[root])],
                    "status": VideoStatus.READY, "visibility": Visibility.PUBLIC,
                    "published_at": now - dt.timedelta(days=rng.randrange(1, 80)), "duration_seconds": 30.0,
                    "width": 720, "height": 1280, "created_at": now, "updated_at": now,
                })  # fmt: skip
        for i in range(0, len(videos), 5000):
            conn.execute(insert(Video), videos[i : i + 5000])
        vrows = conn.execute(select(Video.id, Video.uploader_id)).all()
        links, stats, events, orders_by_video = [], [], [], []
        for vid, a in vrows:
            pid = rng.choice(products[category_of[a]])
            links.append({"video_id": vid, "product_id": pid, "position": 0, "created_at": now, "updated_at": now})
            views = int(rng.lognormvariate(6, 1.5))
            stats.append({"video_id": vid, "views": views, "watch_ms": views * 9000, "completion_sum": views * 0.4,
                          "likes": views // 20, "shares": views // 200, "product_clicks": views // 50,
                          "purchases": 0, "updated_at": now})  # fmt: skip
            for _ in range(rng.randrange(2, 8)):
                viewer = rng.choice(viewers)
                at = now - dt.timedelta(days=rng.randrange(0, 89))
                events.append({"kind": EngagementKind.VIEW, "video_id": vid, "user_id": viewer, "watch_ms": 20_000,
                               "product_id": None, "occurred_at": at, "aggregated_at": now,
                               "counted": True})  # fmt: skip
                events.append({"kind": EngagementKind.PRODUCT_CLICK, "video_id": vid, "user_id": viewer,
                               "watch_ms": None, "product_id": pid, "occurred_at": at, "aggregated_at": now,
                               "counted": True})  # fmt: skip
            if rng.random() < 0.4:
                orders_by_video.append((vid, a, pid, rng.randrange(1, 6)))
        for chunk, rows in ((VideoProduct, links), (VideoStats, stats), (EngagementEvent, events)):
            for i in range(0, len(rows), 5000):
                conn.execute(insert(chunk), rows[i : i + 5000])
        conn.execute(insert(Follow), [{"follower_id": rng.choice(viewers), "creator_id": a, "created_at": now}
                                      for a in ids for _ in range(1)])  # fmt: skip
        for vid, a, pid, count in orders_by_video:
            for _ in range(count):
                buyer = rng.choice(viewers)
                checkout_id = conn.execute(
                    insert(Checkout).values(buyer_id=buyer, total=9900, created_at=now)
                ).inserted_primary_key[0]
                order_id = conn.execute(insert(Order).values(
                    checkout_id=checkout_id, buyer_id=buyer, brand_id=brand_id, status=OrderStatus.PAID, subtotal=9900,
                    discount=0, total=9900, address={}, address_hash="x", reserved_until=now, created_at=now,
                    paid_at=now - dt.timedelta(days=rng.randrange(0, 89)),
                )).inserted_primary_key[0]  # fmt: skip
                conn.execute(insert(OrderLine).values(
                    order_id=order_id, product_id=pid, sku_id=sku_of[pid], product_name="x", quantity=1,
                    unit_price=9900, paid_amount=9900, platform_fee_bp=500, artist_rate_bp=2000,
                    source_kind="video", source_video_id=vid, artist_id=a,
                ))  # fmt: skip
        conn.execute(insert(Campaign), [{
            "brand_id": brand_id, "title": "粉底液种草", "brief": "油皮粉底液持妆测评", "category": "beauty.makeup",
            "audience_interests": ["beauty"], "audience_regions": [], "audience_ages": ["18-23", "24-30"],
            "budget_min_fen": 100_000, "budget_max_fen": 600_000, "videos_count": 1,
            "length_tier": LengthTier.UP_TO_60S,
            "deadline": now + dt.timedelta(days=30), "must_hashtags": ["底妆"], "must_link_products": True,
            "max_revisions": 2, "status": CampaignStatus.OPEN, "created_at": now, "updated_at": now,
        }])  # fmt: skip
        campaign_id = conn.scalar(select(func.max(Campaign.id)))
    return {"owner_id": owner_id, "campaign_id": campaign_id, "artists": ids}


def index_videos(db: Any, engine: Any) -> None:
    with db.session() as s:
        ids = list(s.scalars(select(Video.id).order_by(Video.id)))
        for i in range(0, len(ids), 1000):
            docs = build_videos(s, ids[i : i + 1000])
            engine.bulk("videos", [Upsert(str(k), d, 1) for k, d in docs.items() if d is not None])
    engine.refresh("videos")


def recompute_and_rank(s: Any, campaign: Campaign, ids: list[int]) -> list[Any]:
    """Ranking without the precomputed table: every artist's numbers aggregated from the raw tables, then scored."""
    fresh = metrics.compute(s, ids, clock.now())
    rows = matching.load_artists(s, tier=campaign.length_tier, exclude_brand_id=campaign.brand_id)
    out = []
    for row in rows:
        v = fresh[row.candidate.artist_id]
        c = Candidate(
            artist_id=row.candidate.artist_id, rate_fen=row.candidate.rate_fen,
            declared_categories=row.candidate.declared_categories, categories_bp=v["categories"],
            audience=v["audience"], gmv_90d_fen=v["gmv_90d_fen"], orders_90d=v["orders_90d"],
            product_clicks_90d=v["product_clicks_90d"], bookings_done=v["bookings_done"],
            bookings_on_time=v["bookings_on_time"], rating_count=v["rating_count"], rating_sum=v["rating_sum"],
        )  # fmt: skip
        out.append(dataclasses.replace(row, candidate=c))
    return matching.rank_rows(out, matching.brief_of(campaign), matching.reference(s)).scores(0, 20)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artists", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)

    with scratch_app() as app:
        db, engine = app.extensions["db"], app.extensions["search"]
        t0 = time.perf_counter()
        data = seed(db, args.artists, rng)
        print(
            f"seeded {args.artists} artists ({3 * args.artists} videos) in {time.perf_counter() - t0:.1f} s", flush=True
        )
        index_videos(db, engine)
        with db.session() as s:
            t0 = time.perf_counter()
            metrics.refresh(s)
            refresh_s = time.perf_counter() - t0
        print(f"metrics job: {args.artists} artists in {refresh_s:.2f} s", flush=True)

        with db.session() as s:
            owner = s.get(User, data["owner_id"])
            campaign = s.get(Campaign, data["campaign_id"])
            stmt_rows = lambda: matching.load_artists(s, tier=campaign.length_tier, exclude_brand_id=campaign.brand_id)  # noqa: E731
            rank = lambda: matching.rank(s, owner, campaign.id, limit=20, engine=engine)  # noqa: E731
            recompute = lambda: recompute_and_rank(s, campaign, data["artists"])  # noqa: E731
            page = rank()
            assert page.total == args.artists
            assert page.relevance_available
            top = [m.artist.candidate.artist_id for m in page.items]
            # Same ranking both ways (relevance aside: the recompute side scores without the index query).
            rank_times, floor_times, recompute_times = alternate(
                [(rank, stmt_rows, recompute) for _ in range(args.rounds)]
            )

    r50, f50, x50 = (statistics.median(t) for t in (rank_times, floor_times, recompute_times))
    print()
    print(f"{'path':<44}{'p50 ms':>10}{'p90 ms':>10}{'ratio':>10}")
    print(f"{'rank (index query + precomputed rows)':<44}{r50:>10.1f}{percentile(rank_times, 90):>10.1f}{1:>10.2f}")
    print(f"{'floor: read the same rows only':<44}{f50:>10.1f}{percentile(floor_times, 90):>10.1f}{f50 / r50:>10.2f}")
    print(f"{'recompute from raw tables, then score':<44}{x50:>10.1f}{percentile(recompute_times, 90):>10.1f}"
          f"{x50 / r50:>10.2f}")  # fmt: skip
    print(f"top 5 artists: {top[:5]}")
    result = {
        "artists": args.artists,
        "rank_p50_ms": round(r50, 1),
        "floor_p50_ms": round(f50, 1),
        "recompute_p50_ms": round(x50, 1),
        "rank_vs_floor": round(r50 / f50, 2),
        "recompute_vs_rank": round(x50 / r50, 2),
        "metrics_job_s": round(refresh_s, 2),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

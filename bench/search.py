"""Search benchmark: indexing throughput and feed/search latency, service path vs raw engine, side by side.

    .venv/bin/python -m bench.search                 # 100 000 videos (the acceptance size)
    .venv/bin/python -m bench.search --videos 20000  # quicker

It builds a fresh embedded installation (SQLite + tantivy in a temporary directory, the zero-set-up
defaults) with N videos whose titles mix Chinese and English, then measures:

- indexing: the full path (outbox events -> relay -> documents built from the database -> versioned bulk
  writes, plus the artist documents the videos fan out to) against raw engine adds of the very same
  documents (`SearchEngine.bulk`, same batch size, into an empty index), each twice, in the order
  full, raw, raw, full. Native tantivy adds of the same documents (prebuilt, one commit) are printed too,
  for reference;
- search and feed latency: the HTTP API (`/api/v1/search?q=`, `/api/v1/feed` for a signed-in user with
  follows, interests and a watch history) against the exact engine request that call sends, alternated
  query by query so both see the same machine.

The last line is one JSON object with index_ratio (service/raw docs per second), search_p50_ratio and
feed_p50_ratio (service/raw), and the raw numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, insert, select, update

from bench.harness import alternate, percentile, scratch_app
from core import clock
from core.accounts import passwords
from core.accounts.models import User
from core.outbox import OutboxEvent, pending_count
from media.models import Video, VideoStatus, Visibility
from search import feed
from search.documents import ENTITIES, VIDEOS, build_videos
from search.engine import physical_name
from search.models import EngagementEvent, EngagementKind, Follow, UserInterest, VideoStats
from search.query import Upsert
from search.service import video_search_request

TOPICS: list[tuple[list[str], list[str], list[str]]] = [
    # (Chinese words, English words, hashtags)
    (
        ["口红", "粉底液", "散粉", "眼影盘", "防晒霜", "面霜", "精华", "卸妆"],
        ["lipstick", "foundation", "sunscreen", "serum", "skincare"],
        ["美妆", "护肤", "口红", "平价好物"],
    ),
    (
        ["连衣裙", "牛仔裤", "卫衣", "风衣", "运动鞋", "半身裙", "衬衫"],
        ["dress", "jeans", "hoodie", "sneakers", "outfit"],
        ["穿搭", "通勤", "小个子"],
    ),
    (
        ["火锅", "奶茶", "零食", "烧烤", "小龙虾", "蛋糕", "咖啡"],
        ["hotpot", "bubble tea", "snacks", "coffee", "recipe"],
        ["美食", "探店", "食谱"],
    ),
    (
        ["手机", "耳机", "笔记本电脑", "相机", "平板", "充电宝", "智能手表"],
        ["iPhone", "headphones", "laptop", "camera", "review"],
        ["数码", "开箱", "测评"],
    ),
    (["攻略", "自驾", "民宿", "古镇", "海边", "雪山"], ["travel", "vlog", "hiking", "road trip"], ["旅行", "旅游攻略"]),
    (["瑜伽", "跑步", "增肌", "减脂", "跳绳", "普拉提"], ["yoga", "workout", "running", "HIIT"], ["健身", "运动"]),
    (["猫粮", "狗狗", "猫咪", "宠物"], ["puppy", "cat", "pet"], ["萌宠", "养猫"]),
]
PLACES = ["成都", "重庆", "西安", "杭州", "上海", "北京", "长沙", "大理", "厦门", "广州"]
BRANDS = ["花西子", "完美日记", "李宁", "安踏", "小米", "华为", "Apple", "Nike", "三只松鼠", "元气森林"]
MODIFIERS = ["平价", "高级感", "学生党", "新手", "夏季", "秋冬", "测评", "推荐", "开箱", "合集", "必买", "避雷"]
EN_MODIFIERS = ["best", "honest", "budget", "daily", "my", "top 5", "first look"]


def title_for(rng: random.Random) -> tuple[str, list[str]]:
    zh, en, tags = rng.choice(TOPICS)
    word = rng.choice(zh)
    style = rng.random()
    if style < 0.55:
        title = f"{rng.choice(MODIFIERS)}{word}{rng.choice(MODIFIERS)} {rng.choice(BRANDS)}"
    elif style < 0.8:
        title = f"{rng.choice(EN_MODIFIERS).title()} {rng.choice(en)} {rng.choice(['review', 'haul', 'guide', 'tips'])}"
    else:
        title = f"{rng.choice(PLACES)}{word} {rng.choice(en)} {rng.choice(MODIFIERS)}"
    return title, rng.sample(tags, k=min(len(tags), rng.randint(1, 3)))


def seed(db: Any, n_videos: int, n_creators: int, rng: random.Random) -> dict[str, Any]:
    now = clock.now()
    hashed = passwords.hash_password("bench-password-1")
    with db.engine.begin() as conn:
        conn.execute(
            insert(User),
            [
                {"email": f"creator{i}@bench.local", "display_name": f"达人{i} Creator{i}", "password_hash": hashed,
                 "is_artist": True, "is_admin": False, "is_active": True, "locale": "zh-CN", "auth_version": 1,
                 "created_at": now - dt.timedelta(days=400)}
                for i in range(n_creators)
            ],
        )  # fmt: skip
        creator_ids = list(conn.scalars(select(User.id).order_by(User.id)))
        rows, stats = [], []
        for i in range(n_videos):
            title, tags = title_for(rng)
            published = now - dt.timedelta(minutes=rng.randint(1, 90 * 24 * 60))
            rows.append(
                {"uploader_id": rng.choice(creator_ids), "brand_id": None, "title": title,
                 "description": f"{title}｜第{i}期 分享 sharing", "hashtags": tags, "status": VideoStatus.READY,
                 "visibility": Visibility.PUBLIC, "published_at": published,
                 "duration_seconds": float(rng.randint(8, 180)), "width": 720, "height": 1280,
                 "created_at": now, "updated_at": now}
            )  # fmt: skip
        for chunk in range(0, len(rows), 5000):
            conn.execute(insert(Video), rows[chunk : chunk + 5000])
        video_ids = list(conn.scalars(select(Video.id).order_by(Video.id)))
        for vid in video_ids:
            views = int(rng.lognormvariate(5, 2))
            stats.append(
                {"video_id": vid, "views": views, "watch_ms": views * 9000,
                 "completion_sum": views * rng.uniform(0.1, 0.9),
                 "likes": int(views * rng.uniform(0, 0.15)), "shares": int(views * rng.uniform(0, 0.02)),
                 "product_clicks": int(views * rng.uniform(0, 0.03)), "purchases": int(views * rng.uniform(0, 0.005)),
                 "updated_at": now}
            )  # fmt: skip
        for chunk in range(0, len(stats), 5000):
            conn.execute(insert(VideoStats), stats[chunk : chunk + 5000])
        # The changes the upload pipeline and the aggregator announced: one event per video.
        events = [
            {"topic": "video", "entity_id": str(v), "op": "upsert", "created_at": now, "attempts": 0} for v in video_ids
        ]
        for chunk in range(0, len(events), 10_000):
            conn.execute(insert(OutboxEvent), events[chunk : chunk + 10_000])
    return {"creators": creator_ids, "videos": video_ids}


def viewer_with_history(db: Any, data: dict[str, Any], rng: random.Random) -> tuple[int, str]:
    """A signed-in viewer who follows 30 creators, has interests and watched 200 videos this week."""
    from core.accounts import service as accounts

    with db.session() as s:
        user = accounts.register(s, email="viewer@bench.local", password="bench-password-1", display_name="观众")
        for c in rng.sample(data["creators"], 30):
            s.add(Follow(follower_id=user.id, creator_id=c))
        for tag, weight in (("美妆", 9.0), ("穿搭", 5.0), ("美食", 3.0), ("数码", 1.0)):
            s.add(UserInterest(user_id=user.id, tag=tag, weight=weight, updated_at=clock.now()))
        for vid in rng.sample(data["videos"], 200):
            s.add(EngagementEvent(kind=EngagementKind.VIEW, video_id=vid, user_id=user.id, watch_ms=5000))
        s.commit()
        token = accounts.issue_token(s, user)
        return user.id, token


def full_path_once(app: Any, db: Any, engine: Any, run: str) -> float:
    """Seconds for the relay to index every pending video event (and the artist events they fan out to)."""
    for entity in (ENTITIES["videos"], ENTITIES["artists"]):
        fresh = physical_name(entity.alias, run)
        engine.create_index(fresh, entity.schema)
        engine.point_alias(entity.alias, fresh)
    relay = app.extensions["outbox"]
    started = time.perf_counter()
    with db.session() as s:
        while relay.drain(s, batch_size=500):
            pass
        assert pending_count(s) == 0
    seconds = time.perf_counter() - started
    # Make the events pending again for the next run, as if they had just been committed.
    with db.engine.begin() as conn:
        conn.execute(delete(OutboxEvent).where(OutboxEvent.topic == "artist"))
        conn.execute(update(OutboxEvent).values(delivered_at=None, attempts=0))
    return seconds


def raw_once(engine: Any, actions: list[Upsert], run: str) -> float:
    index = physical_name("videos", f"raw{run}")
    engine.create_index(index, VIDEOS)
    started = time.perf_counter()
    for chunk in range(0, len(actions), 500):
        engine.bulk(index, actions[chunk : chunk + 500])
    seconds = time.perf_counter() - started
    engine.delete_index(index)
    return seconds


def measure_indexing(app: Any, db: Any, engine: Any, n_videos: int) -> dict[str, float]:
    """Full path and raw adds twice each, in the order full, raw, raw, full, so load changes on a shared
    machine weigh on both sides alike."""
    with db.session() as s:  # the raw side's documents, built beforehand (not timed)
        ids = list(s.scalars(select(Video.id).order_by(Video.id)))
        docs = {}
        for chunk in range(0, len(ids), 1000):
            docs.update(build_videos(s, ids[chunk : chunk + 1000]))
    actions = [Upsert(str(i), d, 1) for i, d in docs.items() if d is not None]
    assert len(actions) == n_videos
    full = [full_path_once(app, db, engine, "run1")]
    raw = [raw_once(engine, actions, "1"), raw_once(engine, actions, "2")]
    full.append(full_path_once(app, db, engine, "run2"))
    engine.refresh("videos")
    assert engine.count("videos") == n_videos, engine.count("videos")

    # Native tantivy adds, for reference: prebuilt tantivy documents, one commit.
    native_index = physical_name("videos", "native")
    engine.create_index(native_index, VIDEOS)
    handle = engine._resolve(native_index)
    prebuilt = [engine._to_tantivy(handle, a.id, a.doc, 1) for a in actions]
    writer = handle.index.writer(heap_size=256_000_000, num_threads=1)
    started = time.perf_counter()
    for d in prebuilt:
        writer.add_document(d)
    writer.commit()
    native_seconds = time.perf_counter() - started
    writer.wait_merging_threads()
    return {
        "service_docs_per_s": 2 * n_videos / sum(full),
        "raw_docs_per_s": 2 * len(actions) / sum(raw),
        "native_docs_per_s": len(actions) / native_seconds,
        "service_seconds": sum(full) / 2,
    }


def measure_latency(app: Any, data: dict[str, Any], rng: random.Random, n: int) -> dict[str, Any]:
    db, engine = app.extensions["db"], app.extensions["search"]
    user_id, token = viewer_with_history(db, data, rng)
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    words = [w for zh, en, _ in TOPICS for w in (*zh, *en)] + BRANDS + PLACES
    queries = [rng.choice(words) + (f" {rng.choice(words)}" if rng.random() < 0.3 else "") for _ in range(n)]

    def search_pair(q: str) -> tuple[Callable[[], Any], Callable[[], Any]]:
        def service() -> None:
            r = client.get("/api/v1/search", query_string={"q": q})
            assert r.status_code == 200, r.get_data(as_text=True)

        request = video_search_request(q)
        return service, lambda: engine.search("videos", request)

    s_service, s_raw = alternate([search_pair(q) for q in queries], warmup=5)

    with db.session() as s:
        personal = feed.personalise(s, user_id=user_id, device_id=None, now=clock.now())
    assert personal.followed
    assert personal.interests
    assert len(personal.exclude) == 200
    feed_request = feed.for_you_request(clock.now(), personal, 10 * feed.CANDIDATES_PER_SLOT)

    def feed_service() -> None:
        r = client.get("/api/v1/feed", headers=auth)
        assert r.status_code == 200, r.get_data(as_text=True)
        assert len(r.get_json()["items"]) == 10

    f_service, f_raw = alternate(
        [(feed_service, lambda: engine.search("videos", feed_request)) for _ in range(max(40, n // 4))], warmup=5
    )
    return {"search": (s_service, s_raw), "feed": (f_service, f_raw)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=100_000)
    parser.add_argument("--creators", type=int, default=5_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)

    with scratch_app() as app:
        db, engine = app.extensions["db"], app.extensions["search"]
        t0 = time.perf_counter()
        data = seed(db, args.videos, args.creators, rng)
        print(
            f"seeded {args.videos} videos by {args.creators} creators in {time.perf_counter() - t0:.1f} s", flush=True
        )

        idx = measure_indexing(app, db, engine, args.videos)
        print(f"indexed through the outbox in {idx['service_seconds']:.1f} s (mean of two runs)", flush=True)

        lat = measure_latency(app, data, rng, args.queries)

    (s_service, s_raw), (f_service, f_raw) = lat["search"], lat["feed"]
    result = {
        "videos": args.videos,
        "index_service_docs_per_s": round(idx["service_docs_per_s"]),
        "index_raw_docs_per_s": round(idx["raw_docs_per_s"]),
        "index_native_tantivy_docs_per_s": round(idx["native_docs_per_s"]),
        "index_ratio": round(idx["service_docs_per_s"] / idx["raw_docs_per_s"], 3),
        "search_service_p50_ms": round(statistics.median(s_service), 2),
        "search_raw_p50_ms": round(statistics.median(s_raw), 2),
        "search_service_p99_ms": round(percentile(s_service, 99), 2),
        "search_raw_p99_ms": round(percentile(s_raw, 99), 2),
        "search_p50_ratio": round(statistics.median(s_service) / statistics.median(s_raw), 3),
        "feed_service_p50_ms": round(statistics.median(f_service), 2),
        "feed_raw_p50_ms": round(statistics.median(f_raw), 2),
        "feed_service_p99_ms": round(percentile(f_service, 99), 2),
        "feed_raw_p99_ms": round(percentile(f_raw, 99), 2),
        "feed_p50_ratio": round(statistics.median(f_service) / statistics.median(f_raw), 3),
    }
    print()
    print(f"{'':28} {'service':>12} {'raw engine':>12} {'ratio':>8}   target")
    print(
        f"{'indexing docs/s':28} {result['index_service_docs_per_s']:>12} {result['index_raw_docs_per_s']:>12} "
        f"{result['index_ratio']:>8}   >= 0.5   (native tantivy adds: {result['index_native_tantivy_docs_per_s']}/s)"
    )
    for name in ("search", "feed"):
        for p in ("p50", "p99"):
            svc, raw = result[f"{name}_service_{p}_ms"], result[f"{name}_raw_{p}_ms"]
            target = "<= 2.0" if p == "p50" else ""
            print(f"{name + ' ' + p + ' ms':28} {svc:>12} {raw:>12} {svc / raw:>8.3f}   {target}")
    print(json.dumps(result))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

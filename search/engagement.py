"""Engagement: what viewers do with videos, recorded append-only and counted asynchronously.

The player posts batches of events (`record_events`); commerce records
purchases (`record_purchase`). The aggregator (`aggregate`, a periodic task)
reads pending events in id order and, in one transaction per batch:

- decides which events count: a view only after a real watch (REAL_WATCH_MS, or REAL_WATCH_SHARE of a
  short clip), one view, share or product click per user (or
  device) per video per clock hour, one like per user, one purchase per order
  line, and at most IP_VIEWS_PER_HOUR views of a video per IP per hour (so a
  bot rotating device ids cannot inflate views without limit);
- adds them to `VideoStats` and the like state to `VideoLike`;
- updates the users' interest tags (decaying the old weights);
- emits a `video` outbox event for each changed video, so the counters reach
  the search documents.

Only one aggregator runs at a time (an advisory lock on PostgreSQL; SQLite's
single writer elsewhere), which keeps the dedupe decisions exact.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from core import clock
from core.accounts.models import User
from core.db import Rows, is_postgres, write_together
from core.errors import ValidationFailed, register_messages
from core.outbox import emit
from core.retention import delete_in_batches
from media.models import Video
from search.documents import live_video_ids
from search.models import EngagementEvent, EngagementKind, UserInterest, VideoLike, VideoStats

register_messages(
    {
        "device_id_required": (
            "未登录时需要提供设备标识 device_id",
            "Send a device_id when not signed in",
        ),
        "invalid_device_id": ("设备标识格式无效", "Invalid device_id"),
        "video_not_found": ("视频不存在或不可见", "Video not found"),
        "sign_in_required": ("请先登录", "Sign in first"),
        "watch_ms_required": ("观看事件需要 watch_ms", "A view needs watch_ms"),
    }
)

MAX_BATCH = 100
MAX_WATCH_MS = 6 * 3600 * 1000
DEDUPE_WINDOW = dt.timedelta(hours=1)
IP_VIEWS_PER_HOUR = 20
WATCH_HISTORY = dt.timedelta(days=7)
# A real watch: an autoplay swiped past in under a second is no view, and the feed does not treat it as seen.
REAL_WATCH_MS = 3000
REAL_WATCH_SHARE = 0.25  # ... or this share of a clip shorter than 12 s
INTEREST_HALF_LIFE_DAYS = 14.0
INTEREST_POINTS = {
    EngagementKind.VIEW: 1.0,  # scaled by the share of the video watched
    EngagementKind.LIKE: 3.0,
    EngagementKind.UNLIKE: -3.0,
    EngagementKind.SHARE: 2.0,
    EngagementKind.PRODUCT_CLICK: 2.0,
    EngagementKind.PURCHASE: 5.0,
}
AGGREGATOR_LOCK = 0x584C_5345_4E47  # "XLSENG": one aggregator at a time on PostgreSQL
_DEVICE_ID = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")
CLIENT_KINDS = frozenset(EngagementKind) - {EngagementKind.PURCHASE}


@dataclass(frozen=True)
class EventIn:
    kind: EngagementKind
    video_id: int
    watch_ms: int | None = None
    product_id: int | None = None


@dataclass
class Recorded:
    accepted: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (position in the batch, error code)


def check_device_id(device_id: str | None) -> str | None:
    if device_id is None or device_id == "":
        return None
    if not _DEVICE_ID.match(device_id):
        raise ValidationFailed.one("device_id", "invalid_device_id")
    return device_id


def is_real_watch(watch_ms: int | None, duration_seconds: float | None) -> bool:
    watched = watch_ms or 0
    return watched >= REAL_WATCH_MS or watched >= (duration_seconds or 0) * 1000 * REAL_WATCH_SHARE > 0


def _real_watch_sql() -> Any:
    """`is_real_watch` as SQL, over engagement_events joined to videos."""
    return (EngagementEvent.watch_ms >= REAL_WATCH_MS) | (
        (Video.duration_seconds > 0) & (EngagementEvent.watch_ms >= Video.duration_seconds * (1000 * REAL_WATCH_SHARE))
    )


def record_events(
    session: Session,
    *,
    user: User | None,
    device_id: str | None,
    ip_hash: str | None,
    events: Sequence[EventIn],
) -> Recorded:
    """Append a player batch to the log. Events for unknown videos are rejected one by one; the rest are kept."""
    device_id = check_device_id(device_id)
    if user is None and device_id is None:
        raise ValidationFailed.one("device_id", "device_id_required")
    if len(events) > MAX_BATCH:
        raise ValidationFailed.one("events", "too_long")
    live = live_video_ids(session, list({e.video_id for e in events}))
    result = Recorded()
    now = clock.now()
    for i, e in enumerate(events):
        if e.kind not in CLIENT_KINDS:
            result.rejected.append((i, "permission_denied"))
        elif e.video_id not in live:
            result.rejected.append((i, "video_not_found"))
        elif user is None and e.kind in (EngagementKind.LIKE, EngagementKind.UNLIKE):
            result.rejected.append((i, "sign_in_required"))
        elif e.kind == EngagementKind.VIEW and e.watch_ms is None:
            result.rejected.append((i, "watch_ms_required"))
        else:
            session.add(
                EngagementEvent(
                    kind=e.kind,
                    video_id=e.video_id,
                    user_id=user.id if user else None,
                    device_id=device_id,
                    ip_hash=ip_hash,
                    watch_ms=None if e.watch_ms is None else max(0, min(e.watch_ms, MAX_WATCH_MS)),
                    product_id=e.product_id,
                    occurred_at=now,
                )
            )
            result.accepted += 1
    session.commit()
    return result


@dataclass(frozen=True)
class Purchase:
    """A paid order line attributed to a video."""

    video_id: int
    user_id: int | None
    order_line_ref: str
    product_id: int | None = None


def purchase_rows(purchases: Sequence[Purchase]) -> Rows:
    """The rows `record_purchase` inserts, for many lines at once, for a caller that writes them along with its own
    (`core.db.write_together`): commerce counts purchases inside its payment webhook."""
    return Rows(
        EngagementEvent.__table__,
        [{"kind": EngagementKind.PURCHASE, "video_id": p.video_id, "user_id": p.user_id, "product_id": p.product_id,
          "reference": p.order_line_ref[:80]} for p in purchases]
    )  # fmt: skip


def record_purchase(
    session: Session, *, video_id: int, user_id: int | None, order_line_ref: str, product_id: int | None = None
) -> None:
    """Count a paid order line attributed to a video. Joins the caller's transaction (commerce commits)."""
    write_together(session, [purchase_rows([Purchase(video_id, user_id, order_line_ref, product_id)])])


def recently_watched(
    session: Session, *, user_id: int | None, device_id: str | None, since: dt.datetime, limit: int = 1000
) -> list[int]:
    """Videos this viewer really watched since `since` (counted or not, aggregated or not), newest first."""
    if user_id is not None:
        who = EngagementEvent.user_id == user_id
    elif device_id is not None:
        who = EngagementEvent.device_id == device_id
    else:
        return []
    rows = session.execute(
        select(EngagementEvent.video_id, func.max(EngagementEvent.occurred_at).label("at"))
        .join(Video, Video.id == EngagementEvent.video_id)
        .where(who, EngagementEvent.kind == EngagementKind.VIEW, EngagementEvent.occurred_at >= since)
        .where(_real_watch_sql())
        .group_by(EngagementEvent.video_id)
        .order_by(text("at DESC"))
        .limit(limit)
    )
    return [video_id for video_id, _ in rows]


def decayed(weight: float, since: dt.datetime, now: dt.datetime) -> float:
    days = max(0.0, (now - since).total_seconds() / 86400)
    return weight * 0.5 ** (days / INTEREST_HALF_LIFE_DAYS)


def top_interests(session: Session, user_id: int, *, now: dt.datetime, limit: int) -> list[tuple[str, float]]:
    """The user's strongest interest tags now, each with its share of their total (shares sum to 1)."""
    rows = session.execute(
        select(UserInterest.tag, UserInterest.weight, UserInterest.updated_at)
        .where(UserInterest.user_id == user_id, UserInterest.weight > 0)
        .order_by(UserInterest.weight.desc())
        .limit(limit * 4)
    ).all()
    current = sorted(((tag, decayed(w, at, now)) for tag, w, at in rows), key=lambda kv: (-kv[1], kv[0]))[:limit]
    total = sum(w for _, w in current)
    return [(tag, w / total) for tag, w in current if w > 0] if total > 0 else []


# ---------------------------------------------------------------- aggregation


def _bucket(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y%m%d%H")


def _actor(e: EngagementEvent) -> str:
    return f"u{e.user_id}" if e.user_id is not None else f"d{e.device_id}"


def dedupe_key(e: EngagementEvent) -> str | None:
    """Events with the same key count once; likes are a state (VideoLike) rather than a key."""
    match e.kind:
        case EngagementKind.VIEW:
            return f"view:{e.video_id}:{_actor(e)}:{_bucket(e.occurred_at)}"
        case EngagementKind.SHARE:
            return f"share:{e.video_id}:{_actor(e)}:{_bucket(e.occurred_at)}"
        case EngagementKind.PRODUCT_CLICK:
            return f"click:{e.video_id}:{e.product_id or 0}:{_actor(e)}:{_bucket(e.occurred_at)}"
        case EngagementKind.PURCHASE:
            return f"purchase:{e.reference or e.id}"
    return None


@dataclass
class _Delta:
    views: int = 0
    watch_ms: int = 0
    completion: float = 0.0
    likes: int = 0
    shares: int = 0
    clicks: int = 0
    purchases: int = 0

    def add(self, e: EngagementEvent, video: Video | None) -> float:
        """Count one event; returns the interest points it earns the viewer."""
        points = INTEREST_POINTS[e.kind]
        match e.kind:
            case EngagementKind.VIEW:
                watched = e.watch_ms or 0
                duration_ms = (video.duration_seconds or 0) * 1000 if video else 0
                fraction = min(1.0, watched / duration_ms) if duration_ms > 0 else 0.0
                self.views += 1
                self.watch_ms += watched
                self.completion += fraction
                return points * fraction
            case EngagementKind.LIKE:
                self.likes += 1
            case EngagementKind.UNLIKE:
                self.likes -= 1
            case EngagementKind.SHARE:
                self.shares += 1
            case EngagementKind.PRODUCT_CLICK:
                self.clicks += 1
            case EngagementKind.PURCHASE:
                self.purchases += 1
        return points


def aggregate(session: Session, *, batch_size: int = 5000) -> int:
    """Count one batch of pending events; returns how many events it processed."""
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AGGREGATOR_LOCK})
    events = session.scalars(
        select(EngagementEvent)
        .where(EngagementEvent.aggregated_at.is_(None))
        .order_by(EngagementEvent.id)
        .limit(batch_size)
        .with_for_update()
    ).all()
    if not events:
        session.commit()
        return 0
    now = clock.now()
    video_ids = {e.video_id for e in events}
    # Durations give completion rates; hashtags give interests.
    videos = {v.id: v for v in session.scalars(select(Video).where(Video.id.in_(video_ids)))}
    keys = {e.id: dedupe_key(e) for e in events}
    seen = set(
        session.scalars(
            select(EngagementEvent.dedupe_key).where(
                EngagementEvent.counted.is_(True), EngagementEvent.dedupe_key.in_({k for k in keys.values() if k})
            )
        )
    )
    ip_views = _ip_views_this_hour(session, events)
    likes = _like_states(session, events)
    deltas: dict[int, _Delta] = defaultdict(_Delta)
    interest: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for e in events:
        key = keys[e.id]
        counted = _decide(e, key, seen, ip_views, likes, video=videos.get(e.video_id))
        e.aggregated_at = now
        e.counted = counted
        e.dedupe_key = key
        if not counted:
            continue
        video = videos.get(e.video_id)
        points = deltas[e.video_id].add(e, video)
        if e.user_id is not None and video is not None:
            for tag in dict.fromkeys(video.hashtags or []):
                interest[e.user_id][tag[:64]] += points
    _apply_likes(session, likes)
    _apply_stats(session, deltas)
    _apply_interests(session, interest, now)
    for video_id in sorted(deltas):
        emit(session, "video", video_id)
    bought = {e.product_id for e in events if e.counted and e.kind == EngagementKind.PURCHASE and e.product_id}
    for product_id in sorted(bought):  # the product document counts its purchases
        emit(session, "product", product_id)
    session.commit()
    return len(events)


def _decide(
    e: EngagementEvent,
    key: str | None,
    seen: set[str],
    ip_views: dict[tuple[int, str], int],
    likes: dict[tuple[int, int], tuple[bool, bool]],
    *,
    video: Video | None,
) -> bool:
    if e.kind == EngagementKind.VIEW and not is_real_watch(e.watch_ms, video.duration_seconds if video else None):
        return False  # before the dedupe key is taken: a real watch later in the hour still counts
    if e.kind in (EngagementKind.LIKE, EngagementKind.UNLIKE):
        assert e.user_id is not None
        was, _ = likes[(e.user_id, e.video_id)]
        want = e.kind == EngagementKind.LIKE
        if was == want:
            return False
        likes[(e.user_id, e.video_id)] = (want, likes[(e.user_id, e.video_id)][1])
        return True
    if key is None or key in seen:
        return False
    if e.kind == EngagementKind.VIEW and e.ip_hash:
        n = ip_views.get((e.video_id, e.ip_hash), 0)
        if n >= IP_VIEWS_PER_HOUR:
            return False
        ip_views[(e.video_id, e.ip_hash)] = n + 1
    seen.add(key)
    return True


def _ip_views_this_hour(session: Session, events: Sequence[EngagementEvent]) -> dict[tuple[int, str], int]:
    views = [e for e in events if e.kind == EngagementKind.VIEW and e.ip_hash]
    if not views:
        return {}
    start = min(e.occurred_at for e in views).replace(minute=0, second=0, microsecond=0)
    rows = session.execute(
        select(EngagementEvent.video_id, EngagementEvent.ip_hash, func.count())
        .where(
            EngagementEvent.kind == EngagementKind.VIEW,
            EngagementEvent.counted.is_(True),
            EngagementEvent.occurred_at >= start,
            EngagementEvent.video_id.in_({e.video_id for e in views}),
            EngagementEvent.ip_hash.in_({e.ip_hash for e in views}),
        )
        .group_by(EngagementEvent.video_id, EngagementEvent.ip_hash)
    )
    return {(video_id, ip): int(n) for video_id, ip, n in rows}


def _like_states(session: Session, events: Sequence[EngagementEvent]) -> dict[tuple[int, int], tuple[bool, bool]]:
    """(user, video) -> (likes now, liked before this batch) for every like/unlike in the batch."""
    pairs: set[tuple[int, int]] = {
        (e.user_id, e.video_id)
        for e in events
        if e.kind in (EngagementKind.LIKE, EngagementKind.UNLIKE) and e.user_id is not None
    }
    if not pairs:
        return {}
    existing: set[tuple[int, int]] = set(
        session.execute(
            select(VideoLike.user_id, VideoLike.video_id).where(
                VideoLike.user_id.in_({u for u, _ in pairs}), VideoLike.video_id.in_({v for _, v in pairs})
            )
        ).all()
    )
    return {(u, v): ((u, v) in existing, (u, v) in existing) for u, v in pairs}


def _apply_likes(session: Session, likes: dict[tuple[int, int], tuple[bool, bool]]) -> None:
    for (user_id, video_id), (now_likes, before) in likes.items():
        if now_likes and not before:
            session.add(VideoLike(user_id=user_id, video_id=video_id))
        elif before and not now_likes:
            session.execute(delete(VideoLike).where(VideoLike.user_id == user_id, VideoLike.video_id == video_id))


def _apply_stats(session: Session, deltas: dict[int, _Delta]) -> None:
    existing = set(session.scalars(select(VideoStats.video_id).where(VideoStats.video_id.in_(deltas))))
    for video_id in deltas:
        if video_id not in existing:
            session.add(
                VideoStats(
                    video_id=video_id,
                    views=0,
                    watch_ms=0,
                    completion_sum=0.0,
                    likes=0,
                    shares=0,
                    product_clicks=0,
                    purchases=0,
                )
            )
    session.flush()
    for video_id, d in deltas.items():
        session.execute(
            update(VideoStats)
            .where(VideoStats.video_id == video_id)
            .values(
                views=VideoStats.views + d.views,
                watch_ms=VideoStats.watch_ms + d.watch_ms,
                completion_sum=VideoStats.completion_sum + d.completion,
                likes=VideoStats.likes + d.likes,
                shares=VideoStats.shares + d.shares,
                product_clicks=VideoStats.product_clicks + d.clicks,
                purchases=VideoStats.purchases + d.purchases,
                updated_at=clock.now(),
            )
        )


def _apply_interests(session: Session, interest: dict[int, dict[str, float]], now: dt.datetime) -> None:
    for user_id, tags in interest.items():
        rows = {
            r.tag: r
            for r in session.scalars(
                select(UserInterest).where(UserInterest.user_id == user_id, UserInterest.tag.in_(tags))
            )
        }
        for tag, points in tags.items():
            row = rows.get(tag)
            if row is None:
                session.add(UserInterest(user_id=user_id, tag=tag, weight=max(points, 0.0), updated_at=now))
            else:
                row.weight = max(0.0, decayed(row.weight, row.updated_at, now) + points)
                row.updated_at = now


def drain(session: Session, *, batch_size: int = 5000, max_batches: int = 100) -> int:
    total = 0
    for _ in range(max_batches):
        n = aggregate(session, batch_size=batch_size)
        total += n
        if n < batch_size:
            break
    return total


def counters(session: Session, video_ids: Sequence[int]) -> dict[int, VideoStats]:
    """The aggregated counters of these videos (a video nobody watched yet has none)."""
    if not video_ids:
        return {}
    return {s.video_id: s for s in session.scalars(select(VideoStats).where(VideoStats.video_id.in_(video_ids)))}


def prune_views(session: Session, *, older_than: dt.datetime) -> int:
    """Raw view events older than the retention, once counted into the video's stats and past every window
    that reads them (dedupe, watch history). Likes, shares and purchases stay: they are facts. Commits."""
    return delete_in_batches(
        session,
        EngagementEvent,
        EngagementEvent.kind == EngagementKind.VIEW,
        EngagementEvent.aggregated_at.is_not(None),
        EngagementEvent.occurred_at < older_than,
    )

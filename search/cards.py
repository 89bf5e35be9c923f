"""Video cards: what the feed, search and hashtag pages return for each video.

Ranking and text come from the index; the card is completed from the database
(the playback manifest, whether the viewer likes it) and any video that
stopped being live since it was indexed is dropped rather than shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from media.models import Video
from search.documents import live_video_filter
from search.models import VideoLike
from search.query import Hit


@dataclass
class VideoCard:
    id: int
    title: str
    description: str
    hashtags: list[str]
    creator_id: int
    creator_name: str
    published_at: dt.datetime | None
    duration: float
    views: int
    likes: int
    shares: int
    completion_rate: float
    manifest: dict[str, Any] | None
    comments: int = 0  # from the row, not the index: exact the moment a comment lands
    liked: bool = False
    score: float | None = None
    highlight: dict[str, str] = field(default_factory=dict)


def video_cards(session: Session, hits: Sequence[Hit], *, viewer_id: int | None) -> list[VideoCard]:
    ids = [int(h.id) for h in hits]
    if not ids:
        return []
    live = select(Video.id, Video.manifest, Video.comment_count).where(Video.id.in_(ids), live_video_filter())
    rows = {video_id: (manifest, comments) for video_id, manifest, comments in session.execute(live)}
    liked: set[int] = set()
    if viewer_id is not None:
        liked = set(
            session.scalars(
                select(VideoLike.video_id).where(VideoLike.user_id == viewer_id, VideoLike.video_id.in_(ids))
            )
        )
    cards = []
    for h in hits:
        video_id = int(h.id)
        if video_id not in rows:
            continue
        manifest, comments = rows[video_id]
        s = h.source
        cards.append(
            VideoCard(
                id=video_id,
                title=s.get("title", ""),
                description=s.get("description", ""),
                hashtags=list(s.get("hashtags") or []),
                creator_id=int(s["creator_id"]),
                creator_name=s.get("creator_name", ""),
                published_at=s.get("published_at"),
                duration=float(s.get("duration") or 0.0),
                views=int(s.get("views") or 0),
                likes=int(s.get("likes") or 0),
                shares=int(s.get("shares") or 0),
                completion_rate=float(s.get("completion_rate") or 0.0),
                manifest=manifest,
                comments=comments,
                liked=video_id in liked,
                score=h.score,
                highlight=h.highlight,
            )
        )
    return cards

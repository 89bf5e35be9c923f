"""Factories build rows and flush; they never commit (the test's transaction is rolled back)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.orm import Session

from commerce.catalog.models import AffiliateOffer, Product, ProductStatus, Sku, VideoProduct
from core.accounts import passwords
from core.accounts import service as accounts
from core.accounts.models import Brand, BrandMember, BrandRole, User
from core.storage import ObjectStorage
from media.models import ReviewState, Video, VideoStatus

PASSWORD = "correct horse battery"
_seq = itertools.count(1)


def user(
    session: Session, *, email: str | None = None, artist: bool = False, admin: bool = False, **kw: object
) -> User:
    n = next(_seq)
    u = User(
        email=email or f"user{n}@example.com",
        display_name=str(kw.pop("display_name", f"用户{n}")),
        password_hash=passwords.hash_password(str(kw.pop("password", PASSWORD))),
        is_artist=artist,
        is_admin=admin,
        **kw,
    )
    session.add(u)
    session.flush()
    return u


def brand(
    session: Session, *, owner: User | None = None, members: Sequence[User] = (), name: str | None = None
) -> Brand:
    b = Brand(name=name or f"品牌{next(_seq)}")
    session.add(b)
    session.flush()
    if owner is not None:
        session.add(BrandMember(brand_id=b.id, user_id=owner.id, role=BrandRole.OWNER))
    for m in members:
        session.add(BrandMember(brand_id=b.id, user_id=m.id, role=BrandRole.MEMBER))
    session.flush()
    session.expire(b)
    if owner is not None:
        session.expire(owner)
    for m in members:
        session.expire(m)
    return b


def video(
    session: Session,
    *,
    uploader: User,
    title: str = "测试视频",
    duration: float = 30.0,
    published: bool = True,
    brand_id: int | None = None,
    **kw: object,
) -> Video:
    from core import clock

    v = Video(
        uploader_id=uploader.id,
        brand_id=brand_id,
        title=title,
        status=VideoStatus.READY,
        duration_seconds=duration,
        width=720,
        height=1280,
        published_at=clock.now() if published else None,
        **{"review_state": ReviewState.CLEARED, **kw},
    )
    session.add(v)
    session.flush()
    return v


def product(
    session: Session,
    *,
    brand: Brand,
    name: str = "测试商品",
    category: str = "beauty.skincare",
    description: str = "",
    status: str = "active",
    prices: Sequence[int] = (9900,),
    code: str | None = None,
) -> Product:
    """A product with one SKU per price (the cheapest first), price band filled in."""
    n = next(_seq)
    p = Product(
        brand_id=brand.id,
        code=code or f"P{n}",
        name=name,
        description=description,
        category=category,
        status=ProductStatus(status),
        price_min_fen=min(prices) if prices else None,
        price_max_fen=max(prices) if prices else None,
    )
    for i, price in enumerate(prices):
        p.skus.append(Sku(brand_id=brand.id, code=f"S{n}-{i}", price_fen=price, stock=10, attributes={"款式": str(i)}))
    session.add(p)
    session.flush()
    return p


def offer(session: Session, *, product: Product, artist_rate_bp: int = 2000, sharer_rate_bp: int = 0) -> AffiliateOffer:
    o = AffiliateOffer(product_id=product.id, artist_rate_bp=artist_rate_bp, sharer_rate_bp=sharer_rate_bp)
    session.add(o)
    session.flush()
    return o


def video_stats(session: Session, video: Video, **counters: float) -> object:
    """Engagement counters for a video, as the aggregator would have left them."""
    from search.models import VideoStats

    values: dict[str, float] = {
        "views": 0, "watch_ms": 0, "completion_sum": 0.0, "likes": 0, "shares": 0, "product_clicks": 0, "purchases": 0,
    }  # fmt: skip
    values.update(counters)
    stats = VideoStats(video_id=video.id, **values)
    session.add(stats)
    session.flush()
    return stats


def follow(session: Session, follower: User, creator: User) -> None:
    from search.models import Follow

    session.add(Follow(follower_id=follower.id, creator_id=creator.id))
    session.flush()


def video_link(session: Session, *, video: Video, product: Product) -> VideoProduct:
    """A product card on a video (money-path tests buy through it)."""
    link = VideoProduct(video_id=video.id, product_id=product.id)
    session.add(link)
    session.flush()
    return link


def uploaded_video(
    session: Session, storage: ObjectStorage, *, uploader: User, source: Path, checksum: str | None = None, **kw: object
) -> Video:
    """A video whose original is in storage and that waits for the pipeline (as after a completed upload)."""
    import hashlib

    from core import clock
    from media.models import Upload, UploadMode, UploadStatus

    v = Video(uploader_id=uploader.id, title=str(kw.pop("title", "上传的视频")), status=VideoStatus.UPLOADED, **kw)
    session.add(v)
    session.flush()
    key = f"originals/{v.id}/test-original"
    storage.put_file(key, source)
    v.original_key = key
    v.queued_at = clock.now()
    data = source.read_bytes()
    session.add(
        Upload(
            id=f"up{v.id}test",
            video_id=v.id,
            uploader_id=uploader.id,
            status=UploadStatus.COMPLETED,
            mode=UploadMode.CHUNKS,
            size=len(data),
            content_type="video/mp4",
            checksum_sha256=checksum or hashlib.sha256(data).hexdigest(),
            storage_key=key,
            multipart_id="done",
            part_size=len(data) or 1,
            expires_at=clock.now(),
        )
    )
    session.flush()
    return v


def bearer(session: Session, user: User) -> dict[str, str]:
    """An Authorization header for the user (a fresh API token; committing only releases a SAVEPOINT)."""
    return {"Authorization": f"Bearer {accounts.issue_token(session, user)}"}

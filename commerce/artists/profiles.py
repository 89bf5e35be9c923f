"""Artist profiles: what an artist says about themselves and what they charge.

Only the artist edits their own profile. Every change emits an `artist` outbox
event so the search index (and with it matching) follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from commerce.artists.models import ArtistMetrics, ArtistProfile, ArtistRate, LengthTier
from commerce.artists.regions import REGIONS
from commerce.catalog import categories
from commerce.catalog.tx import unit_of_work
from core.accounts.models import User
from core.accounts.permissions import require_artist
from core.errors import FieldError, NotFound, ValidationFailed, register_field_labels, register_messages
from core.outbox import emit

register_field_labels(
    {
        "bio": ("简介", "The bio"),
        "categories": ("擅长类目", "The categories"),
        "categories.*": ("第 {0} 个擅长类目", "Category {0}"),
        "tags": ("标签", "The tags"),
        "tags.*": ("第 {0} 个标签", "Tag {0}"),
        "region": ("地区", "The region"),
        "rates": ("报价", "The rates"),
        "rates.s20": ("20 秒以内视频的报价", "The rate for videos up to 20 s"),
        "rates.s60": ("21–60 秒视频的报价", "The rate for 21–60 s videos"),
        "rates.s60plus": ("60 秒以上视频的报价", "The rate for videos over 60 s"),
        "accepting_bookings": ("是否接单", "Accepting bookings"),
        "unavailable_until": ("暂停接单至", "Unavailable until"),
        "max_open_bookings": ("同时进行的合作上限", "The most open bookings"),
        "declared_followers": ("粉丝数", "The follower count"),
        "declared_avg_views": ("平均播放量", "The average views"),
        "declared_note": ("数据说明", "The note on the figures"),
    }
)
register_messages(
    {
        "rate_out_of_range": ("报价应在 1 元到 {max_yuan} 元之间", "A rate must be 1 to {max_yuan} yuan"),
        "invalid_tag": ("标签应为 1–20 个字", "A tag is 1–20 characters"),
        "declared_out_of_range": ("自报数字应在 0 到 10 亿之间", "Self-declared numbers must be 0 to 1 billion"),
    }
)

MAX_RATE_FEN = 10_000_000_00
MAX_CATEGORIES = 6
MAX_TAGS = 12
MAX_DECLARED = 1_000_000_000
MAX_SLOTS = 50


@dataclass(frozen=True)
class ArtistView:
    """An artist as a profile page shows them: account, profile (or defaults) and measured metrics."""

    user: User
    profile: ArtistProfile
    metrics: ArtistMetrics | None


def default_profile(user_id: int) -> ArtistProfile:
    return ArtistProfile(
        user_id=user_id,
        bio="",
        categories=[],
        tags=[],
        accepting_bookings=True,
        max_open_bookings=5,
        declared_note="",
        rates=[],
    )


def get_artist(session: Session, artist_id: int) -> ArtistView:
    user = session.get(User, artist_id)
    if user is None or not user.is_artist or not user.is_active:
        raise NotFound("artist")
    profile = session.get(ArtistProfile, artist_id) or default_profile(artist_id)
    return ArtistView(user, profile, session.get(ArtistMetrics, artist_id))


EDITABLE = frozenset(
    {
        "bio",
        "categories",
        "tags",
        "region",
        "rates",
        "accepting_bookings",
        "unavailable_until",
        "max_open_bookings",
        "declared_followers",
        "declared_avg_views",
        "declared_note",
    }
)


def _errors(changes: Mapping[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    cats = changes.get("categories") or []
    errors += [
        FieldError(f"categories.{i}", "unknown_category_code") for i, c in enumerate(cats) if categories.get(c) is None
    ]
    if len(cats) > MAX_CATEGORIES:
        errors.append(FieldError("categories", "too_long"))
    tags = changes.get("tags") or []
    errors += [
        FieldError(f"tags.{i}", "invalid_tag") for i, t in enumerate(tags) if not 1 <= len(t.strip().lstrip("#")) <= 20
    ]
    if len(tags) > MAX_TAGS:
        errors.append(FieldError("tags", "too_long"))
    if changes.get("region") is not None and changes["region"] not in REGIONS:
        errors.append(FieldError("region", "unknown_region"))
    for tier, price in (changes.get("rates") or {}).items():
        if price is not None and not 100 <= price <= MAX_RATE_FEN:
            errors.append(
                FieldError(
                    f"rates.{LengthTier(tier).value}", "rate_out_of_range", params={"max_yuan": MAX_RATE_FEN // 100}
                )
            )
    for name in ("declared_followers", "declared_avg_views"):
        value = changes.get(name)
        if value is not None and not 0 <= value <= MAX_DECLARED:
            errors.append(FieldError(name, "declared_out_of_range"))
    slots = changes.get("max_open_bookings")
    if slots is not None and not 1 <= slots <= MAX_SLOTS:
        errors.append(FieldError("max_open_bookings", "less_than_equal" if slots > 1 else "greater_than_equal"))
    return errors


def _set_rates(profile: ArtistProfile, rates: Mapping[LengthTier, int | None]) -> None:
    current = {r.tier: r for r in profile.rates}
    for key, price in rates.items():
        tier = LengthTier(key)
        if price is None:
            if tier in current:
                profile.rates.remove(current[tier])
        elif tier in current:
            current[tier].price_fen = price
        else:
            profile.rates.append(ArtistRate(tier=tier, price_fen=price))


_NOT_NULLABLE = frozenset({"accepting_bookings", "max_open_bookings", "bio", "declared_note", "categories", "tags"})


def update_profile(session: Session, actor: User | None, changes: Mapping[str, Any]) -> ArtistProfile:
    """Change fields of the caller's own profile (only those given; None clears an optional one).

    `rates` maps a length tier to its price in fen, or to None to drop that tier.
    """
    artist = require_artist(actor)
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    errors = _errors(changes)
    if errors:
        raise ValidationFailed(fields=errors)
    with unit_of_work(session):
        profile = session.get(ArtistProfile, artist.id)
        if profile is None:
            profile = default_profile(artist.id)
            session.add(profile)
        for name, value in changes.items():
            if value is None and name in _NOT_NULLABLE:
                continue  # not optional: null means "leave as is"
            if name == "rates":
                _set_rates(profile, value)
            elif name == "categories":
                profile.categories = list(dict.fromkeys(value))
            elif name == "tags":
                profile.tags = list(dict.fromkeys(t.strip().lstrip("#") for t in value))
            else:
                setattr(profile, name, value)
        session.flush()
        emit(session, "artist", artist.id)
    return profile

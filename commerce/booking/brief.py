"""The draft held against the brief: its length, the must-have hashtags, the campaign's product cards.

Checked when the artist submits a draft and again when the brand approves it (the draft's title, caption,
hashtags and cards may change in between); both sides see the same checklist. A draft that fails any item
cannot be approved: the artist fixes it and submits again (a revision round), or the brand asks for changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.artists.models import LengthTier
from commerce.booking.models import Campaign
from commerce.catalog.models import Product, VideoProduct
from commerce.catalog.suggestions import normalise_hashtag
from core.errors import Conflict, register_messages, translate
from media.models import Video

register_messages(
    {
        "brief_duration_ok": ("时长 {seconds} 秒，符合 {range}", "{seconds} s long, within {range}"),
        "brief_duration_short": ("时长 {seconds} 秒，短于要求的 {range}", "{seconds} s long: shorter than {range}"),
        "brief_duration_long": ("时长 {seconds} 秒，超过要求的 {range}", "{seconds} s long: longer than {range}"),
        "brief_duration_unknown": ("视频时长未知（还在处理中）", "The video's length is not known yet"),
        "brief_hashtags_ok": ("已带必带话题 {tags}", "Carries the must-have hashtags {tags}"),
        "brief_hashtags_missing": ("缺少必带话题 {tags}", "Missing the must-have hashtags {tags}"),
        "brief_products_ok": ("已挂推广商品 {products}", "Links the promoted products {products}"),
        "brief_products_missing": ("未挂推广商品 {products}", "Does not link the promoted products {products}"),
        "brief_range_between": ("{min}–{max} 秒", "{min}–{max} s"),
        "brief_range_at_least": ("至少 {min} 秒", "at least {min} s"),
        "brief_range_at_most": ("最多 {max} 秒", "at most {max} s"),
        "draft_fails_brief": (
            "草稿不符合需求，不能通过：{problems}",
            "The draft does not meet the brief and cannot be approved: {problems}",
        ),
    }
)

# The length tier's own bound when the brief sets none: Xingtu quotes 1–20 s, 21–60 s and longer videos.
TIER_MAX_S = {LengthTier.UP_TO_20S: 20, LengthTier.UP_TO_60S: 60, LengthTier.OVER_60S: None}
_TAG = re.compile(r"[#＃]([^\s#＃,，。.!！?？、]+)")


@dataclass(frozen=True)
class Item:
    """One line of the checklist: what was checked, whether it passed, and the message saying so."""

    key: str  # duration, hashtags, products
    ok: bool
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def text(self, locale: str) -> str:
        params = dict(self.params)
        if "min" in params or "max" in params:
            params["range"] = _range_text(params.get("min"), params.get("max"), locale)
        return translate(self.code, locale, params)


@dataclass(frozen=True)
class Check:
    items: list[Item]

    @property
    def ok(self) -> bool:
        return all(i.ok for i in self.items)

    @property
    def failed(self) -> list[Item]:
        return [i for i in self.items if not i.ok]


class DraftFailsBrief(Conflict):
    """The brand tried to approve a draft that fails the brief; the message lists every failed item."""

    def __init__(self, result: Check) -> None:
        self.result = result
        super().__init__("draft_fails_brief", problems=self._problems("en"))

    def _problems(self, locale: str) -> str:
        return ("；" if not locale.startswith("en") else "; ").join(i.text(locale) for i in self.result.failed)

    def message(self, locale: str) -> str:
        return translate(self.code, locale, {"problems": self._problems(locale)})


def duration_range(campaign: Campaign) -> tuple[int | None, int | None]:
    """The draft's length the brief accepts, in seconds (None: unbounded on that side)."""
    upper = campaign.max_duration_s if campaign.max_duration_s is not None else TIER_MAX_S.get(campaign.length_tier)
    return campaign.min_duration_s, upper


def _range_text(low: int | None, high: int | None, locale: str) -> str:
    if low is not None and high is not None:
        return translate("brief_range_between", locale, {"min": low, "max": high})
    if low is not None:
        return translate("brief_range_at_least", locale, {"min": low})
    return translate("brief_range_at_most", locale, {"max": high})


def range_text(campaign: Campaign, locale: str) -> str:
    """The brief's duration range as people read it ("" when it has none)."""
    low, high = duration_range(campaign)
    return "" if low is None and high is None else _range_text(low, high, locale)


def caption_hashtags(video: Video) -> set[str]:
    """The hashtags a draft carries: its hashtag list and every #tag written in its title or caption."""
    written = _TAG.findall(f"{video.title}\n{video.description}")
    return {normalise_hashtag(t) for t in [*(video.hashtags or []), *written]} - {""}


def check(session: Session, campaign: Campaign, video: Video | None) -> Check:
    """Hold the draft against the campaign's brief: one item per requirement the brief has."""
    items = [_duration(campaign, video), _hashtags(campaign, video), _products(session, campaign, video)]
    return Check([i for i in items if i is not None])


def _duration(campaign: Campaign, video: Video | None) -> Item | None:
    low, high = duration_range(campaign)
    if low is None and high is None:
        return None
    seconds = video.duration_seconds if video is not None else None
    if seconds is None:
        return Item("duration", False, "brief_duration_unknown")
    bounds = {k: v for k, v in (("min", low), ("max", high)) if v is not None}
    params = {"seconds": f"{seconds:.1f}".removesuffix(".0"), **bounds}
    if low is not None and seconds < low:
        return Item("duration", False, "brief_duration_short", params)
    if high is not None and seconds >= high + 1:  # a 60.4 s encode of a 60 s edit is 60 s
        return Item("duration", False, "brief_duration_long", params)
    return Item("duration", True, "brief_duration_ok", params)


def _hashtags(campaign: Campaign, video: Video | None) -> Item | None:
    if not campaign.must_hashtags:
        return None
    have = caption_hashtags(video) if video is not None else set()
    missing = [t for t in campaign.must_hashtags if normalise_hashtag(t) not in have]
    if missing:
        return Item("hashtags", False, "brief_hashtags_missing", {"tags": _tags(missing)})
    return Item("hashtags", True, "brief_hashtags_ok", {"tags": _tags(campaign.must_hashtags)})


def _products(session: Session, campaign: Campaign, video: Video | None) -> Item | None:
    wanted = campaign.product_ids
    if not (campaign.must_link_products and wanted):
        return None
    linked: set[int] = set()
    if video is not None:
        linked = set(session.scalars(select(VideoProduct.product_id).where(VideoProduct.video_id == video.id)))
    names = dict(session.execute(select(Product.id, Product.name).where(Product.id.in_(wanted))).all())
    missing = [pid for pid in wanted if pid not in linked]
    if missing:
        return Item("products", False, "brief_products_missing", {"products": _names(missing, names)})
    return Item("products", True, "brief_products_ok", {"products": _names(wanted, names)})


def _tags(tags: list[str]) -> str:
    return " ".join(f"#{t}" for t in tags)


def _names(ids: list[int], names: dict[int, str]) -> str:
    return "、".join(f"「{names.get(pid, '?')}」" for pid in ids)

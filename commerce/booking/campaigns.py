"""Campaign briefs: what a brand wants made (products, category, audience, budget, deliverables, must-haves).

Only members of the brand write or see a draft; open campaigns are listed for
artists, who may apply to them. Editing never changes a booking already under
way: bookings copy the deadline, revision rounds and fee when they start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.artists.models import AgeBand, LengthTier
from commerce.artists.regions import REGIONS
from commerce.booking.models import Campaign, CampaignProduct, CampaignStatus
from commerce.booking.policy import MAX_REVISIONS_CEILING, BookingPolicy
from commerce.catalog import categories
from commerce.catalog.models import Product, ProductStatus
from commerce.catalog.suggestions import MAX_HASHTAG_LENGTH, normalise_hashtag
from commerce.catalog.tx import unit_of_work
from core import clock
from core.accounts.models import User
from core.accounts.permissions import require_brand_member
from core.errors import FieldError, NotFound, ValidationFailed, register_field_labels, register_messages
from core.pagination import keyset_page

register_field_labels(
    {
        "brief": ("需求说明", "The brief"),
        "product_ids": ("推广商品", "The products to promote"),
        "product_ids.*": ("第 {0} 个推广商品", "Product {0} to promote"),
        "audience_interests": ("受众兴趣", "The audience interests"),
        "audience_interests.*": ("第 {0} 个受众兴趣", "Audience interest {0}"),
        "audience_regions": ("受众地区", "The audience regions"),
        "audience_regions.*": ("第 {0} 个受众地区", "Audience region {0}"),
        "audience_ages": ("受众年龄", "The audience ages"),
        "audience_ages.*": ("第 {0} 个受众年龄段", "Audience age band {0}"),
        "budget_min_fen": ("最低预算", "The minimum budget"),
        "budget_max_fen": ("最高预算", "The maximum budget"),
        "videos_count": ("视频数量", "The number of videos"),
        "length_tier": ("视频时长", "The video length"),
        "deadline": ("截止时间", "The deadline"),
        "must_hashtags": ("必带话题", "The required hashtags"),
        "must_hashtags.*": ("第 {0} 个必带话题", "Required hashtag {0}"),
        "must_link_products": ("必须挂商品", "Must link products"),
        "max_revisions": ("最多修改次数", "The most revisions"),
        "artist_id": ("艺人", "The artist"),
        "fee_fen": ("报价", "The fee"),
        "message": ("留言", "The message"),
    }
)
register_messages(
    {
        "budget_inverted": ("预算上限不能低于下限", "The budget's maximum cannot be below its minimum"),
        "budget_out_of_range": ("预算应在 1 元到 {max_yuan} 元之间", "The budget must be 1 to {max_yuan} yuan"),
        "deadline_in_past": ("截止时间必须晚于现在", "The deadline must be in the future"),
        "duration_out_of_range": ("时长应在 1 到 {max} 秒之间", "The length must be 1 to {max} s"),
        "duration_inverted": ("最长时长不能短于最短时长", "The longest length cannot be below the shortest"),
        "campaign_product_not_yours": (
            "只能推广本品牌在售的商品",
            "Only this brand's products on sale can be promoted",
        ),
    }
)

MAX_BUDGET_FEN = 10_000_000_00  # ten million yuan for one booking is a typo, not a brief
MAX_VIDEOS = 20
MAX_PRODUCTS = 6  # a video shows at most this many product cards
MAX_HASHTAGS = 10
MAX_TARGETS = 40
MAX_DURATION_S = 3600


@dataclass
class CampaignSpec:
    """Every field of a brief. `update` takes a subset as keyword changes."""

    title: str
    category: str
    budget_min_fen: int
    budget_max_fen: int
    deadline: dt.datetime
    brief: str = ""
    product_ids: list[int] = field(default_factory=list)
    audience_interests: list[str] = field(default_factory=list)
    audience_regions: list[str] = field(default_factory=list)
    audience_ages: list[str] = field(default_factory=list)
    videos_count: int = 1
    length_tier: LengthTier = LengthTier.UP_TO_60S
    min_duration_s: int | None = None  # the draft's length in seconds; None: no lower bound
    max_duration_s: int | None = None  # None: the length tier's upper bound, if any
    must_hashtags: list[str] = field(default_factory=list)
    must_link_products: bool = True
    max_revisions: int | None = None  # None: the platform default
    status: CampaignStatus = CampaignStatus.DRAFT


SPEC_FIELDS = frozenset(f.name for f in fields(CampaignSpec))


def clean_hashtag(tag: str) -> str | None:
    """The hashtag as videos carry it (the catalog's normal form), or None when it is not one."""
    tag = normalise_hashtag(tag)
    if not 1 <= len(tag) <= MAX_HASHTAG_LENGTH or any(ch.isspace() or ch in "#＃" for ch in tag):
        return None
    return tag


def _list_errors(name: str, values: Sequence[str], valid: set[str] | frozenset[str], code: str) -> list[FieldError]:
    errors = [FieldError(f"{name}.{i}", code) for i, v in enumerate(values) if v not in valid]
    if len(values) > MAX_TARGETS:
        errors.append(FieldError(name, "too_long"))
    return errors


def _duration_errors(spec: CampaignSpec) -> list[FieldError]:
    errors = [
        FieldError(name, "duration_out_of_range", params={"max": MAX_DURATION_S})
        for name in ("min_duration_s", "max_duration_s")
        if getattr(spec, name) is not None and not 1 <= getattr(spec, name) <= MAX_DURATION_S
    ]
    low, high = spec.min_duration_s, spec.max_duration_s
    if not errors and low is not None and high is not None and high < low:
        errors.append(FieldError("max_duration_s", "duration_inverted"))
    return errors


def _validate(session: Session, brand_id: int, spec: CampaignSpec, *, new_deadline: bool) -> None:
    errors: list[FieldError] = []
    if not spec.title.strip():
        errors.append(FieldError("title", "missing"))
    if categories.get(spec.category) is None:
        errors.append(FieldError("category", "unknown_category_code"))
    all_codes = {c for root in categories.ROOTS for c in (root.code, *(ch.code for ch in root.children))}
    errors += _list_errors("audience_interests", spec.audience_interests, all_codes, "unknown_category_code")
    errors += _list_errors("audience_regions", spec.audience_regions, set(REGIONS), "unknown_region")
    errors += _list_errors("audience_ages", spec.audience_ages, {a.value for a in AgeBand}, "unknown_age_band")
    for name in ("budget_min_fen", "budget_max_fen"):
        if not 100 <= getattr(spec, name) <= MAX_BUDGET_FEN:
            errors.append(FieldError(name, "budget_out_of_range", params={"max_yuan": MAX_BUDGET_FEN // 100}))
    if spec.budget_max_fen < spec.budget_min_fen:
        errors.append(FieldError("budget_max_fen", "budget_inverted"))
    if not 1 <= spec.videos_count <= MAX_VIDEOS:
        errors.append(FieldError("videos_count", "less_than_equal" if spec.videos_count > 1 else "greater_than_equal"))
    errors += _duration_errors(spec)
    if new_deadline and spec.deadline <= clock.now():
        errors.append(FieldError("deadline", "deadline_in_past"))
    if spec.max_revisions is not None and not 0 <= spec.max_revisions <= MAX_REVISIONS_CEILING:
        errors.append(
            FieldError("max_revisions", "less_than_equal" if spec.max_revisions > 0 else "greater_than_equal")
        )
    if len(spec.must_hashtags) > MAX_HASHTAGS:
        errors.append(FieldError("must_hashtags", "too_long"))
    errors += [FieldError(f"must_hashtags.{i}", "invalid_hashtag") for i, t in enumerate(spec.must_hashtags)
               if clean_hashtag(t) is None]  # fmt: skip
    if len(spec.product_ids) > MAX_PRODUCTS:
        errors.append(FieldError("product_ids", "too_long"))
    ids = list(dict.fromkeys(spec.product_ids))
    if ids:
        ours = set(
            session.scalars(
                select(Product.id).where(
                    Product.id.in_(ids), Product.brand_id == brand_id, Product.status == ProductStatus.ACTIVE
                )
            )
        )
        errors += [FieldError(f"product_ids.{i}", "campaign_product_not_yours") for i, pid in
                   enumerate(spec.product_ids) if pid not in ours]  # fmt: skip
    if errors:
        raise ValidationFailed(fields=errors)


def _apply(campaign: Campaign, spec: CampaignSpec, policy: BookingPolicy) -> None:
    campaign.title = spec.title.strip()
    campaign.brief = spec.brief
    campaign.category = spec.category
    campaign.audience_interests = list(dict.fromkeys(spec.audience_interests))
    campaign.audience_regions = list(dict.fromkeys(spec.audience_regions))
    campaign.audience_ages = list(dict.fromkeys(spec.audience_ages))
    campaign.budget_min_fen = spec.budget_min_fen
    campaign.budget_max_fen = spec.budget_max_fen
    campaign.videos_count = spec.videos_count
    campaign.length_tier = LengthTier(spec.length_tier)
    campaign.min_duration_s = spec.min_duration_s
    campaign.max_duration_s = spec.max_duration_s
    campaign.deadline = spec.deadline
    campaign.must_hashtags = list(dict.fromkeys(t for t in map(clean_hashtag, spec.must_hashtags) if t))
    campaign.must_link_products = spec.must_link_products
    campaign.max_revisions = policy.max_revisions if spec.max_revisions is None else spec.max_revisions
    campaign.status = CampaignStatus(spec.status)
    wanted = list(dict.fromkeys(spec.product_ids))
    kept = {p.product_id: p for p in campaign.products if p.product_id in wanted}
    campaign.products = [kept.get(pid) or CampaignProduct(product_id=pid) for pid in wanted]
    for position, item in enumerate(campaign.products):
        item.position = position


def _spec_of(campaign: Campaign) -> CampaignSpec:
    return CampaignSpec(
        title=campaign.title,
        brief=campaign.brief,
        category=campaign.category,
        product_ids=campaign.product_ids,
        audience_interests=list(campaign.audience_interests),
        audience_regions=list(campaign.audience_regions),
        audience_ages=list(campaign.audience_ages),
        budget_min_fen=campaign.budget_min_fen,
        budget_max_fen=campaign.budget_max_fen,
        videos_count=campaign.videos_count,
        length_tier=campaign.length_tier,
        min_duration_s=campaign.min_duration_s,
        max_duration_s=campaign.max_duration_s,
        deadline=campaign.deadline,
        must_hashtags=list(campaign.must_hashtags),
        must_link_products=campaign.must_link_products,
        max_revisions=campaign.max_revisions,
        status=campaign.status,
    )


def create(
    session: Session, actor: User | None, brand_id: int, spec: CampaignSpec, *, policy: BookingPolicy
) -> Campaign:
    require_brand_member(session, actor, brand_id)
    _validate(session, brand_id, spec, new_deadline=True)
    with unit_of_work(session):
        campaign = Campaign(brand_id=brand_id, created_by=actor.id if actor else None)
        _apply(campaign, spec, policy)
        session.add(campaign)
    return campaign


def update(
    session: Session, actor: User | None, campaign_id: int, *, policy: BookingPolicy, **changes: object
) -> Campaign:
    """Change some fields of a brief (the names of `CampaignSpec`)."""
    unknown = set(changes) - SPEC_FIELDS
    if unknown:
        raise ValueError(f"unknown campaign fields {sorted(unknown)}")
    campaign = for_member(session, actor, campaign_id)
    spec = _spec_of(campaign)
    for name, value in changes.items():
        setattr(spec, name, value)
    _validate(session, campaign.brand_id, spec, new_deadline="deadline" in changes)
    with unit_of_work(session):
        _apply(campaign, spec, policy)
    return campaign


def get(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound("campaign")
    return campaign


def is_member(session: Session, user: User | None, campaign: Campaign) -> bool:
    return user is not None and (user.is_admin or campaign.brand_id in user.brand_ids())


def for_member(session: Session, actor: User | None, campaign_id: int) -> Campaign:
    campaign = get(session, campaign_id)
    require_brand_member(session, actor, campaign.brand_id)
    return campaign


def visible(session: Session, user: User | None, campaign_id: int) -> Campaign:
    """Open and closed campaigns are public; drafts only to their brand."""
    campaign = get(session, campaign_id)
    if campaign.status == CampaignStatus.DRAFT and not is_member(session, user, campaign):
        raise NotFound("campaign")
    return campaign


def list_for_brand(
    session: Session,
    actor: User | None,
    brand_id: int,
    *,
    status: CampaignStatus | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[Campaign], str | None]:
    require_brand_member(session, actor, brand_id)
    stmt = select(Campaign).where(Campaign.brand_id == brand_id)
    if status is not None:
        stmt = stmt.where(Campaign.status == status)
    return keyset_page(session, stmt, [(Campaign.id, True)], lambda c: [c.id], cursor=cursor, limit=limit)


def list_open(
    session: Session, *, category: str | None = None, cursor: str | None = None, limit: int = 20
) -> tuple[list[Campaign], str | None]:
    """Campaigns artists may apply to, newest first; `category` also matches briefs in its parent or children."""
    stmt = select(Campaign).where(Campaign.status == CampaignStatus.OPEN, Campaign.deadline > clock.now())
    if category:
        c = categories.get(category)
        if c is None:
            raise ValidationFailed.one("query.category", "unknown_category_code")
        related = [c.code, *(ch.code for ch in c.children), *([c.parent.code] if c.parent else [])]
        stmt = stmt.where(Campaign.category.in_(related))
    return keyset_page(session, stmt, [(Campaign.id, True)], lambda c: [c.id], cursor=cursor, limit=limit)

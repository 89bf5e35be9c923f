"""Campaign briefs: who writes and sees them, what a brief must hold, open campaigns for artists."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from commerce.booking import campaigns
from commerce.booking.models import Campaign, CampaignStatus
from core import clock
from core.clock import FrozenClock
from core.errors import NotFound, PermissionDenied, ValidationFailed
from tests import factories
from tests.commerce.booking.conftest import POLICY, Market, spec


def codes(exc: pytest.ExceptionInfo[ValidationFailed]) -> dict[str, str]:
    return {f.field: f.code for f in exc.value.fields}


def test_brand_member_creates_a_full_brief(db_session: Session, market: Market) -> None:
    c = campaigns.create(
        db_session,
        market.member,
        market.brand.id,
        spec(market, audience_interests=["beauty"], audience_regions=["CN-GD"], audience_ages=["18-23", "24-30"],
             videos_count=2, length_tier="s20", max_revisions=1),
        policy=POLICY,
    )  # fmt: skip
    db_session.expire_all()
    c = db_session.get(Campaign, c.id)
    assert c is not None
    assert c.product_ids == [p.id for p in market.products]
    assert c.must_hashtags == ["花西子", "秋冬底妆"]  # the '#' is not part of a hashtag
    assert (c.videos_count, c.length_tier, c.max_revisions) == (2, "s20", 1)
    assert c.audience_ages == ["18-23", "24-30"]
    assert c.status == CampaignStatus.OPEN


def test_max_revisions_defaults_to_the_platform_rule(db_session: Session, market: Market) -> None:
    c = campaigns.create(db_session, market.owner, market.brand.id, spec(market), policy=POLICY)
    assert c.max_revisions == POLICY.max_revisions


def test_only_members_of_the_brand_write_briefs(db_session: Session, market: Market) -> None:
    for user in (market.outsider, market.artist, market.viewer):
        with pytest.raises(PermissionDenied):
            campaigns.create(db_session, user, market.brand.id, spec(market), policy=POLICY)


def test_every_bad_field_is_reported_at_once(db_session: Session, market: Market) -> None:
    foreign = factories.product(db_session, brand=market.other_brand)
    db_session.commit()
    bad = spec(
        market,
        title=" ",
        category="beauty.nothing",
        audience_interests=["beauty", "nope"],
        audience_regions=["CN-XX"],
        audience_ages=["12-15"],
        budget_min_fen=500_000,
        budget_max_fen=100_000,
        videos_count=0,
        deadline=clock.now() - dt.timedelta(hours=1),
        must_hashtags=["有 空格"],
        product_ids=[market.products[0].id, foreign.id],
        max_revisions=9,
    )
    with pytest.raises(ValidationFailed) as exc:
        campaigns.create(db_session, market.owner, market.brand.id, bad, policy=POLICY)
    assert codes(exc) == {
        "title": "missing",
        "category": "unknown_category_code",
        "audience_interests.1": "unknown_category_code",
        "audience_regions.0": "unknown_region",
        "audience_ages.0": "unknown_age_band",
        "budget_max_fen": "budget_inverted",
        "videos_count": "greater_than_equal",
        "deadline": "deadline_in_past",
        "must_hashtags.0": "invalid_hashtag",
        "product_ids.1": "campaign_product_not_yours",
        "max_revisions": "less_than_equal",
    }
    assert db_session.query(Campaign).count() == 0


def test_archived_products_cannot_be_promoted(db_session: Session, market: Market) -> None:
    archived = factories.product(db_session, brand=market.brand, status="archived")
    db_session.commit()
    with pytest.raises(ValidationFailed) as exc:
        campaigns.create(
            db_session, market.owner, market.brand.id, spec(market, product_ids=[archived.id]), policy=POLICY
        )
    assert codes(exc) == {"product_ids.0": "campaign_product_not_yours"}


def test_update_changes_only_what_is_given_and_keeps_a_past_deadline(
    db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock
) -> None:
    frozen.advance(days=30)  # the deadline is now in the past
    c = campaigns.update(db_session, market.owner, campaign.id, policy=POLICY, title="新标题",
                         product_ids=[market.products[1].id])  # fmt: skip
    assert (c.title, c.product_ids, c.budget_max_fen) == ("新标题", [market.products[1].id], 500_000)
    with pytest.raises(ValidationFailed):
        campaigns.update(db_session, market.owner, campaign.id, policy=POLICY, deadline=clock.now())
    with pytest.raises(PermissionDenied):
        campaigns.update(db_session, market.outsider, campaign.id, policy=POLICY, title="x")


def test_drafts_are_private_and_open_campaigns_are_listed(db_session: Session, market: Market) -> None:
    draft = campaigns.create(db_session, market.owner, market.brand.id, spec(market, status="draft"), policy=POLICY)
    opened = campaigns.create(db_session, market.owner, market.brand.id, spec(market, category="beauty"), policy=POLICY)
    with pytest.raises(NotFound):
        campaigns.visible(db_session, market.artist, draft.id)
    assert campaigns.visible(db_session, market.member, draft.id).id == draft.id
    assert campaigns.visible(db_session, None, opened.id).id == opened.id
    listed, _ = campaigns.list_open(db_session, category="beauty.makeup")
    assert [c.id for c in listed] == [opened.id]  # a brief for all of beauty interests a makeup artist
    listed, _ = campaigns.list_open(db_session, category="food")
    assert listed == []
    mine, _ = campaigns.list_for_brand(db_session, market.member, market.brand.id)
    assert {c.id for c in mine} == {draft.id, opened.id}

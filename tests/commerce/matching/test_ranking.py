"""Ranking from precomputed metrics: on generated artists with known traits, the right artist comes first,
inflated self-declared numbers earn nothing, filters narrow the list and every breakdown adds up."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from commerce.artists import profiles
from commerce.artists.models import ArtistMetrics, LengthTier
from commerce.booking import campaigns
from commerce.booking.campaigns import CampaignSpec
from commerce.booking.models import Campaign
from commerce.booking.policy import BookingPolicy
from commerce.matching import scoring
from commerce.matching import service as matching
from commerce.matching.service import MatchFilters
from core import clock
from core.accounts.models import User
from core.errors import ValidationFailed
from tests import factories

POLICY = BookingPolicy()
CATEGORIES = ["beauty.makeup", "beauty.skincare", "food.snacks", "digital.audio", "apparel.women", "home.kitchen"]


@dataclass
class Trait:
    category: str
    rate_fen: int
    gmv_90d_fen: int
    orders: int
    clicks: int
    young_share_bp: int  # audience aged 18–30
    declared_followers: int | None = None
    followers: int = 20_000


def make_artist(session: Session, name: str, t: Trait) -> User:
    user = factories.user(session, artist=True, display_name=name)
    session.commit()
    profiles.update_profile(
        session, user,
        {"categories": [t.category], "rates": {LengthTier.UP_TO_60S: t.rate_fen},
         "declared_followers": t.declared_followers},
    )  # fmt: skip
    old = 10_000 - t.young_share_bp
    session.add(
        ArtistMetrics(
            artist_id=user.id, followers=t.followers, videos=20, avg_views=5_000, completion_rate_bp=4_000,
            product_clicks_90d=t.clicks, orders_90d=t.orders, gmv_90d_fen=t.gmv_90d_fen,
            conversion_90d_bp=t.orders * 10_000 // t.clicks if t.clicks else None,
            categories={t.category: 10_000},
            audience={"ages": {"18-23": t.young_share_bp // 2, "24-30": t.young_share_bp - t.young_share_bp // 2,
                               "31-40": old}, "sample": {"ages": 400}},
        )
    )  # fmt: skip
    session.commit()
    return user


@pytest.fixture
def brief(db_session: Session) -> Campaign:
    owner = factories.user(db_session)
    brand = factories.brand(db_session, owner=owner)
    db_session.commit()
    spec = CampaignSpec(
        title="粉底液种草", category="beauty.makeup", budget_min_fen=200_000, budget_max_fen=600_000,
        deadline=clock.now() + dt.timedelta(days=20), audience_ages=["18-23", "24-30"], status="open",
    )  # fmt: skip
    return campaigns.create(db_session, owner, brand.id, spec, policy=POLICY)


def test_the_artist_who_fits_and_sells_ranks_first_and_inflated_followers_earn_nothing(
    db_session: Session, brief: Campaign
) -> None:
    rng = random.Random(8)
    fit = make_artist(db_session, "对口带货王", Trait("beauty.makeup", 400_000, 9_000_000, 600, 12_000, 8_000))
    inflated = make_artist(
        db_session, "自报千万粉",
        Trait("beauty.makeup", 400_000, 0, 0, 3_000, 8_000, declared_followers=10_000_000, followers=20_000),
    )  # fmt: skip
    wrong_category = make_artist(
        db_session, "零食大卖家", Trait("food.snacks", 400_000, 50_000_000, 4_000, 50_000, 8_000)
    )
    too_dear = make_artist(db_session, "天价美妆", Trait("beauty.makeup", 2_000_000, 9_000_000, 600, 12_000, 8_000))
    wrong_audience = make_artist(db_session, "熟龄美妆", Trait("beauty.makeup", 400_000, 9_000_000, 600, 12_000, 1_000))
    for i in range(60):  # the crowd: random traits, never all of fit's strengths at once
        make_artist(
            db_session, f"艺人{i}",
            Trait(rng.choice(CATEGORIES), rng.randrange(50_000, 1_500_000, 1000), rng.randrange(0, 3_000_000, 100),
                  rng.randrange(0, 200), rng.randrange(100, 20_000), rng.randrange(0, 10_000),
                  declared_followers=rng.choice([None, rng.randrange(1_000, 50_000_000)])),
        )  # fmt: skip
    page = matching.rank(db_session, brief_owner(db_session, brief), brief.id, limit=100)
    order = [m.artist.candidate.artist_id for m in page.items]
    assert page.total == 65
    assert order[0] == fit.id
    assert order.index(fit.id) < order.index(inflated.id)
    for other in (wrong_category, too_dear, wrong_audience):
        assert order.index(fit.id) < order.index(other.id)
    by_id = {m.artist.candidate.artist_id: m for m in page.items}
    fit_parts = {p.key: p for p in by_id[fit.id].score.parts}
    inflated_parts = {p.key: p for p in by_id[inflated.id].score.parts}
    # Everything about the two is the same but measured sales: that is the whole gap.
    assert {k: p.points for k, p in fit_parts.items() if k != "sales"} == {
        k: p.points for k, p in inflated_parts.items() if k != "sales"
    }
    assert inflated_parts["sales"].points == 0
    assert by_id[fit.id].score.total - by_id[inflated.id].score.total == fit_parts["sales"].points
    for m in page.items:
        assert m.score.total == sum(p.points for p in m.score.parts)
        assert 0 <= m.score.total <= 1000
        assert all(0 <= p.points <= p.max_points for p in m.score.parts)
    assert [m.score.total for m in page.items] == sorted((m.score.total for m in page.items), reverse=True)
    # The numbers the ranking sorts by are exactly the explained scores' sums.
    ranked = matching.rank_rows(matching.load_artists(db_session, tier=brief.length_tier), matching.brief_of(brief),
                                matching.reference(db_session))  # fmt: skip
    everyone = ranked.scores(0, len(ranked.order))
    assert [(t, sp) for _, t, sp in ranked.order] == [(s.total, s.parts[3].points) for _, s in everyone]


def brief_owner(session: Session, campaign: Campaign) -> User:
    member = campaign.brand.members[0]
    user = session.get(User, member.user_id)
    assert user is not None
    return user


def test_self_declared_followers_change_nothing(db_session: Session, brief: Campaign) -> None:
    a = make_artist(db_session, "甲", Trait("beauty.makeup", 300_000, 1_000_000, 50, 2_000, 6_000))
    before = matching.rank(db_session, brief_owner(db_session, brief), brief.id).items[0].score
    profiles.update_profile(db_session, a, {"declared_followers": 99_000_000, "declared_avg_views": 5_000_000})
    after = matching.rank(db_session, brief_owner(db_session, brief), brief.id).items[0].score
    assert before == after


def test_filters_narrow_the_ranking(db_session: Session, brief: Campaign) -> None:
    small = make_artist(db_session, "小号", Trait("beauty.makeup", 80_000, 0, 0, 0, 5_000, followers=3_000))
    big = make_artist(db_session, "大号", Trait("beauty.skincare", 900_000, 5_000_000, 300, 9_000, 5_000,
                                               followers=2_000_000))  # fmt: skip
    food = make_artist(db_session, "吃货", Trait("food.snacks", 300_000, 100_000, 10, 900, 5_000, followers=50_000))
    owner = brief_owner(db_session, brief)

    def ids(**kw: object) -> set[int]:
        return {
            m.artist.candidate.artist_id for m in matching.rank(db_session, owner, brief.id, MatchFilters(**kw)).items
        }  # type: ignore[arg-type]

    assert ids() == {small.id, big.id, food.id}
    assert ids(category="beauty") == {small.id, big.id}
    assert ids(category="beauty.skincare") == {big.id}
    assert ids(follower_band="lt10k") == {small.id}
    assert ids(follower_band="1m+") == {big.id}
    assert ids(price_band="lt1k") == {small.id}  # ¥800 for the brief
    assert ids(min_gmv_90d_fen=1_000_000) == {big.id}
    assert ids(q="吃") == {food.id}
    profiles.update_profile(db_session, food, {"accepting_bookings": False})
    assert food.id not in ids()
    assert food.id in ids(available_only=False)


@pytest.mark.parametrize(
    ("name", "value", "code"),
    [("min_gmv_90d_fen", 10**20, "less_than_equal"), ("min_gmv_90d_fen", -1, "greater_than_equal"),
     ("min_conversion_bp", 10**20, "less_than_equal"), ("min_completion_bp", -(10**20), "greater_than_equal"),
     ("min_rating", float("nan"), "greater_than_equal"), ("min_rating", 6.0, "less_than_equal")],
)  # fmt: skip
def test_filters_out_of_bounds_are_refused_before_the_query(
    db_session: Session, brief: Campaign, name: str, value: float, code: str
) -> None:
    # found probing the match page as its brand: /match?campaign=…&min_conversion_bp=10**20 (or min_gmv_yuan) built
    # filters from the raw query string, and PostgreSQL refused a number past a BIGINT (500)
    with pytest.raises(ValidationFailed) as err:
        matching.rank(db_session, brief_owner(db_session, brief), brief.id, MatchFilters(**{name: value}))
    assert [(f.field, f.code) for f in err.value.fields] == [(f"query.{name}", code)]


def test_similar_artists_share_categories_and_price(db_session: Session) -> None:
    me = make_artist(db_session, "原型", Trait("beauty.makeup", 300_000, 100_000, 5, 100, 7_000))
    twin = make_artist(db_session, "双胞胎", Trait("beauty.makeup", 320_000, 120_000, 5, 100, 7_000))
    cousin = make_artist(db_session, "表亲", Trait("beauty.skincare", 1_500_000, 0, 0, 0, 2_000, followers=900_000))
    stranger = make_artist(db_session, "路人", Trait("digital.audio", 50_000, 0, 0, 0, 0, followers=100))
    found = matching.similar(db_session, me.id, limit=10)
    order = [s.artist.candidate.artist_id for s in found]
    assert order[0] == twin.id
    by_id = {s.artist.candidate.artist_id: s for s in found}
    assert by_id[twin.id].parts["category"] == matching.SIMILAR_MAX["category"]
    assert by_id[cousin.id].total > by_id.get(stranger.id, matching.Similar(by_id[twin.id].artist, {})).total
    assert all(s.total == sum(s.parts.values()) for s in found)
    assert me.id not in order


def test_scoring_parts_explain_their_inputs() -> None:
    brief = scoring.Brief(category="beauty.makeup", budget_min_fen=100, budget_max_fen=100_000, videos_count=2)
    over = scoring.price(scoring.Candidate(artist_id=1, rate_fen=60_000), brief)
    assert over.facts == {"fee_fen": 120_000, "budget_min_fen": 100, "budget_max_fen": 100_000, "within": False}
    assert 0 < over.points < over.max_points
    assert scoring.price(scoring.Candidate(artist_id=1, rate_fen=80_000), brief).points == 0  # 160 % of the maximum
    assert scoring.price(scoring.Candidate(artist_id=1), brief).points == 0
    untargeted = scoring.audience(scoring.Candidate(artist_id=1), brief)
    assert untargeted.points == untargeted.max_points  # no targeting: everybody fits equally
    newcomer = scoring.reliability(scoring.Candidate(artist_id=1))
    late = scoring.reliability(scoring.Candidate(artist_id=1, bookings_done=5, bookings_on_time=1, rating_count=5,
                                                 rating_sum=10))  # fmt: skip
    assert late.points < newcomer.points < newcomer.max_points

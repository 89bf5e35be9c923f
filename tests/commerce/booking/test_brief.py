"""The draft held against the brief: each requirement that fails blocks the brand's approval with a message naming it;
the artist sees the same checklist, may replace the draft for a revision round, and the waiting side follows who must
act; a draft that meets the brief is approved and goes live under a real title; the timeline reads as sentences."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.booking import bookings, brief, campaigns
from commerce.booking.models import Booking, BookingState, Campaign, Party
from commerce.booking.publishing import published_title
from commerce.catalog.models import VideoProduct
from core.clock import FrozenClock
from core.errors import Conflict, ValidationFailed
from media.models import Video, Visibility
from tests import factories
from tests.commerce.booking.conftest import POLICY, Market, spec
from tests.commerce.booking.helpers import step
from tests.commerce.booking.walk import draft, to_state
from tests.commerce.catalog.helpers import bearer

INTERNAL_ID = re.compile(r"\b(id|_id)\b\s*[=:#]\s*\d|#\d+|\{|\}|_[a-z]+_|\b(draft_submitted|funded|approved)\b")


def _submitted(session: Session, market: Market, campaign: Campaign, frozen: FrozenClock, video: Video) -> Booking:
    b = to_state(session, market, campaign.id, BookingState.FUNDED, frozen)
    return step(session, market.artist, b, "submit_draft", video_id=video.id)


def _failing(session: Session, market: Market, *, duration: float = 30.0, **kw: object) -> Video:
    """A draft that meets the conftest brief except where `kw` / `duration` say otherwise."""
    values: dict[str, object] = {"hashtags": ["花西子", "秋冬底妆"], "description": ""}
    products = kw.pop("products", market.products)
    values.update(kw)
    v = factories.video(session, uploader=market.artist, title="新品上妆实测", published=False, duration=duration,
                        visibility=Visibility.PRIVATE, **values)  # fmt: skip
    for p in products:  # type: ignore[attr-defined]
        factories.video_link(session, video=v, product=p)
    session.commit()
    return v


@pytest.mark.parametrize(
    "case",
    [
        ({"duration": 75.0}, "duration", "brief_duration_long", "时长 75 秒，超过要求的 最多 60 秒",
         "75 s long: longer than at most 60 s"),
        ({"hashtags": ["花西子"]}, "hashtags", "brief_hashtags_missing", "缺少必带话题 #秋冬底妆",
         "Missing the must-have hashtags #秋冬底妆"),
        ({"products": "first"}, "products", "brief_products_missing", "未挂推广商品 「雕花口红」",
         "Does not link the promoted products 「雕花口红」"),
    ],
)  # fmt: skip
def test_each_failing_requirement_blocks_the_approval_and_says_what_is_missing(
    db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock, case: tuple[dict[str, object], ...]
) -> None:
    overrides, item, code, zh, en = case
    kw = dict(overrides)
    if kw.get("products") == "first":
        kw["products"] = market.products[:1]
    video = _failing(db_session, market, **kw)  # type: ignore[arg-type]
    b = _submitted(db_session, market, campaign, frozen, video)
    assert b.state == BookingState.DRAFT_SUBMITTED  # a failing draft is still delivered: both sides see the checklist
    check = bookings.brief_check(db_session, b)
    assert check is not None
    assert [(i.key, i.ok) for i in check.items] == [(k, k != item) for k in ("duration", "hashtags", "products")]
    (failed,) = check.failed
    assert failed.code == code
    assert failed.text("zh-CN") == zh
    assert failed.text("en") == en
    version = b.version
    with pytest.raises(brief.DraftFailsBrief) as exc:
        step(db_session, market.owner, b, "approve")
    assert exc.value.status == 409
    assert exc.value.code == "draft_fails_brief"
    assert zh in exc.value.message("zh-CN")
    assert exc.value.message("zh-CN").startswith("草稿不符合需求，不能通过")
    assert en in exc.value.message("en")
    db_session.refresh(b)
    assert (b.state, b.version) == (BookingState.DRAFT_SUBMITTED, version)


def test_a_short_draft_and_an_explicit_range_and_hashtags_in_the_caption(
    db_session: Session, market: Market, frozen: FrozenClock
) -> None:
    c = campaigns.create(db_session, market.owner, market.brand.id,
                         spec(market, min_duration_s=15, max_duration_s=45), policy=POLICY)  # fmt: skip
    # The tags written in the caption count as much as the hashtag list.
    video = _failing(db_session, market, duration=9.5, hashtags=[], description="秋天的底妆 #花西子 ＃秋冬底妆")
    b = _submitted(db_session, market, c, frozen, video)
    check = bookings.brief_check(db_session, b)
    assert check is not None
    assert [(i.key, i.ok) for i in check.items] == [("duration", False), ("hashtags", True), ("products", True)]
    assert check.failed[0].text("zh-CN") == "时长 9.5 秒，短于要求的 15–45 秒"
    assert check.failed[0].text("en") == "9.5 s long: shorter than 15–45 s"
    with pytest.raises(brief.DraftFailsBrief):
        step(db_session, market.owner, b, "approve")


def test_a_draft_that_meets_the_brief_is_approved_and_published_under_its_title(
    db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock
) -> None:
    video = _failing(db_session, market)  # nothing overridden: it meets the brief
    b = _submitted(db_session, market, campaign, frozen, video)
    check = bookings.brief_check(db_session, b)
    assert check is not None
    assert check.ok
    assert [i.text("zh-CN") for i in check.items] == [
        "时长 30 秒，符合 最多 60 秒", "已带必带话题 #花西子 #秋冬底妆", "已挂推广商品 「空气蜜粉」、「雕花口红」",
    ]  # fmt: skip
    assert bookings.turn_of(db_session, b) == Party.BRAND
    b = step(db_session, market.owner, b, "approve")
    assert b.state == BookingState.APPROVED
    step(db_session, market.artist, b, "publish")
    db_session.refresh(video)
    assert video.is_live
    assert video.title == "新品上妆实测"


TITLES = [
    ("新品上妆实测", "新品上妆实测"), ("秋冬底妆种草 草稿", "秋冬底妆种草"), ("IMG_0412.MOV", "秋冬底妆种草"),
    ("square.mp4", "秋冬底妆种草"), ("", "秋冬底妆种草"), ("空气蜜粉（第2版草稿）", "空气蜜粉"),
    ("VID_20261203_1201", "秋冬底妆种草"),
]  # fmt: skip


@pytest.mark.parametrize("case", TITLES)
def test_the_published_video_gets_a_real_title(
    db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock, case: tuple[str, str]
) -> None:
    draft_title, published = case
    assert published_title(draft_title, campaign.title) == published
    b = to_state(db_session, market, campaign.id, BookingState.APPROVED, frozen)
    video = db_session.get(Video, b.video_id)
    assert video is not None
    video.title = draft_title
    db_session.commit()
    step(db_session, market.artist, b, "publish")
    db_session.refresh(video)
    assert video.title == published


def test_the_artist_replaces_a_failing_draft_for_a_revision_round_and_the_waiting_side_follows(
    db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock
) -> None:
    bad = draft(db_session, market, "新品上妆实测", meets_brief=False)
    b = _submitted(db_session, market, campaign, frozen, bad)
    # A failing draft is the artist's to fix, not the brand's to review.
    assert bookings.turn_of(db_session, b) == Party.ARTIST
    mine = {x.id for x in bookings.list_for(db_session, market.artist, side=Party.ARTIST, my_turn=True)[0]}
    theirs = {x.id for x in bookings.list_for(db_session, market.owner, side=Party.BRAND, my_turn=True)[0]}
    assert b.id in mine
    assert b.id not in theirs
    # The artist cards the campaign's products on the same draft while resubmitting; the tags are still missing.
    b = step(db_session, market.artist, b, "submit_draft", video_id=bad.id,
             product_ids=[p.id for p in market.products])  # fmt: skip
    assert b.revisions_used == 1
    linked = list(db_session.scalars(select(VideoProduct.product_id).where(VideoProduct.video_id == bad.id)))
    assert sorted(linked) == sorted(p.id for p in market.products)
    check = bookings.brief_check(db_session, b)
    assert check is not None
    assert [i.key for i in check.failed] == ["hashtags"]
    good = draft(db_session, market, "新品上妆实测 第2版")
    b = step(db_session, market.artist, b, "submit_draft", video_id=good.id)
    assert (b.revisions_used, b.video_id) == (2, good.id)
    assert bookings.turn_of(db_session, b) == Party.BRAND
    theirs = {x.id for x in bookings.list_for(db_session, market.owner, side=Party.BRAND, my_turn=True)[0]}
    assert b.id in theirs
    # Rounds are bounded: with none left a third draft is refused, and the brand decides.
    with pytest.raises(Conflict) as conflict:
        step(db_session, market.artist, b, "submit_draft", video_id=draft(db_session, market).id)
    assert conflict.value.code == "revisions_exhausted"
    assert step(db_session, market.owner, b, "approve").state == BookingState.APPROVED


def test_a_failing_draft_with_no_rounds_left_is_the_brands_to_decide(
    db_session: Session, market: Market, frozen: FrozenClock
) -> None:
    c = campaigns.create(db_session, market.owner, market.brand.id, spec(market, max_revisions=0), policy=POLICY)
    b = _submitted(db_session, market, c, frozen, draft(db_session, market, meets_brief=False))
    assert bookings.turn_of(db_session, b) == Party.BRAND  # the artist cannot fix it; cancel or dispute


def test_only_the_campaigns_products_may_be_carded_on_a_draft(
    db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock
) -> None:
    other = factories.product(db_session, brand=market.brand, name="别的商品", category="beauty.makeup")
    db_session.commit()
    b = to_state(db_session, market, campaign.id, BookingState.FUNDED, frozen)
    with pytest.raises(ValidationFailed) as exc:
        step(db_session, market.artist, b, "submit_draft", video_id=draft(db_session, market).id,
             product_ids=[other.id])  # fmt: skip
    assert exc.value.fields[0].code == "product_not_in_campaign"
    assert b.state == BookingState.FUNDED


def test_the_campaigns_length_range_is_checked(db_session: Session, market: Market) -> None:
    for kw, field, code in (({"min_duration_s": 40, "max_duration_s": 20}, "max_duration_s", "duration_inverted"),
                            ({"min_duration_s": 0}, "min_duration_s", "duration_out_of_range"),
                            ({"max_duration_s": 7200}, "max_duration_s", "duration_out_of_range")):  # fmt: skip
        with pytest.raises(ValidationFailed) as exc:
            campaigns.create(db_session, market.owner, market.brand.id, spec(market, **kw), policy=POLICY)
        assert [(f.field, f.code) for f in exc.value.fields] == [(field, code)]
    c = campaigns.create(db_session, market.owner, market.brand.id,
                         spec(market, min_duration_s=10, max_duration_s=90), policy=POLICY)  # fmt: skip
    assert brief.duration_range(c) == (10, 90)
    c = campaigns.update(db_session, market.owner, c.id, policy=POLICY, max_duration_s=None)
    assert brief.duration_range(c) == (10, 60)  # the length tier's bound again


def test_over_http_the_check_the_refusal_and_a_timeline_without_ids(
    client: FlaskClient, db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock
) -> None:
    b = _submitted(db_session, market, campaign, frozen, draft(db_session, market, "上妆实测", meets_brief=False))
    brand = bearer(client, market.owner)
    detail = client.get(f"/api/v1/bookings/{b.id}", headers=brand).get_json()
    assert detail["brief_check"]["ok"] is False
    assert [(i["key"], i["ok"]) for i in detail["brief_check"]["items"]] == [
        ("duration", True), ("hashtags", False), ("products", False),
    ]  # fmt: skip
    assert detail["turn"] == "artist"
    r = client.post(f"/api/v1/bookings/{b.id}/approve", json={}, headers={**brand, "Idempotency-Key": "a1"})
    assert r.status_code == 409
    assert r.content_type.startswith("application/problem+json")
    assert r.get_json()["code"] == "draft_fails_brief"
    assert "缺少必带话题 #花西子 #秋冬底妆" in r.get_json()["title"] + r.get_json().get("detail", "")
    r = client.post(f"/api/v1/bookings/{b.id}/approve?lang=en", json={}, headers={**brand, "Idempotency-Key": "a2"})
    assert "Missing the must-have hashtags #花西子 #秋冬底妆" in r.get_json()["title"] + r.get_json().get("detail", "")
    texts = [e["text"] for e in detail["timeline"]]
    assert texts == [
        "品牌 " + market.owner.display_name + " 发出邀请，出价 ¥2000.00",
        "艺人 小鹿 接受了 ¥2000.00 的费用",
        "品牌 " + market.owner.display_name + " 将 ¥2000.00 存入担保",
        "艺人 小鹿 提交了草稿「上妆实测」",
    ]
    for text in texts:
        assert not INTERNAL_ID.search(text), text
    en = client.get(f"/api/v1/bookings/{b.id}?lang=en", headers=brand).get_json()
    assert en["timeline"][-1]["text"] == "Artist 小鹿 submitted the draft “上妆实测”"


def test_the_booking_page_shows_the_checklist_the_blocked_approval_and_the_waiting_side(
    client: FlaskClient, db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock
) -> None:
    from tests.commerce.booking.test_pages import sign_in

    b = _submitted(db_session, market, campaign, frozen, draft(db_session, market, "上妆实测", meets_brief=False))
    sign_in(client, market.owner)
    page = client.get(f"/bookings/{b.id}").get_data(as_text=True)
    assert 'data-brief-check data-ok="false"' in page
    assert "缺少必带话题 #花西子 #秋冬底妆" in page
    assert "data-approve-blocked" in page
    assert "data-waiting>" not in page  # the brand has nothing to approve yet
    assert 'class="app-tabs"' in page
    inbox = client.get("/bookings?side=brand").get_data(as_text=True)
    assert "待你处理" not in inbox
    client._cookies.clear()  # type: ignore[attr-defined]  # sign out: the artist's own session
    sign_in(client, market.artist)
    page = client.get(f"/bookings/{b.id}?lang=en").get_data(as_text=True)
    assert "Missing the must-have hashtags #花西子 #秋冬底妆" in page
    assert "Waiting for you" in page
    assert "Fix what is marked and submit the draft again" in page
    assert "待你处理" in client.get("/bookings?side=artist").get_data(as_text=True)

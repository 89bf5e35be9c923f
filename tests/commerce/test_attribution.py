"""Attribution: window edges, binding protection, self-referral, levels, review holds, and no pay for recruiting."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from commerce.attribution import service as attribution
from commerce.attribution.links import TargetKind
from commerce.attribution.models import ShareClick, UserDevice
from commerce.ledger import AccountKind, LedgerTransaction
from commerce.orders import checkout as checkout_service
from commerce.orders import review, settlement
from commerce.orders.models import Earning, EarningRole, EarningStatus, OrderLine, ReviewStatus
from commerce.owners import Owner
from commerce.payouts.models import PayoutMethod
from commerce.payouts.service import set_payout_account
from commerce.policy import MoneyPolicy
from core.clock import FrozenClock
from tests.commerce.conftest import use_policy
from tests.commerce.money import (
    ADDRESS,
    LINK_KEYS,
    LINKS,
    Market,
    assert_books_balanced,
    orders_of,
    owner_balances,
    pay,
    pending_matches_earnings,
    place,
    share_click,
    ship_and_deliver,
)

WINDOW = dt.timedelta(days=7)


def _line(m: Market, checkout: object) -> OrderLine:
    (order,) = orders_of(m, checkout)  # type: ignore[arg-type]
    (line,) = order.lines
    return line


def _earnings(m: Market, line: OrderLine) -> dict[EarningRole, tuple[int, int]]:
    rows = m.session.scalars(select(Earning).where(Earning.order_line_id == line.id))
    return {e.role: (e.owner_id, e.amount) for e in rows}


def test_a_share_click_credits_the_sharer_and_the_split_pays_them(market: Market, frozen: FrozenClock) -> None:
    m = market
    click = share_click(m, m.sharer, viewer=m.buyer)
    frozen.advance(minutes=5)
    checkout = place(m, click_ids=[click.click_id])
    line = _line(m, checkout)
    assert (line.sharer_id, line.sharer_via, line.click_id, line.sharer_rate_bp) == (
        m.sharer.id, "click", click.click_id, 1000,
    )  # fmt: skip
    pay(m, checkout)
    # 20 % artist, 10 % sharer, 5 % platform, 65 % brand of 10 000 fen.
    assert _earnings(m, line) == {
        EarningRole.ARTIST: (m.artist.id, 2000), EarningRole.SHARER: (m.sharer.id, 1000),
        EarningRole.PLATFORM: (0, 500), EarningRole.BRAND: (m.brand.id, 6500),
    }  # fmt: skip


def test_attribution_window_edges(market: Market, frozen: FrozenClock) -> None:
    m = market
    click = share_click(m, m.sharer, device="anon-phone")  # clicked before signing in: matched by device
    frozen.advance(days=7)
    inside = _line(m, place(m, click_ids=[click.click_id], device="anon-phone"))
    assert inside.sharer_id == m.sharer.id
    other_buyer = m.user()
    click2 = share_click(m, m.sharer, device="other-phone")
    frozen.advance(days=7, seconds=1)
    outside = _line(m, place(m, buyer=other_buyer, click_ids=[click2.click_id], device="other-phone"))
    assert outside.sharer_id is None
    assert outside.sharer_rate_bp == 0


def test_last_click_wins_and_a_click_must_match_the_product(market: Market, frozen: FrozenClock) -> None:
    m = market
    from tests import factories

    unrelated = factories.product(m.session, brand=m.brand, name="无关商品", prices=(100,))
    m.session.commit()
    second = m.user()
    share_click(m, m.sharer, viewer=m.buyer)
    frozen.advance(hours=1)
    share_click(m, second, viewer=m.buyer)
    frozen.advance(hours=1)
    share_click(m, m.upstream, viewer=m.buyer, target=TargetKind.PRODUCT, target_id=unrelated.id)
    frozen.advance(hours=1)
    assert _line(m, place(m)).sharer_id == second.id  # the last click on a link that leads to this product


def test_binding_protects_the_first_sharer_and_expires(market: Market, frozen: FrozenClock) -> None:
    m = market
    rival = m.user()
    share_click(m, m.sharer, viewer=m.buyer)
    frozen.advance(minutes=10)
    first = place(m)
    pay(m, first)  # credited purchase: bound for 30 days from now
    frozen.advance(days=20)
    share_click(m, rival, viewer=m.buyer)
    frozen.advance(minutes=10)
    protected = _line(m, place(m))
    assert (protected.sharer_id, protected.sharer_via) == (m.sharer.id, "binding")
    frozen.advance(days=10, minutes=-20)  # 30 days after the paid order, minus a moment: still bound
    assert _line(m, place(m)).sharer_id == m.sharer.id
    frozen.advance(minutes=30)  # the binding ended; the rival's fresh click now counts
    share_click(m, rival, viewer=m.buyer)
    frozen.advance(minutes=1)
    assert _line(m, place(m)).sharer_id == rival.id


def test_an_unpaid_order_binds_only_for_the_protection_period(market: Market, frozen: FrozenClock) -> None:
    m = market
    rival = m.user()
    share_click(m, m.sharer, viewer=m.buyer)
    frozen.advance(minutes=10)
    place(m)  # never paid: bound for 15 days
    frozen.advance(days=14)
    share_click(m, rival, viewer=m.buyer)
    frozen.advance(minutes=10)
    assert _line(m, place(m)).sharer_id == m.sharer.id
    frozen.advance(days=2)
    share_click(m, rival, viewer=m.buyer)
    frozen.advance(minutes=10)
    assert _line(m, place(m)).sharer_id == rival.id


def test_self_referral_earns_nothing(market: Market, frozen: FrozenClock) -> None:
    m = market
    # Same user: the buyer shares and buys through their own link.
    share_click(m, m.buyer, viewer=m.buyer)
    frozen.advance(minutes=5)
    own = _line(m, place(m))
    assert (own.sharer_id, own.sharer_blocked, own.sharer_rate_bp) == (m.buyer.id, "same_user", 0)

    # Same device: the sharer made the link on the phone the buyer checks out with.
    alt = m.user()
    attribution.remember_device(m.session, m.sharer.id, "shared-phone")
    share_click(m, m.sharer, viewer=alt)
    frozen.advance(minutes=5)
    line = _line(m, place(m, buyer=alt, device="shared-phone"))
    assert (line.sharer_blocked, line.sharer_rate_bp) == ("same_device", 0)

    # Same payout account.
    alt2 = m.user()
    for who in (m.sharer, alt2):
        set_payout_account(m.session, who, Owner.user(who.id), method=PayoutMethod.ALIPAY, account_no="138-0000-1111",
                           account_name="同一人")  # fmt: skip
    share_click(m, m.sharer, viewer=alt2)
    frozen.advance(minutes=5)
    assert _line(m, place(m, buyer=alt2, device="alt2")).sharer_blocked == "same_payout_account"

    # Same delivery address as an order the sharer placed for themselves.
    alt3 = m.user()
    own_home = checkout_service.Address(
        name="李四", phone="13900000000", province="上海市", city="上海市", district="徐汇区", detail="漕溪北路1号"
    )
    place(m, buyer=m.sharer, from_video=False, address=own_home)
    share_click(m, m.sharer, viewer=alt3)
    frozen.advance(minutes=5)
    assert _line(m, place(m, buyer=alt3, device="alt3", address=ADDRESS)).sharer_blocked == "same_address"

    # The artist buying through their own video earns no artist commission either.
    artist_line = _line(m, place(m, buyer=m.artist, device="artist-phone"))
    assert (artist_line.artist_id, artist_line.artist_blocked, artist_line.artist_rate_bp) == (
        m.artist.id, "same_user", 0,
    )  # fmt: skip
    pay(m, place(m, buyer=m.artist, device="artist-phone"))
    assert owner_balances(m.session, Owner.user(m.artist.id))[AccountKind.PENDING] == 0


def test_two_levels_at_most_and_only_when_the_platform_pays_two(market: Market, frozen: FrozenClock) -> None:
    m = market
    policy = MoneyPolicy(commission_levels=2, level2_share_bp=2000)
    m.policy = policy
    use_policy(policy)
    # upstream shares; the sharer opens it (signed in) and re-shares: the new link names upstream.
    share_click(m, m.upstream, viewer=m.sharer)
    frozen.advance(minutes=5)
    reshare = attribution.create_share_link(m.session, m.sharer, target_kind=TargetKind.VIDEO, target_id=m.video.id,
                                            keys=LINK_KEYS, policy=policy, base_url="http://x")  # fmt: skip
    assert reshare.claim.parent_sharer_id == m.upstream.id
    click = attribution.record_click(m.session, reshare.token, keys=LINK_KEYS, policy=policy, ip_hash="i",
                                     viewer_id=m.buyer.id)  # fmt: skip
    assert click is not None
    frozen.advance(minutes=5)
    checkout = place(m)
    line = _line(m, checkout)
    assert (line.sharer_id, line.parent_sharer_id, line.level2_share_bp) == (m.sharer.id, m.upstream.id, 2000)
    pay(m, checkout)
    shares = _earnings(m, line)
    # The 10 % sharer commission (1 000 fen) is split 80/20 between the two levels; the brand pays no more.
    assert shares[EarningRole.SHARER] == (m.sharer.id, 800)
    assert shares[EarningRole.SHARER_L2] == (m.upstream.id, 200)
    assert shares[EarningRole.BRAND] == (m.brand.id, 6500)

    # A third hop: someone re-shares the sharer's link. The chain is cut: only sharer (level 2) and them.
    third = m.user()
    attribution.record_click(m.session, reshare.token, keys=LINK_KEYS, policy=policy, ip_hash="i", viewer_id=third.id)
    frozen.advance(minutes=5)
    third_link = attribution.create_share_link(m.session, third, target_kind=TargetKind.VIDEO, target_id=m.video.id,
                                               keys=LINK_KEYS, policy=policy, base_url="http://x")  # fmt: skip
    assert third_link.claim.parent_sharer_id == m.sharer.id
    buyer2 = m.user()
    attribution.record_click(m.session, third_link.token, keys=LINK_KEYS, policy=policy, ip_hash="i",
                             viewer_id=buyer2.id)  # fmt: skip
    frozen.advance(minutes=5)
    checkout2 = place(m, buyer=buyer2, device="b2")
    pay(m, checkout2)
    roles = _earnings(m, _line(m, checkout2))
    assert roles[EarningRole.SHARER][0] == third.id
    assert roles[EarningRole.SHARER_L2][0] == m.sharer.id
    assert m.upstream.id not in {owner for owner, _ in roles.values()}

    # Back to one level: a token naming an upstream sharer pays it nothing.
    use_policy(MoneyPolicy())
    m.policy = MoneyPolicy()
    buyer3 = m.user()
    attribution.record_click(m.session, reshare.token, keys=LINK_KEYS, policy=m.policy, ip_hash="i",
                             viewer_id=buyer3.id)  # fmt: skip
    frozen.advance(minutes=5)
    one_level = _line(m, place(m, buyer=buyer3, device="b3"))
    assert (one_level.parent_sharer_id, one_level.level2_share_bp) == (None, 0)


def test_nothing_pays_for_recruiting(market: Market, frozen: FrozenClock) -> None:
    m = market
    # Ten people open the sharer's link, sign up and start sharing themselves: no money moves.
    recruits = []
    for _ in range(10):
        recruit = m.user()
        share_click(m, m.sharer, viewer=recruit)
        recruits.append(recruit)
    assert m.session.scalar(select(func.count()).select_from(LedgerTransaction)) == 0
    # A recruit's own sale of another product (not a re-share of the sharer's target) pays the sharer nothing.
    from tests import factories

    other = factories.product(m.session, brand=m.brand, name="别的商品", prices=(2_000,))
    factories.offer(m.session, product=other, artist_rate_bp=1000, sharer_rate_bp=1000)
    m.session.commit()
    frozen.advance(minutes=5)
    share_click(m, recruits[0], viewer=m.buyer, target=TargetKind.PRODUCT, target_id=other.id)
    frozen.advance(minutes=5)
    checkout = checkout_service.place_order(
        m.session, m.buyer, items=[checkout_service.CheckoutItem(other.skus[0].id, 1)], address=ADDRESS,
        provider=m.provider, policy=m.policy, links=LINKS,
    )  # fmt: skip
    pay(m, checkout)
    owners = set(m.session.scalars(select(Earning.owner_id).where(Earning.role != EarningRole.BRAND)))
    assert m.sharer.id not in owners
    assert recruits[0].id in owners
    kinds = set(m.session.scalars(select(LedgerTransaction.kind)))
    assert kinds == {"capture", "split"}  # only sales move money


def test_suspicious_sales_hold_commissions_for_review(market: Market, frozen: FrozenClock) -> None:
    m = market
    click = share_click(m, m.sharer, viewer=m.buyer)
    frozen.advance(seconds=3)  # click-to-buy in 3 seconds
    fast = place(m, click_ids=[click.click_id])
    line = _line(m, fast)
    assert line.review_status == ReviewStatus.HELD
    assert "fast_click_to_buy" in line.hold_reasons
    pay(m, fast)
    (order,) = orders_of(m, fast)
    ship_and_deliver(m, order)
    frozen.advance(days=8)
    settlement.settle_due(m.session)
    statuses = {e.role: e.status for e in m.session.scalars(select(Earning).where(Earning.order_line_id == line.id))}
    assert statuses[EarningRole.BRAND] == EarningStatus.SETTLED
    assert statuses[EarningRole.SHARER] == statuses[EarningRole.ARTIST] == EarningStatus.HELD
    # The admin rejects: the held commissions go to the brand.
    review.decide_hold(m.session, m.admin, line.id, approve=False)
    settlement.settle_due(m.session)
    assert all(v == 0 for v in owner_balances(m.session, Owner.user(m.sharer.id)).values())
    assert all(v == 0 for v in owner_balances(m.session, Owner.user(m.artist.id)).values())
    brand_total = sum(owner_balances(m.session, Owner.brand(m.brand.id)).values())
    assert brand_total == 6500 + 2000 + 1000
    pending_matches_earnings(m.session)
    assert_books_balanced(m.session)


def test_review_rules_new_accounts_and_busy_devices(market: Market, frozen: FrozenClock) -> None:
    m = market
    newcomer = m.user()
    newcomer.created_at = frozen.now() - dt.timedelta(minutes=5)
    m.session.commit()
    line = _line(m, place(m, buyer=newcomer, device="fresh"))
    assert line.hold_reasons == ["new_account"]
    for _ in range(5):
        place(m, device="busy-phone")
    busy = _line(m, place(m, device="busy-phone"))
    assert busy.hold_reasons == ["many_orders_one_device"]
    # An approved hold settles like any other sale.
    pay(m, place(m, buyer=newcomer, device="fresh"))
    approved = m.session.scalars(select(OrderLine).where(OrderLine.review_status == ReviewStatus.HELD)).all()
    for held in approved:
        review.decide_hold(m.session, m.admin, held.id, approve=True)
    assert not m.session.scalars(select(Earning).where(Earning.status == EarningStatus.HELD)).all()


def test_clicks_from_tampered_or_expired_links_are_not_logged(market: Market, frozen: FrozenClock) -> None:
    m = market
    link = attribution.create_share_link(m.session, m.sharer, target_kind=TargetKind.VIDEO, target_id=m.video.id,
                                         keys=LINK_KEYS, policy=m.policy, base_url="http://x")  # fmt: skip
    kid, payload, mac = link.token.split(".")
    assert attribution.record_click(m.session, f"{kid}.{payload}.{mac[:-1]}x", keys=LINK_KEYS, policy=m.policy,
                                    ip_hash="i") is None  # fmt: skip
    frozen.advance(days=31)
    assert attribution.record_click(m.session, link.token, keys=LINK_KEYS, policy=m.policy, ip_hash="i") is None
    assert m.session.scalar(select(func.count()).select_from(ShareClick)) == 0


def test_checkout_notes_the_buyers_device_at_most_once_a_day(market: Market, frozen: FrozenClock) -> None:
    # What self-referral checks compare is that a user was seen on a device; its last sighting is coarse, so a
    # buyer checking out again on a known device writes nothing for it until a day has passed.
    m = market
    buyer = m.user()

    def seen() -> tuple[dt.datetime, dt.datetime]:
        row = m.session.execute(
            select(UserDevice.first_seen_at, UserDevice.last_seen_at).where(
                UserDevice.user_id == buyer.id, UserDevice.device_hash == "daily-phone"
            )
        ).one()
        return row.first_seen_at, row.last_seen_at

    place(m, buyer=buyer, device="daily-phone")
    first = seen()
    assert first == (frozen.now(), frozen.now())
    frozen.advance(hours=23)
    place(m, buyer=buyer, device="daily-phone")
    assert seen() == first
    frozen.advance(hours=2)
    place(m, buyer=buyer, device="daily-phone")
    assert seen() == (first[0], frozen.now())


def test_a_click_on_a_video_credits_only_the_products_that_video_carries(market: Market, frozen: FrozenClock) -> None:
    # A one-product checkout learns whether each clicked video carries its product with the clicks; a checkout of
    # several products asks for every (video, product) pair: both credit a line the last click leading to it.
    from tests import factories

    m = market
    other = factories.product(m.session, brand=m.brand, name="面膜", prices=(3_000,))
    other.skus[0].stock = 10
    factories.offer(m.session, product=other, artist_rate_bp=0, sharer_rate_bp=1000)
    mask_video = factories.video(m.session, uploader=m.artist, title="面膜测评")
    factories.video_link(m.session, video=mask_video, product=other)
    m.session.commit()
    second, other_buyer = m.user(), m.user()
    for viewer in (m.buyer, other_buyer):
        share_click(m, m.sharer, viewer=viewer)  # m.video: carries m.product
    frozen.advance(hours=1)
    for viewer in (m.buyer, other_buyer):
        share_click(m, second, viewer=viewer, target_id=mask_video.id)  # later, but its video carries the mask only
    frozen.advance(hours=1)
    assert _line(m, place(m, from_video=False)).sharer_id == m.sharer.id
    both = checkout_service.place_order(
        m.session, other_buyer, items=[
            checkout_service.CheckoutItem(m.sku.id, 1), checkout_service.CheckoutItem(other.skus[0].id, 1),
        ], address=ADDRESS, provider=m.provider, policy=m.policy, links=LINKS,
    )  # fmt: skip
    credited = {line.sku_id: line.sharer_id for order in orders_of(m, both) for line in order.lines}
    assert credited == {m.sku.id: m.sharer.id, other.skus[0].id: second.id}


def test_self_referral_of_the_videos_artist_the_bound_sharer_and_the_upstream(
    market: Market, frozen: FrozenClock
) -> None:
    # The checks are read with the SKUs (the source video's artist) and with the buyer's binding or clicks (their
    # sharers and upstream sharers); each reason holds there as it does for a beneficiary asked on its own.
    m = market
    policy = MoneyPolicy(commission_levels=2, level2_share_bp=2000)
    m.policy = policy
    use_policy(policy)
    buyer = m.user()
    attribution.remember_device(m.session, m.artist.id, "family-tablet")
    m.session.commit()
    line = _line(m, place(m, buyer=buyer, device="family-tablet"))
    assert (line.artist_id, line.artist_blocked, line.artist_rate_bp) == (m.artist.id, "same_device", 0)

    # The upstream sharer shares the buyer's payout account; the sharer re-shared upstream's link to the buyer.
    for who in (m.upstream, buyer):
        set_payout_account(m.session, who, Owner.user(who.id), method=PayoutMethod.ALIPAY, account_no="6222-0000",
                           account_name="同一人")  # fmt: skip
    share_click(m, m.upstream, viewer=m.sharer)
    frozen.advance(minutes=5)
    reshare = attribution.create_share_link(m.session, m.sharer, target_kind=TargetKind.VIDEO, target_id=m.video.id,
                                            keys=LINK_KEYS, policy=policy, base_url="http://x")  # fmt: skip
    attribution.record_click(m.session, reshare.token, keys=LINK_KEYS, policy=policy, ip_hash="i", viewer_id=buyer.id)
    frozen.advance(minutes=5)
    clicked = _line(m, place(m, buyer=buyer, device="buyer-phone", from_video=False))
    assert (clicked.sharer_id, clicked.sharer_via, clicked.sharer_blocked) == (m.sharer.id, "click", None)
    assert (clicked.parent_sharer_id, clicked.parent_blocked, clicked.level2_share_bp) == (
        m.upstream.id, "same_payout_account", 0,
    )  # fmt: skip

    # Bound to the sharer by that order; then the sharer orders for themselves to the buyer's address.
    place(m, buyer=m.sharer, device="sharer-phone", from_video=False, address=ADDRESS)
    bound = _line(m, place(m, buyer=buyer, device="buyer-phone", from_video=False, address=ADDRESS))
    assert (bound.sharer_id, bound.sharer_via, bound.sharer_blocked, bound.sharer_rate_bp) == (
        m.sharer.id, "binding", "same_address", 0,
    )  # fmt: skip
    assert bound.parent_blocked == "same_payout_account"

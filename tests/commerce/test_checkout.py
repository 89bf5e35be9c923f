"""Checkout: reservation, snapshots, one order per brand, coupons, payment outcomes, expiry and late payments."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from commerce.ledger import AccountKind, AccountRef, balance
from commerce.marketing.coupons import create_coupon
from commerce.orders import checkout as checkout_service
from commerce.orders import expiry
from commerce.orders.lifecycle import SYSTEM, cancel_unpaid, events
from commerce.orders.models import CouponKind, Earning, EarningRole, OrderRefund, OrderStatus, RefundState
from commerce.orders.refunds import submit_refund, unsubmitted
from commerce.payments import service as payments
from commerce.payments.models import PaymentStatus
from commerce.payments.provider import ProviderStatus
from commerce.payments.sandbox import SandboxPayment
from core.clock import FrozenClock
from core.errors import Conflict, ValidationFailed
from tests import factories
from tests.commerce.money import (
    ADDRESS,
    LINKS,
    NOTIFY_URL,
    Market,
    assert_books_balanced,
    deliver,
    escrow,
    ledger_transactions,
    orders_of,
    pay,
    payment_of,
    place,
    status,
)


def test_checkout_reserves_stock_and_snapshots_every_line(market: Market) -> None:
    m = market
    checkout = place(m, qty=2)
    (order,) = orders_of(m, checkout)
    m.session.refresh(m.sku)
    assert m.sku.stock == 8
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.total == checkout.total == 20_000
    assert order.reserved_until == order.created_at + dt.timedelta(minutes=15)
    (line,) = order.lines
    assert (line.unit_price, line.quantity, line.paid_amount) == (10_000, 2, 20_000)
    assert line.offer_id is not None
    assert (line.artist_id, line.source_kind, line.source_video_id) == (m.artist.id, "video", m.video.id)
    assert (line.artist_rate_bp, line.platform_fee_bp) == (2000, 500)
    assert line.sharer_id is None
    assert line.sharer_rate_bp == 0
    payment = payment_of(m, checkout)
    assert payment.amount == 20_000
    assert payment.pay_url.endswith(f"/sandbox/pay/{payment.provider_payment_id}")
    assert [(e.from_status, e.to_status, e.actor_id, e.actor_role) for e in events(m.session, order.id)] == [
        (None, OrderStatus.PENDING_PAYMENT, m.buyer.id, "buyer")
    ]


def test_a_rate_change_after_checkout_does_not_touch_the_order(market: Market, frozen: FrozenClock) -> None:
    m = market
    checkout = place(m)
    from commerce.catalog.models import AffiliateOffer

    offer = m.session.scalar(select(AffiliateOffer).where(AffiliateOffer.product_id == m.product.id))
    assert offer is not None
    offer.effective_to = frozen.advance(seconds=1)
    m.session.add(
        AffiliateOffer(
            product_id=m.product.id, artist_rate_bp=4000, sharer_rate_bp=0, effective_from=offer.effective_to
        )
    )
    m.session.commit()
    pay(m, checkout)
    (order,) = orders_of(m, checkout)
    artist = m.session.scalar(select(Earning).where(Earning.order_id == order.id, Earning.role == EarningRole.ARTIST))
    assert artist is not None
    assert artist.amount == 2000  # 20 % of 10 000 as snapshotted, not the new 40 %
    assert place(m).orders[0].lines[0].artist_rate_bp == 4000


def test_one_order_per_brand_and_one_payment(market: Market) -> None:
    m = market
    other_owner = m.user()
    other = factories.brand(m.session, owner=other_owner)
    lipstick = factories.product(m.session, brand=other, name="口红", prices=(5_000,))
    m.session.commit()
    checkout = checkout_service.place_order(
        m.session, m.buyer,
        items=[checkout_service.CheckoutItem(m.sku.id, 1), checkout_service.CheckoutItem(lipstick.skus[0].id, 3)],
        address=ADDRESS, provider=m.provider, policy=m.policy, links=LINKS,
    )  # fmt: skip
    orders = orders_of(m, checkout)
    assert sorted((o.brand_id, o.total) for o in orders) == sorted([(m.brand.id, 10_000), (other.id, 15_000)])
    assert payment_of(m, checkout).amount == checkout.total == 25_000
    pay(m, checkout)
    assert [status(m, o) for o in orders] == [OrderStatus.PAID, OrderStatus.PAID]
    for o in orders:
        assert escrow(m.session, o) == 0
        shares = m.session.scalars(select(Earning.amount).where(Earning.order_id == o.id)).all()
        assert sum(shares) == o.total
    assert_books_balanced(m.session)


def test_not_enough_stock_reserves_nothing(market: Market) -> None:
    m = market
    m.sku.stock = 1
    m.session.commit()
    with pytest.raises(Conflict) as err:
        place(m, qty=2)
    assert err.value.code == "out_of_stock"
    assert err.value.fields[0].field == "items.0.quantity"
    m.session.refresh(m.sku)
    assert m.sku.stock == 1
    assert orders_of(m, place(m, qty=1))  # the last unit is still for sale


def test_bad_input_is_refused_with_field_errors(market: Market) -> None:
    m = market
    with pytest.raises(ValidationFailed) as err:
        checkout_service.place_order(
            m.session, m.buyer, items=[checkout_service.CheckoutItem(999_999, 1)], address=ADDRESS,
            provider=m.provider, policy=m.policy, links=LINKS,
        )  # fmt: skip
    assert [f.field for f in err.value.fields] == ["items.0.sku_id"]
    bad_address = checkout_service.Address(
        name="", phone="abc", province="上海", city="上海", district="徐汇", detail="x"
    )
    with pytest.raises(ValidationFailed) as err:
        place(m, address=bad_address)
    assert {f.field for f in err.value.fields} == {"address.name", "address.phone", "address.detail"}
    with pytest.raises(ValidationFailed):
        place(m, qty=0)
    m.session.refresh(m.sku)
    assert m.sku.stock == 10


def test_coupon_discount_is_spread_over_lines_and_limited_in_use(market: Market) -> None:
    m = market
    second = factories.product(m.session, brand=m.brand, name="面膜", prices=(3_333,))
    m.session.commit()
    create_coupon(m.session, m.owner, m.brand.id, code="summer-10", kind=CouponKind.PERCENT, value=1000, max_uses=1)
    checkout = checkout_service.place_order(
        m.session, m.buyer,
        items=[checkout_service.CheckoutItem(m.sku.id, 1), checkout_service.CheckoutItem(second.skus[0].id, 1)],
        address=ADDRESS, provider=m.provider, policy=m.policy, links=LINKS, coupon_codes={m.brand.id: "SUMMER-10"},
    )  # fmt: skip
    (order,) = orders_of(m, checkout)
    assert (order.subtotal, order.discount, order.total) == (13_333, 1_333, 12_000)
    assert sum(line.discount for line in order.lines) == 1_333
    assert sum(line.paid_amount for line in order.lines) == order.total
    with pytest.raises(Conflict) as err:
        place(m, coupons={m.brand.id: "SUMMER-10"})
    assert err.value.code == "coupon_user_limit"  # one per buyer by default
    with pytest.raises(Conflict) as err:
        place(m, buyer=m.user(), coupons={m.brand.id: "SUMMER-10"})
    assert err.value.code == "coupon_exhausted"  # and one in all
    with pytest.raises(ValidationFailed):
        place(m, coupons={m.brand.id: "NOPE"})


def test_successful_payment_splits_the_money_by_largest_remainder(market: Market) -> None:
    m = market
    m.sku.price_fen = 9_999
    m.session.commit()
    checkout = place(m)
    assert pay(m, checkout) == ["applied"]
    (order,) = orders_of(m, checkout)
    assert order.status == OrderStatus.PAID
    shares = {e.role: e.amount for e in m.session.scalars(select(Earning).where(Earning.order_id == order.id))}
    # 20 % artist, 5 % platform, the brand the rest; 9 999 fen leaves remainders that must not be lost.
    assert shares == {EarningRole.ARTIST: 2000, EarningRole.PLATFORM: 500, EarningRole.BRAND: 7499}
    payment = payment_of(m, checkout)
    assert payment.fee == 60  # 0.6 % of 9 999, rounded half up
    assert balance(m.session, AccountRef.platform(AccountKind.CLEARING)).balance == -(9_999 - 60)
    assert balance(m.session, AccountRef.platform(AccountKind.PROVIDER_FEES)).balance == -60
    assert escrow(m.session, order) == 0
    assert_books_balanced(m.session)
    # The video the purchase started from counts it (the feed ranks by it, reports show it).
    from search.models import EngagementEvent, EngagementKind

    purchase = m.session.scalar(select(EngagementEvent).where(EngagementEvent.kind == EngagementKind.PURCHASE))
    assert purchase is not None
    assert (purchase.video_id, purchase.reference) == (m.video.id, f"order-line:{order.lines[0].id}")


def test_a_declined_payment_keeps_the_order_open_and_the_buyer_retries(market: Market) -> None:
    m = market
    checkout = place(m, qty=3)
    posted = ledger_transactions(m.session)
    # The card is declined: the provider reports it, but the payment (and the reservation) stay open.
    assert pay(m, checkout, succeed=False) == ["pending"]
    (order,) = orders_of(m, checkout)
    assert status(m, order) == OrderStatus.PENDING_PAYMENT
    payment = payment_of(m, checkout)
    m.session.refresh(payment)
    assert (payment.status, payment.last_failure) == (PaymentStatus.PENDING, "declined")
    m.session.refresh(m.sku)
    assert m.sku.stock == 7  # still reserved for this buyer
    assert ledger_transactions(m.session) == posted  # a decline moves no money
    assert m.session.scalar(select(Earning).where(Earning.order_id == order.id)) is None
    # The buyer tries again on the same hosted page, and pays.
    assert pay(m, checkout) == ["applied"]
    assert status(m, order) == OrderStatus.PAID
    m.session.refresh(m.sku)
    assert m.sku.stock == 7
    assert_books_balanced(m.session)


def test_a_declined_payment_not_retried_is_cancelled_when_the_reservation_expires(
    market: Market, frozen: FrozenClock
) -> None:
    m = market
    checkout = place(m, qty=3)
    posted = ledger_transactions(m.session)
    assert pay(m, checkout, succeed=False) == ["pending"]
    frozen.advance(minutes=14)
    assert expiry.expire_unpaid(m.session, m.provider) == 0
    assert status(m, orders_of(m, checkout)[0]) == OrderStatus.PENDING_PAYMENT
    frozen.advance(minutes=1)
    assert expiry.expire_unpaid(m.session, m.provider) == 1
    (order,) = orders_of(m, checkout)
    assert (order.status, order.cancel_reason) == (OrderStatus.CANCELLED, "payment_expired")
    m.session.refresh(m.sku)
    assert m.sku.stock == 10  # every unit back on sale
    assert payment_of(m, checkout).status == PaymentStatus.CLOSED
    assert ledger_transactions(m.session) == posted  # no half order: nothing was ever posted
    assert m.session.scalar(select(Earning).where(Earning.order_id == order.id)) is None
    with pytest.raises(Conflict):  # too late to retry on the hosted page
        m.provider.complete(payment_of(m, checkout).provider_payment_id or "", succeed=True)


def test_a_payment_that_fails_for_good_releases_the_reservation(market: Market) -> None:
    """A provider that reports a final failure (no retry on its side) cancels the orders at once."""
    m = market
    checkout = place(m, qty=3)
    payment = payment_of(m, checkout)
    sandbox_payment = m.session.get(SandboxPayment, payment.provider_payment_id)
    assert sandbox_payment is not None
    sandbox_payment.status = ProviderStatus.FAILED
    m.session.commit()
    payments.sync_payment(m.session, m.provider, payment.id)
    (order,) = orders_of(m, checkout)
    assert (order.status, order.cancel_reason) == (OrderStatus.CANCELLED, "payment_failed")
    m.session.refresh(m.sku)
    assert m.sku.stock == 10


def test_expired_reservation_is_released_and_the_payment_closed(market: Market, frozen: FrozenClock) -> None:
    m = market
    checkout = place(m, qty=4)
    frozen.advance(minutes=14, seconds=59)
    assert expiry.expire_unpaid(m.session, m.provider) == 0
    frozen.advance(seconds=1)
    assert expiry.expire_unpaid(m.session, m.provider) == 1
    (order,) = orders_of(m, checkout)
    assert order.status == OrderStatus.CANCELLED
    m.session.refresh(m.sku)
    assert m.sku.stock == 10
    payment = payment_of(m, checkout)
    assert payment.status == PaymentStatus.CLOSED
    assert m.provider.query_payment(payment.provider_payment_id or "").status == ProviderStatus.CLOSED
    with pytest.raises(Conflict):  # the buyer can no longer pay on the hosted page
        m.provider.complete(payment.provider_payment_id or "", succeed=True)


def test_paid_at_the_last_second_the_expiry_job_applies_the_payment(market: Market, frozen: FrozenClock) -> None:
    m = market
    checkout = place(m)
    payment = payment_of(m, checkout)
    m.provider.complete(payment.provider_payment_id or "", succeed=True)  # paid; the webhook is still in the air
    m.session.commit()
    frozen.advance(minutes=16)
    assert expiry.expire_unpaid(m.session, m.provider) == 0
    (order,) = orders_of(m, checkout)
    assert order.status == OrderStatus.PAID
    assert deliver(m) == ["already_applied"]  # the late webhook adds nothing
    assert_books_balanced(m.session)


def test_a_payment_after_cancellation_is_refunded_in_full(market: Market) -> None:
    m = market
    checkout = place(m)
    (order,) = orders_of(m, checkout)
    cancel_unpaid(m.session, order, SYSTEM, "reservation_expired")  # as if it expired while the provider lagged
    m.session.commit()
    assert pay(m, checkout) == ["applied"]  # the provider took the money anyway
    assert status(m, order) == OrderStatus.CANCELLED
    refund = m.session.scalar(select(OrderRefund).where(OrderRefund.order_id == order.id))
    assert refund is not None
    assert (refund.reason, refund.amount, refund.status) == ("late_payment", 10_000, RefundState.APPROVED)
    assert unsubmitted(m.session) == [refund.id]  # what the safety-net job would resubmit
    submit_refund(m.session, m.provider, refund.id, notify_url=NOTIFY_URL)  # what the task does
    m.session.commit()
    assert unsubmitted(m.session) == []
    assert deliver(m) == ["applied"]
    m.session.refresh(refund)
    assert refund.status == RefundState.REFUNDED
    for kind in (AccountKind.CLEARING, AccountKind.PROVIDER_FEES, AccountKind.REFUNDS):
        assert balance(m.session, AccountRef.platform(kind)).balance == 0
    assert escrow(m.session, order) == 0
    assert m.session.scalar(select(Earning.id).where(Earning.order_id == order.id)) is None
    assert_books_balanced(m.session)


def test_each_line_credits_the_artist_of_its_own_source_video(market: Market) -> None:
    # The first item's video is read with the SKUs; the others' are asked for one by one: either way, a line credits
    # its video's uploader only when that video carries its product, and a video that does not exist credits nobody.
    m = market
    other_artist = m.user(artist=True)
    other_video = factories.video(m.session, uploader=other_artist, title="第二个视频")
    skus = []
    for name in ("面霜", "精华"):
        product = factories.product(m.session, brand=m.brand, name=name, prices=(5_000,))
        product.skus[0].stock = 10
        factories.offer(m.session, product=product, artist_rate_bp=1500, sharer_rate_bp=0)
        skus.append(product.skus[0])
    factories.video_link(m.session, video=other_video, product=skus[1].product)
    m.session.commit()
    placed = checkout_service.place_order(
        m.session, m.buyer, items=[
            checkout_service.CheckoutItem(m.sku.id, 1, source_video_id=m.video.id),  # carried: its artist
            checkout_service.CheckoutItem(skus[0].id, 1, source_video_id=m.video.id),  # not on that video
            checkout_service.CheckoutItem(skus[1].id, 1, source_video_id=other_video.id),  # another video's artist
        ], address=ADDRESS, provider=m.provider, policy=m.policy, links=LINKS,
    )  # fmt: skip
    (order,) = orders_of(m, placed)
    credited = {line.sku_id: (line.artist_id, line.source_kind, line.source_video_id) for line in order.lines}
    assert credited == {
        m.sku.id: (m.artist.id, "video", m.video.id),
        skus[0].id: (None, None, None),
        skus[1].id: (other_artist.id, "video", other_video.id),
    }
    gone = checkout_service.place_order(
        m.session, m.buyer, items=[checkout_service.CheckoutItem(m.sku.id, 1, source_video_id=other_video.id + 1000)],
        address=ADDRESS, provider=m.provider, policy=m.policy, links=LINKS,
    )  # fmt: skip
    (line,) = orders_of(m, gone)[0].lines
    assert (line.artist_id, line.source_kind, line.artist_rate_bp) == (None, None, 0)

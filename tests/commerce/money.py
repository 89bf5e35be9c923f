"""A small market and the steps of the money flow, driven through the real services and the sandbox provider."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from commerce.attribution import service as attribution
from commerce.attribution.links import TargetKind
from commerce.attribution.models import ShareClick
from commerce.catalog.models import Product, Sku
from commerce.ledger import AccountKind, AccountRef, LedgerTransaction, balances, verify
from commerce.orders import checkout as checkout_service
from commerce.orders.models import Checkout, Earning, EarningStatus, Order, OrderStatus
from commerce.owners import Owner
from commerce.payments import service as payments
from commerce.payments.models import Payment
from commerce.payments.provider import WebhookRejected
from commerce.payments.sandbox import SandboxNotification, SandboxProvider, deliver_due
from commerce.policy import MoneyPolicy
from core import clock
from core.accounts.models import Brand, User
from media.models import Video
from tests import factories

SECRET = b"test-sandbox-secret"
LINK_KEYS = [("k1", b"test-link-key")]
NOTIFY_URL = "http://testserver/api/v1/payments/webhooks/sandbox"
ADDRESS = checkout_service.Address(
    name="张三", phone="13800138000", province="上海市", city="上海市", district="徐汇区", detail="漕溪北路 1 号"
)
LINKS = checkout_service.PaymentLinks(notify_url=NOTIFY_URL, return_url="http://testserver/pay/return/{checkout_id}")


def sandbox(session: Session, *, fee_bp: int = 60) -> SandboxProvider:
    return SandboxProvider(session, secrets=[SECRET], base_url="http://testserver", fee_bp=fee_bp)


@dataclass
class Market:
    session: Session
    policy: MoneyPolicy
    provider: SandboxProvider
    owner: User
    brand: Brand
    artist: User
    sharer: User
    upstream: User
    buyer: User
    admin: User
    product: Product
    sku: Sku
    video: Video
    addresses: dict[int, checkout_service.Address] = field(default_factory=dict)

    def user(self, **kw: object) -> User:
        u = factories.user(self.session, **kw)
        u.created_at = clock.now() - dt.timedelta(days=365)  # an established account, not a throwaway
        self.session.commit()
        return u


def make_market(
    session: Session,
    *,
    policy: MoneyPolicy | None = None,
    price: int = 10_000,
    stock: int = 10,
    artist_bp: int = 2000,
    sharer_bp: int = 1000,
    fee_bp: int = 60,
) -> Market:
    old = clock.now() - dt.timedelta(days=365)
    owner = factories.user(session)
    artist = factories.user(session, artist=True)
    sharer, upstream, buyer = factories.user(session), factories.user(session), factories.user(session)
    admin = factories.user(session, admin=True)
    for u in (owner, artist, sharer, upstream, buyer, admin):
        u.created_at = old
    brand = factories.brand(session, owner=owner)
    product = factories.product(session, brand=brand, name="防晒霜", prices=(price,))
    sku = product.skus[0]
    sku.stock = stock
    factories.offer(session, product=product, artist_rate_bp=artist_bp, sharer_rate_bp=sharer_bp)
    video = factories.video(session, uploader=artist, title="夏日防晒")
    factories.video_link(session, video=video, product=product)
    session.commit()
    return Market(
        session=session, policy=policy or MoneyPolicy(), provider=sandbox(session, fee_bp=fee_bp), owner=owner,
        brand=brand, artist=artist, sharer=sharer, upstream=upstream, buyer=buyer, admin=admin, product=product,
        sku=sku, video=video,
    )  # fmt: skip


def share_click(m: Market, sharer: User, *, viewer: User | None = None, device: str | None = None,
                target: TargetKind = TargetKind.VIDEO, target_id: int | None = None) -> ShareClick:  # fmt: skip
    """`sharer` makes a link; `viewer` (or an anonymous device) opens it."""
    link = attribution.create_share_link(
        m.session, sharer, target_kind=target,
        target_id=target_id or (m.video.id if target == TargetKind.VIDEO else m.product.id),
        keys=LINK_KEYS, policy=m.policy, base_url="http://testserver",
    )  # fmt: skip
    click = attribution.record_click(
        m.session, link.token, keys=LINK_KEYS, policy=m.policy, ip_hash="ip", viewer_id=viewer.id if viewer else None,
        device_hash=device,
    )  # fmt: skip
    assert click is not None
    return click


def place(
    m: Market,
    *,
    buyer: User | None = None,
    qty: int = 1,
    sku: Sku | None = None,
    from_video: bool = True,
    showcase_artist: User | None = None,
    click_ids: Sequence[str] = (),
    device: str | None = "buyer-device",
    address: checkout_service.Address = ADDRESS,
    coupons: dict[int, str] | None = None,
    coupon_ids: Sequence[int] = (),
    links: checkout_service.PaymentLinks = LINKS,
) -> Checkout:
    items = [
        checkout_service.CheckoutItem(
            (sku or m.sku).id, qty, source_video_id=m.video.id if from_video else None,
            source_artist_id=showcase_artist.id if showcase_artist else None,
        )
    ]  # fmt: skip
    return checkout_service.place_order(
        m.session, buyer or m.buyer, items=items, address=address, provider=m.provider, policy=m.policy, links=links,
        coupon_codes=coupons, coupon_ids=coupon_ids, click_ids=click_ids, device_hash=device,
    )  # fmt: skip


def deliver(m: Market) -> list[str]:
    """Deliver the sandbox's pending webhooks to the payment service, as its HTTP sender would."""
    outcomes: list[str] = []

    def transport(url: str, headers: dict[str, str], body: bytes) -> int:
        assert url == NOTIFY_URL
        try:
            result = payments.handle_notification(m.session, m.provider, headers, body)
        except WebhookRejected:
            m.session.rollback()
            return 400
        outcomes.append(result.outcome)
        return 422 if result.rejected else 200

    deliver_due(m.session, SECRET, transport)
    return outcomes


def payment_of(m: Market, checkout: Checkout) -> Payment:
    payment = m.session.get(Payment, checkout.payment_id)
    assert payment is not None
    return payment


def pay(m: Market, checkout: Checkout, *, succeed: bool = True) -> list[str]:
    payment = payment_of(m, checkout)
    assert payment.provider_payment_id is not None
    m.provider.complete(payment.provider_payment_id, succeed=succeed)
    m.session.commit()
    return deliver(m)


def orders_of(m: Market, checkout: Checkout) -> list[Order]:
    return list(m.session.scalars(select(Order).where(Order.checkout_id == checkout.id).order_by(Order.id)))


def last_notification(m: Market) -> SandboxNotification:
    note = m.session.scalar(select(SandboxNotification).order_by(SandboxNotification.id.desc()).limit(1))
    assert note is not None
    return note


def ledger_transactions(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(LedgerTransaction)) or 0


def owner_balances(session: Session, owner: Owner) -> dict[AccountKind, int]:
    return balances(session, owner.kind, owner.id)


def escrow(session: Session, order: Order) -> int:
    from commerce.ledger import balance

    return balance(session, AccountRef.escrow(order.id)).balance


def assert_books_balanced(session: Session) -> None:
    check = verify(session)
    assert check.ok, check


def pending_matches_earnings(session: Session) -> None:
    """Every holder's pending balance is exactly what their unsettled earnings still amount to."""
    rows = session.execute(
        select(Earning.owner_kind, Earning.owner_id, func.sum(Earning.amount - Earning.reversed_amount))
        .where(Earning.status.in_([EarningStatus.PENDING, EarningStatus.HELD]))
        .group_by(Earning.owner_kind, Earning.owner_id)
    )
    expected = {(k, i): int(s) for k, i, s in rows}
    from commerce.ledger.models import LedgerAccount

    actual = {
        (k, i): int(b)
        for k, i, b in session.execute(
            select(LedgerAccount.owner_kind, LedgerAccount.owner_id, LedgerAccount.balance).where(
                LedgerAccount.kind == AccountKind.PENDING
            )
        )
    }
    for key in set(expected) | set(actual):
        assert expected.get(key, 0) == actual.get(key, 0), (key, expected.get(key), actual.get(key))


def ship_and_deliver(m: Market, order: Order) -> None:
    from commerce.orders import lifecycle

    lifecycle.ship(m.session, m.owner, order.id, carrier="顺丰", tracking_no="SF1234567")
    lifecycle.confirm_delivery(m.session, m.session.get(User, order.buyer_id), order.id,
                               return_window=m.policy.return_window)  # fmt: skip


def status(m: Market, order: Order) -> OrderStatus:
    m.session.refresh(order)
    return order.status


def fund(session: Session, owner: Owner, amount: int, key: str = "seed") -> None:
    """Settled earnings, as the settlement job leaves them (cash at the provider on the other side)."""
    from commerce.ledger import Leg, post

    legs = [Leg(AccountRef.platform(AccountKind.CLEARING), -amount), Leg(owner.account(AccountKind.AVAILABLE), amount)]
    post(session, key=key, kind="test", legs=legs)
    session.commit()

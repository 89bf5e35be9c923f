"""Demo money flow for `make run`: a shared link, a purchase from the artist's showcase, paid in the sandbox.

Everything goes through the real services: the share link is signed, the click
logged, stock reserved, the sandbox provider takes the payment and the split
lands in the ledger, so the wallets and reports of the demo accounts show money.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.attribution import service as attribution
from commerce.attribution.links import TargetKind
from commerce.catalog.models import Product, ShowcaseItem
from commerce.orders import checkout, lifecycle
from commerce.orders.models import ReviewStatus
from commerce.owners import Owner
from commerce.payments import service as payments
from commerce.payments.provider import PaymentProvider
from commerce.payments.sandbox import SandboxProvider
from commerce.payouts import service as payouts
from commerce.payouts.models import PayoutMethod
from commerce.policy import MoneyPolicy
from core.accounts.models import User
from core.money import format_yuan

DEMO_ADDRESS = checkout.Address(
    name="路人甲", phone="13800138000", province="浙江省", city="杭州市", district="西湖区", detail="文三路 90 号"
)


def seed_demo_money(
    session: Session,
    provider: PaymentProvider,
    *,
    policy: MoneyPolicy,
    keys: Sequence[tuple[str, bytes]],
    links: checkout.PaymentLinks,
    buyer: User,
    sharer: User,
    artist: User,
    brand_owner: User,
) -> list[str]:
    item = session.scalar(
        select(ShowcaseItem).where(ShowcaseItem.artist_id == artist.id).order_by(ShowcaseItem.id).limit(1)
    )
    if item is None:
        return ["demo money flow skipped: the artist's showcase is empty"]
    product = session.get(Product, item.product_id)
    assert product is not None
    link = attribution.create_share_link(
        session, sharer, target_kind=TargetKind.PRODUCT, target_id=product.id, keys=keys, policy=policy,
        base_url=links.notify_url.split("/api/")[0],
    )  # fmt: skip
    click = attribution.record_click(session, link.token, keys=keys, policy=policy, ip_hash="demo", viewer_id=buyer.id)
    placed = checkout.place_order(
        session, buyer, items=[checkout.CheckoutItem(product.active_skus()[0].id, 1, source_artist_id=artist.id)],
        address=DEMO_ADDRESS, provider=provider, policy=policy, links=links,
        click_ids=[click.click_id] if click else [],
    )  # fmt: skip
    assert placed.payment_id is not None
    payment = payments.lock_payment(session, placed.payment_id)
    if isinstance(provider, SandboxProvider):
        provider.complete(payment.provider_payment_id or "", succeed=True)
        session.commit()
    payments.sync_payment(session, provider, placed.payment_id)  # as the return page does
    order = placed.orders[0]
    lifecycle.ship(session, brand_owner, order.id, carrier="顺丰速运", tracking_no="SF1234567890")
    for who, owner in ((artist, Owner.user(artist.id)), (brand_owner, Owner.brand(order.brand_id))):
        payouts.set_payout_account(session, who, owner, method=PayoutMethod.SANDBOX, account_no=f"demo-{owner.id:04d}",
                                   account_name=who.display_name)  # fmt: skip
    lines = [
        f"demo money flow: {sharer.display_name} shared {product.name}; {buyer.display_name} bought it for "
        f"¥{format_yuan(placed.total)} (order {order.id}, paid in the sandbox, shipped); share link {link.url}",
    ]
    held = [line for line in order.lines if line.review_status == ReviewStatus.HELD]
    if held:
        lines.append(
            f"  its commissions are held for review ({', '.join(held[0].hold_reasons)}): the admin decides at "
            f"POST /api/v1/admin/reviews/{held[0].id}"
        )
    return lines

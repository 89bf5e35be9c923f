"""Admin review of suspicious sales: held commissions are released, or forfeited to the brand."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.ledger import AccountKind, Leg, post
from commerce.orders import lifecycle
from commerce.orders.models import Earning, EarningRole, EarningStatus, OrderLine, ReviewStatus
from commerce.owners import Owner
from core.accounts.models import User
from core.accounts.permissions import require_admin
from core.errors import Conflict, NotFound, register_messages

register_messages({"not_held": ("该订单行不在审核中", "This order line is not held for review")})


def held_lines(session: Session, user: User | None, *, limit: int = 100) -> list[OrderLine]:
    require_admin(user)
    return list(
        session.scalars(
            select(OrderLine).where(OrderLine.review_status == ReviewStatus.HELD).order_by(OrderLine.id).limit(limit)
        )
    )


def decide_hold(session: Session, user: User | None, line_id: int, *, approve: bool) -> OrderLine:
    """Approve: the held commissions become pending like any other. Reject: they go to the brand. Commits."""
    require_admin(user)
    line = session.get(OrderLine, line_id)
    if line is None:
        raise NotFound("order line")
    order = lifecycle.lock_order(session, line.order_id)
    session.refresh(line)
    if line.review_status != ReviewStatus.HELD:
        raise Conflict("not_held")
    held = list(
        session.scalars(
            select(Earning)
            .where(Earning.order_line_id == line.id, Earning.status == EarningStatus.HELD)
            .order_by(Earning.id)
            .with_for_update()
        )
    )
    if approve:
        for e in held:
            e.status = EarningStatus.PENDING
        line.review_status = ReviewStatus.APPROVED
        session.commit()
        return line
    brand = Owner.brand(order.brand_id)
    forfeited = sum(e.remaining for e in held)
    legs = [
        Leg(Owner(e.owner_kind, e.owner_id).account(AccountKind.PENDING), -e.remaining) for e in held if e.remaining
    ]
    for e in held:
        e.reversed_amount = e.amount
        e.status = EarningStatus.FORFEITED
    if forfeited:
        legs.append(Leg(brand.account(AccountKind.PENDING), forfeited))
        post(session, key=f"order-line:{line.id}:forfeited", kind="forfeit", legs=legs, order_id=order.id)
        session.add(
            Earning(
                order_id=order.id, order_line_id=line.id, role=EarningRole.BRAND, owner_kind=brand.kind,
                owner_id=brand.id, amount=forfeited, status=EarningStatus.PENDING,
                settle_after=order.return_window_ends_at,
            )
        )  # fmt: skip
    line.review_status = ReviewStatus.REJECTED
    session.commit()
    return line

"""The demo seed runs the money path: a shared link, a paid and shipped order, a balanced ledger."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.ledger import AccountKind, balances, verify
from commerce.ledger.models import OwnerKind
from commerce.orders.models import Order, OrderStatus, ReviewStatus
from core.accounts.models import User


def test_demo_seed_pays_an_order_through_a_share_link(app_ctx: Flask, db_session: Session) -> None:
    from web.demo import seed

    with app_ctx.app_context():
        summary = seed(db_session)
    assert any(line.startswith("demo money flow:") for line in summary), summary
    order = db_session.scalar(select(Order))
    assert order is not None
    assert order.status == OrderStatus.SHIPPED
    (line,) = order.lines
    sharer = db_session.scalar(select(User).where(User.email == "sharer@xinglian.local"))
    assert sharer is not None
    assert line.sharer_id == sharer.id
    assert line.review_status == ReviewStatus.HELD  # the demo buyer's account is brand new
    assert balances(db_session, OwnerKind.USER, sharer.id)[AccountKind.PENDING] > 0
    assert verify(db_session).ok

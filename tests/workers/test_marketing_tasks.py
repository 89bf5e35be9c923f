"""The 拼团 expiry task as Celery runs it (eagerly here): scheduled every 30 s, it refunds an unfilled group's paid
members once, however often it runs."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.marketing import group_buys
from commerce.marketing.models import GroupBuyGroup, GroupStatus
from commerce.orders.models import OrderRefund
from commerce.policy import MoneyPolicy
from core.clock import FrozenClock, use_clock
from tests.commerce.conftest import START, use_policy
from tests.commerce.money import assert_books_balanced, make_market, pay, place
from workers.beat import beat_schedule


def test_the_expiry_task_refunds_an_unfilled_group_once(app_ctx: Flask, db_session: Session) -> None:
    assert beat_schedule()["group-buys-expire"] == {"task": "marketing.group_buys.expire", "schedule": 30.0}
    task = app_ctx.extensions["celery"].tasks["marketing.group_buys.expire"]
    with use_clock(FrozenClock(START)) as clock:
        assert isinstance(clock, FrozenClock)
        use_policy(MoneyPolicy())
        m = make_market(db_session)
        offer = group_buys.create_offer(
            db_session, m.owner, m.brand.id, sku_id=m.sku.id, price_fen=5_000, group_size=2, window_hours=1,
            starts_at=START, ends_at=START + dt.timedelta(days=1),
        )  # fmt: skip
        group_id = group_buys.open_group(db_session, m.buyer, offer.id).group_id
        checkout = place(m)
        assert pay(m, checkout) == ["applied"]
        assert task.apply().get() == 0  # inside the window
        clock.advance(hours=1)
        assert task.apply().get() == 1
        assert task.apply().get() == 0
    group = db_session.get(GroupBuyGroup, group_id)
    assert group is not None
    db_session.refresh(group)
    assert group.status == GroupStatus.FAILED
    (refund,) = db_session.scalars(select(OrderRefund)).all()
    assert (refund.amount, refund.reason) == (5_000, group_buys.REFUND_REASON)
    assert_books_balanced(db_session)

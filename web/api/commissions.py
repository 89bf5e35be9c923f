"""The caller's commissions per order, and each order's attribution receipt."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from commerce.orders import commissions
from commerce.orders.commissions import Commission, CommissionStatus, OrderCommissions, Receipt
from commerce.orders.models import EarningRole, OrderStatus
from core import extensions
from web.api.blueprint import bp
from web.api.catalog import PageQuery
from web.api.endpoint import OutModel, endpoint
from web.auth import current_user

TAGS = ["earnings"]


class CommissionOut(OutModel):
    earning_id: int
    order_line_id: int
    role: EarningRole
    product_name: str
    paid_amount: int = Field(description="fen the buyer paid for the line")
    rate_bp: int = Field(description="the line's rate for this role (upstream sharer: share of the sharer's)")
    amount: int = Field(description="fen this role got from the line's split")
    refunded: int = Field(description="fen taken back by refunds before it settled")
    clawed_back: int = Field(description="fen taken back after it settled (deducted from the next payout)")
    kept: int
    status: CommissionStatus
    hold_reasons: list[str] = Field(description="why it is held for review (status `held`)")
    settle_after: dt.datetime | None = Field(description="when the return window closes (status `pending`)")
    settled_at: dt.datetime | None

    @classmethod
    def of(cls, c: Commission) -> CommissionOut:
        e, line = c.earning, c.line
        return cls(
            earning_id=e.id, order_line_id=line.id, role=e.role, product_name=line.product_name,
            paid_amount=line.paid_amount, rate_bp=c.rate_bp, amount=e.amount, refunded=c.refunded,
            clawed_back=e.clawed_back, kept=c.kept, status=c.status, hold_reasons=list(line.hold_reasons or []),
            settle_after=e.settle_after, settled_at=e.settled_at,
        )  # fmt: skip


class OrderCommissionsOut(OutModel):
    order_id: int
    order_status: OrderStatus
    ordered_at: dt.datetime
    kept: int
    commissions: list[CommissionOut]

    @classmethod
    def of(cls, o: OrderCommissions) -> OrderCommissionsOut:
        return cls(order_id=o.order.id, order_status=o.order.status, ordered_at=o.order.created_at, kept=o.kept,
                   commissions=[CommissionOut.of(c) for c in o.commissions])  # fmt: skip


class CommissionPage(OutModel):
    items: list[OrderCommissionsOut]
    next_cursor: str | None


class ClickOut(OutModel):
    click_id: str
    clicked_at: dt.datetime
    target_kind: str
    target_id: int
    link_issued_at: dt.datetime


class ReceiptLineOut(OutModel):
    commission: CommissionOut
    rule: str = Field(
        description="last_click | binding | video_card | showcase | upstream_sharer | distributor | "
        "distributor_inviter | support_agent"
    )
    click: ClickOut | None
    video_id: int | None
    video_title: str | None
    bound_until: dt.datetime | None


class PostingOut(OutModel):
    at: dt.datetime
    kind: str
    account: str
    amount: int = Field(description="fen added to your account (negative: taken from it)")


class ReceiptOut(OutModel):
    order_id: int
    ordered_at: dt.datetime
    attribution_window_days: int
    lines: list[ReceiptLineOut]
    postings: list[PostingOut]
    earned: int
    kept: int = Field(description="what you keep: the postings' sum")

    @classmethod
    def of(cls, r: Receipt) -> ReceiptOut:
        return cls(
            order_id=r.order.id, ordered_at=r.order.created_at, attribution_window_days=r.attribution_window.days,
            lines=[
                ReceiptLineOut(
                    commission=CommissionOut.of(x.commission), rule=x.source.rule,
                    click=ClickOut.model_validate(x.source.click) if x.source.click else None,
                    video_id=x.source.video_id, video_title=x.source.video_title, bound_until=x.source.bound_until,
                )
                for x in r.lines
            ],
            postings=[PostingOut(at=p.at, kind=p.kind, account=p.account.value, amount=p.amount) for p in r.postings],
            earned=r.earned, kept=r.posted,
        )  # fmt: skip


@bp.get("/me/commissions")
@endpoint(summary="Your commissions per order, newest first, with where each stands", tags=TAGS, query=PageQuery,
          response=CommissionPage, auth="required", errors=[400])  # fmt: skip
def list_commissions(query: PageQuery) -> CommissionPage:
    rows, cursor = commissions.list_commissions(extensions.session(), current_user(), cursor=query.cursor,
                                                limit=query.limit)  # fmt: skip
    return CommissionPage(items=[OrderCommissionsOut.of(o) for o in rows], next_cursor=cursor)


@bp.get("/me/commissions/<int:order_id>")
@endpoint(summary="The attribution receipt of your commissions on one order", tags=TAGS, response=ReceiptOut,
          auth="required", errors=[404])  # fmt: skip
def commission_receipt(order_id: int) -> ReceiptOut:
    """The click (or binding, video, showcase) that credited you, the rule and rate applied, and every ledger
    posting of the order on your accounts; the postings add up to `kept`."""
    found = commissions.receipt(extensions.session(), current_user(), order_id,
                                policy=extensions.extension("money_policy"))  # fmt: skip
    return ReceiptOut.of(found)

"""Disputes after the return window or a refused refund, chargebacks, and the admin's refund of last resort."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from commerce.orders import disputes, refunds
from commerce.orders.models import Dispute, DisputeSource, DisputeState, OrderRefund
from core import extensions
from web.api.blueprint import bp
from web.api.catalog import PageQuery
from web.api.endpoint import ApiModel, OutModel, endpoint
from web.api.orders import DecisionIn, RefundIn, RefundOut, _notify_url, _provider
from web.auth import current_user

TAGS = ["orders"]


class DisputeIn(ApiModel):
    reason: str = Field(min_length=1, max_length=200, description="what went wrong, in the buyer's words")
    amount: int | None = Field(default=None, gt=0, description="fen claimed; default: all not yet refunded")


class DisputeOut(OutModel):
    id: int
    order_id: int
    source: DisputeSource = Field(description="`buyer`, or `provider` for a chargeback")
    state: DisputeState
    amount: int
    reason: str
    decision_note: str | None
    refund_id: int | None = Field(description="the refund an approved dispute made")
    created_at: dt.datetime
    decided_at: dt.datetime | None


class DisputePage(OutModel):
    items: list[DisputeOut]
    next_cursor: str | None


class BrandDisputesQuery(PageQuery):
    state: DisputeState | None = Field(default=None, description="`open`: the disputes waiting for the brand")


@bp.post("/orders/<int:order_id>/disputes")
@endpoint(summary="Dispute a paid order once a refund request cannot help (buyer)", tags=TAGS, body=DisputeIn,
          response=DisputeOut, status=201, auth="required", idempotent=True, errors=[404, 409, 422])  # fmt: skip
def open_dispute(order_id: int, body: DisputeIn) -> tuple[Dispute, int]:
    return disputes.open_dispute(extensions.session(), current_user(), order_id, reason=body.reason,
                                 amount=body.amount), 201  # fmt: skip


@bp.get("/orders/<int:order_id>/disputes")
@endpoint(summary="Disputes of an order", tags=TAGS, response=list[DisputeOut], auth="required", errors=[404])
def list_disputes(order_id: int) -> list[DisputeOut]:
    rows = disputes.list_for_order(extensions.session(), current_user(), order_id)
    return [DisputeOut.model_validate(d) for d in rows]


@bp.post("/disputes/<int:dispute_id>/escalate")
@endpoint(summary="Ask the platform to decide a dispute the brand turned down (buyer)", tags=TAGS,
          response=DisputeOut, auth="required", idempotent=True, errors=[404, 409])  # fmt: skip
def escalate_dispute(dispute_id: int) -> Dispute:
    return disputes.escalate(extensions.session(), current_user(), dispute_id)


def _decide(dispute_id: int, approve: bool, note: str) -> Dispute:
    return disputes.decide(extensions.session(), current_user(), dispute_id, approve=approve, note=note,
                           provider=_provider(), notify_url=_notify_url())  # fmt: skip


@bp.post("/disputes/<int:dispute_id>/approve")
@endpoint(summary="Approve a dispute (brand; admin once escalated): refunds it and claws back settled shares; "
          "for a chargeback, concedes it", tags=TAGS, body=DecisionIn, response=DisputeOut, auth="required",
          idempotent=True, errors=[403, 404, 409])  # fmt: skip
def approve_dispute(dispute_id: int, body: DecisionIn) -> Dispute:
    return _decide(dispute_id, True, body.note)


@bp.post("/disputes/<int:dispute_id>/reject")
@endpoint(summary="Turn a dispute down (brand; admin once escalated); for a chargeback, contests it", tags=TAGS,
          body=DecisionIn, response=DisputeOut, auth="required", idempotent=True, errors=[403, 404, 409])  # fmt: skip
def reject_dispute(dispute_id: int, body: DecisionIn) -> Dispute:
    return _decide(dispute_id, False, body.note)


@bp.get("/brands/<int:brand_id>/disputes")
@endpoint(summary="Disputes of the brand's orders, newest first (members only)", tags=["brands"],
          query=BrandDisputesQuery, response=DisputePage, auth="required", errors=[403])  # fmt: skip
def list_brand_disputes(brand_id: int, query: BrandDisputesQuery) -> DisputePage:
    rows, cursor = disputes.list_for_brand(extensions.session(), current_user(), brand_id, state=query.state,
                                           cursor=query.cursor, limit=query.limit)  # fmt: skip
    return DisputePage(items=[DisputeOut.model_validate(d) for d in rows], next_cursor=cursor)


@bp.get("/admin/disputes")
@endpoint(summary="Disputes buyers took to the platform (admin)", tags=["admin"], response=list[DisputeOut],
          auth="required", errors=[403])  # fmt: skip
def escalated_disputes() -> list[DisputeOut]:
    return [DisputeOut.model_validate(d) for d in disputes.list_escalated(extensions.session(), current_user())]


@bp.post("/admin/orders/<int:order_id>/refund")
@endpoint(summary="Refund any paid order at once, clawing back settled shares (admin: a case decided elsewhere)",
          tags=["admin"], body=RefundIn, response=RefundOut, status=201, auth="required", idempotent=True,
          errors=[403, 404, 409, 422])  # fmt: skip
def force_refund(order_id: int, body: RefundIn) -> tuple[OrderRefund, int]:
    items = [refunds.RefundItem(x.order_line_id, x.quantity, x.amount) for x in body.lines]
    return refunds.force_refund(extensions.session(), current_user(), order_id, items=items, reason=body.reason,
                                provider=_provider(), notify_url=_notify_url()), 201  # fmt: skip

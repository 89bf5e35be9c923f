"""The caller's (or their brand's) balances, payout account and withdrawals."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from commerce.ledger import AccountKind, balances
from commerce.owners import Owner, require_owner
from commerce.payouts import service as payouts
from commerce.payouts.models import Payout, PayoutMethod, PayoutStatus
from core import extensions
from web.api.blueprint import bp
from web.api.endpoint import ApiModel, OutModel, QueryModel, endpoint
from web.auth import current_user, require_current_user
from web.ratelimit import rate_limited

TAGS = ["wallet"]


class OwnerQuery(QueryModel):
    brand_id: int | None = Field(default=None, ge=1, description="act for this brand instead of yourself")


class WalletOut(OutModel):
    owner: str
    pending: int = Field(description="earned, inside the return window (fen)")
    available: int = Field(description="settled and withdrawable (fen)")
    clawback_owed: int = Field(description="owed back for refunds after settlement; the next payout deducts it")
    in_flight: int = Field(description="withdrawals requested and not yet paid")
    paid_out: int = Field(description="transferred to the payout account so far")
    payout_account: str | None


class PayoutAccountIn(ApiModel):
    brand_id: int | None = Field(default=None, ge=1)
    method: Literal["sandbox", "alipay", "bank"]
    account_no: str = Field(min_length=4, max_length=64)
    account_name: str = Field(min_length=1, max_length=64)


class PayoutIn(ApiModel):
    brand_id: int | None = Field(default=None, ge=1)
    amount: int = Field(gt=0, description="fen taken from available; clawbacks owed are deducted from it")


class PayoutOut(OutModel):
    id: int
    amount: int
    clawback_deducted: int
    net_amount: int
    status: PayoutStatus
    account_masked: str
    failure_reason: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None


def _owner(brand_id: int | None) -> Owner:
    return Owner.brand(brand_id) if brand_id is not None else Owner.user(require_current_user().id)


@bp.get("/wallet")
@endpoint(summary="Balances of the caller or one of their brands", tags=TAGS, query=OwnerQuery, response=WalletOut,
          auth="required", errors=[403])  # fmt: skip
def wallet(query: OwnerQuery) -> WalletOut:
    session = extensions.session()
    owner = _owner(query.brand_id)
    require_owner(session, current_user(), owner)
    b = balances(session, owner.kind, owner.id)
    history = payouts.list_payouts(session, current_user(), owner, limit=1000)
    account = payouts.payout_account(session, owner)
    return WalletOut(
        owner=f"{owner.kind.value}:{owner.id}",
        pending=b[AccountKind.PENDING],
        available=b[AccountKind.AVAILABLE],
        clawback_owed=max(0, -b[AccountKind.CLAWBACK]),
        in_flight=sum(p.net_amount for p in history if p.status == PayoutStatus.REQUESTED),
        paid_out=sum(p.net_amount for p in history if p.status == PayoutStatus.PAID),
        payout_account=account.masked if account else None,
    )


@bp.put("/wallet/payout-account")
@endpoint(summary="Set where withdrawals are paid", tags=TAGS, body=PayoutAccountIn, status=204, auth="required",
          errors=[403, 422])  # fmt: skip
def set_payout_account(body: PayoutAccountIn) -> tuple[None, int]:
    payouts.set_payout_account(
        extensions.session(), current_user(), _owner(body.brand_id), method=PayoutMethod(body.method),
        account_no=body.account_no, account_name=body.account_name,
    )  # fmt: skip
    return None, 204


@bp.post("/wallet/payouts")
@rate_limited("withdrawals")
@endpoint(summary="Withdraw available balance (one withdrawal in flight at a time)", tags=TAGS, body=PayoutIn,
          response=PayoutOut, status=201, auth="required", idempotent=True, errors=[403, 409, 422])  # fmt: skip
def request_payout(body: PayoutIn) -> Payout:
    return payouts.request_payout(
        extensions.session(), current_user(), _owner(body.brand_id), amount=body.amount,
        policy=extensions.extension("money_policy"),
    )  # fmt: skip


@bp.get("/wallet/payouts")
@endpoint(summary="Withdrawals, newest first", tags=TAGS, query=OwnerQuery, response=list[PayoutOut],
          auth="required", errors=[403])  # fmt: skip
def list_payouts(query: OwnerQuery) -> list[PayoutOut]:
    rows = payouts.list_payouts(extensions.session(), current_user(), _owner(query.brand_id))
    return [PayoutOut.model_validate(p) for p in rows]

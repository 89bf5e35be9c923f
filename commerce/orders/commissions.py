"""Earnings people can trust: every commission a user earns, per order, where it stands and why, and its receipt.

A commission is an `Earning` of the artist, sharer or upstream sharer role. Where
it stands is read from the row: held for review (and the rules that held it),
pending until the return window closes (and when that is), settled, clawed back
(refunded after it settled: the user owes it back), cancelled by a refund before
settling, or forfeited to the brand by review.

The receipt shows how the money came to be: the click (or the binding, or the
video or showcase the purchase started from), the rule and rate that applied to
the line, the split that gave this amount, and every ledger posting of that
order on the user's own accounts; those postings add up to what the user keeps.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from commerce.attribution.models import CustomerBinding, ShareClick
from commerce.ledger.models import AccountKind, LedgerAccount, LedgerPosting, LedgerTransaction, OwnerKind
from commerce.orders.models import Earning, EarningRole, EarningStatus, Order, OrderLine
from commerce.policy import MoneyPolicy
from core.accounts.models import User
from core.accounts.permissions import require_user
from core.errors import NotFound
from core.pagination import keyset_page
from media.models import Video

COMMISSION_ROLES = (EarningRole.ARTIST, EarningRole.SHARER, EarningRole.SHARER_L2, EarningRole.AGENT)


class CommissionStatus(enum.StrEnum):
    HELD = "held"  # a sale under review: an admin decides
    PENDING = "pending"  # waiting for the return window to close
    SETTLED = "settled"  # in the available balance
    CLAWED_BACK = "clawed_back"  # refunded after it settled: taken from available, or owed and repaid later
    REFUNDED = "refunded"  # cancelled by a refund before it settled
    FORFEITED = "forfeited"  # review rejected the sale: the brand kept it


def status_of(e: Earning) -> CommissionStatus:
    if e.status == EarningStatus.FORFEITED:
        return CommissionStatus.FORFEITED
    if e.clawed_back:
        return CommissionStatus.CLAWED_BACK
    if e.remaining == 0:
        return CommissionStatus.REFUNDED  # nothing left to review or settle
    if e.status == EarningStatus.HELD:
        return CommissionStatus.HELD
    if e.status == EarningStatus.SETTLED:
        return CommissionStatus.SETTLED
    return CommissionStatus.PENDING


@dataclass(frozen=True)
class Commission:
    earning: Earning
    line: OrderLine
    status: CommissionStatus

    @property
    def rate_bp(self) -> int:
        """The rate of the line this commission comes from (for an upstream sharer: their share of the sharer's)."""
        if self.earning.role == EarningRole.ARTIST:
            return self.line.artist_rate_bp
        if self.earning.role == EarningRole.SHARER:
            return self.line.sharer_rate_bp
        if self.earning.role == EarningRole.AGENT:
            return self.line.agent_fee_bp
        return self.line.level2_share_bp

    @property
    def refunded(self) -> int:
        """Taken back by refunds before settling (what was taken after settling is `earning.clawed_back`)."""
        if self.status == CommissionStatus.FORFEITED:
            return 0
        return self.earning.reversed_amount - self.earning.clawed_back

    @property
    def kept(self) -> int:
        return self.earning.remaining


@dataclass(frozen=True)
class OrderCommissions:
    order: Order
    commissions: list[Commission]

    @property
    def kept(self) -> int:
        return sum(c.kept for c in self.commissions)


def _mine(user_id: int) -> list[object]:
    return [Earning.owner_kind == OwnerKind.USER, Earning.owner_id == user_id, Earning.role.in_(COMMISSION_ROLES)]


def _group(session: Session, user_id: int, orders: list[Order]) -> list[OrderCommissions]:
    if not orders:
        return []
    rows = session.scalars(
        select(Earning).where(*_mine(user_id), Earning.order_id.in_([o.id for o in orders])).order_by(Earning.id)
    )
    by_order: dict[int, list[Earning]] = defaultdict(list)
    for e in rows:
        by_order[e.order_id].append(e)
    out = []
    for order in orders:
        lines = {line.id: line for line in order.lines}
        commissions = [Commission(e, lines[e.order_line_id], status_of(e)) for e in by_order[order.id]]
        out.append(OrderCommissions(order, commissions))
    return out


def list_commissions(
    session: Session, user: User | None, *, cursor: str | None = None, limit: int = 20
) -> tuple[list[OrderCommissions], str | None]:
    """The caller's commissions, per order, newest order first."""
    user = require_user(user)
    earned = exists().where(Earning.order_id == Order.id, *_mine(user.id))
    orders, next_cursor = keyset_page(
        session, select(Order).where(earned), [(Order.id, True)], lambda o: [o.id], cursor=cursor, limit=limit
    )
    return _group(session, user.id, orders), next_cursor


# -- the receipt ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Click:
    click_id: str
    clicked_at: dt.datetime
    target_kind: str  # video | product
    target_id: int
    link_issued_at: dt.datetime


@dataclass(frozen=True)
class Source:
    """Why this user is credited on the line."""

    # last_click | binding | video_card | showcase | upstream_sharer | distributor | distributor_inviter | support_agent
    rule: str
    click: Click | None  # the share click behind it (a binding keeps the click that made it)
    video_id: int | None = None
    video_title: str | None = None
    bound_until: dt.datetime | None = None


@dataclass(frozen=True)
class Posting:
    at: dt.datetime
    kind: str  # split | settlement | refund | forfeit ...
    account: AccountKind
    amount: int  # fen added to the user's account (negative: taken from it)


@dataclass(frozen=True)
class ReceiptLine:
    commission: Commission
    source: Source


@dataclass(frozen=True)
class Receipt:
    order: Order
    lines: list[ReceiptLine]
    postings: list[Posting]
    attribution_window: dt.timedelta
    return_window: dt.timedelta

    @property
    def earned(self) -> int:
        return sum(r.commission.earning.amount for r in self.lines)

    @property
    def kept(self) -> int:
        return sum(r.commission.kept for r in self.lines)

    @property
    def posted(self) -> int:
        """What the ledger gave the user on this order, all accounts together: always `kept`."""
        return sum(p.amount for p in self.postings)


def _click(session: Session, click_id: str | None) -> Click | None:
    if click_id is None:
        return None
    c = session.scalar(select(ShareClick).where(ShareClick.click_id == click_id))
    if c is None:
        return None
    return Click(c.click_id, c.clicked_at, c.target_kind.value, c.target_id, c.issued_at)


_AGENT_SOURCE = Source("support_agent", None)  # a customer-service agent's fee (commerce.support): no click


def _source(session: Session, order: Order, c: Commission) -> Source:
    line = c.line
    if c.earning.role == EarningRole.ARTIST:
        if line.source_kind == "video" and line.source_video_id is not None:
            video = session.get(Video, line.source_video_id)
            return Source("video_card", None, line.source_video_id, video.title if video else None)
        return Source("showcase", None)
    click = _click(session, line.click_id)
    if line.sharer_via == "distribution":  # a brand's distributor programme (commerce.distribution)
        return Source("distributor" if c.earning.role == EarningRole.SHARER else "distributor_inviter", click)
    if c.earning.role == EarningRole.SHARER_L2:
        return Source("upstream_sharer", click)
    if line.sharer_via == "binding":
        bound_until = session.scalar(
            select(CustomerBinding.expires_at)
            .where(CustomerBinding.buyer_id == order.buyer_id, CustomerBinding.sharer_id == c.earning.owner_id,
                   CustomerBinding.bound_at <= order.created_at)
            .order_by(CustomerBinding.bound_at.desc())
            .limit(1)
        )  # fmt: skip
        return Source("binding", click, bound_until=bound_until)
    return Source("last_click", click)


def _postings(session: Session, user_id: int, order_id: int) -> list[Posting]:
    rows = session.execute(
        select(LedgerTransaction.created_at, LedgerTransaction.kind, LedgerAccount.kind, LedgerPosting.amount)
        .join(LedgerPosting, LedgerPosting.transaction_id == LedgerTransaction.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
        .where(LedgerTransaction.order_id == order_id, LedgerAccount.owner_kind == OwnerKind.USER,
               LedgerAccount.owner_id == user_id)
        .order_by(LedgerTransaction.id, LedgerPosting.id)
    )  # fmt: skip
    return [Posting(at, kind, AccountKind(account), int(amount)) for at, kind, account, amount in rows]


def receipt(session: Session, user: User | None, order_id: int, *, policy: MoneyPolicy) -> Receipt:
    """How the caller's commissions on one order came to be; someone without one there is told it does not exist."""
    user = require_user(user)
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound("commission")
    (mine,) = _group(session, user.id, [order])
    if not mine.commissions:
        raise NotFound("commission")
    return Receipt(
        order=order,
        lines=[
            ReceiptLine(c, _AGENT_SOURCE if c.earning.role == EarningRole.AGENT else _source(session, order, c))
            for c in mine.commissions
        ],
        postings=_postings(session, user.id, order.id),
        attribution_window=policy.attribution_window,
        return_window=policy.return_window,
    )

"""Customer binding (锁客): the first distributor who brings a customer to a brand keeps them for a while.

A customer arrives through a distributor's micro-shop or one of their share links; if nobody of the brand holds
them, that distributor binds them for the programme's `binding_days`. Nobody binds themselves. While the
binding lasts, the customer's purchases of that brand credit the distributor (level 1) and, when the programme
has a level-2 share, the distributor who invited them (level 2) — never anyone further up. A distributor's own
purchases of the brand credit nobody. The rates and the credit go onto the order line at checkout; the split
(`commerce.orders.split`) alone turns them into money.

A binding lapses after its days; the customer is then free, and the next distributor to bring them binds them.
When the programme renews on purchase (the default, as 有赞 does), each paid order that credits the bound
distributor starts the days again from the payment, so a customer who keeps buying stays with who brought them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, exists, select, text
from sqlalchemy.orm import Session

from commerce.attribution.service import SharerCredit
from commerce.distribution.models import Binding, Distributor, DistributorStatus, ProductRate, Programme
from core.db import is_postgres

VIA = "distribution"  # an order line's `sharer_via` when a distributor is credited


def _binding(session: Session, brand_id: int, customer_id: int, now: dt.datetime) -> Binding | None:
    return session.scalar(
        select(Binding)
        .where(Binding.brand_id == brand_id, Binding.customer_id == customer_id, Binding.expires_at > now)
        .order_by(Binding.expires_at.desc(), Binding.id.desc())
        .limit(1)
    )


def bound_distributor(session: Session, brand_id: int, customer_id: int, now: dt.datetime) -> Distributor | None:
    """The approved distributor this customer is bound to at `now` for this brand (e.g. to route their chat)."""
    b = _binding(session, brand_id, customer_id, now)
    if b is None:
        return None
    d = session.get(Distributor, b.distributor_id)
    return d if d is not None and d.status == DistributorStatus.APPROVED else None


def bring(session: Session, distributor: Distributor, customer_id: int, *, via: str, now: dt.datetime) -> bool:
    """`distributor` brought `customer_id` to their brand: bind them unless an approved distributor holds them
    already, the customer is the distributor, or is a distributor of the brand themselves. No commit. True when
    bound now."""
    if distributor.status != DistributorStatus.APPROVED or customer_id == distributor.user_id:
        return False
    programme = session.scalar(select(Programme).where(Programme.brand_id == distributor.brand_id))
    if programme is None or not programme.is_open:
        return False
    if _is_distributor(session, distributor.brand_id, customer_id):
        return False
    _lock_customer(session, distributor.brand_id, customer_id)
    held = _binding(session, distributor.brand_id, customer_id, now)
    if held is not None:
        holder = session.get(Distributor, held.distributor_id)
        if holder is not None and holder.status == DistributorStatus.APPROVED:
            return False
        held.expires_at = now  # a suspended distributor holds nobody: their binding ends as another brings them
    session.add(Binding(brand_id=distributor.brand_id, customer_id=customer_id, distributor_id=distributor.id, via=via,
                        bound_at=now, expires_at=now + dt.timedelta(days=programme.binding_days)))  # fmt: skip
    session.flush()
    return True


def _lock_customer(session: Session, brand_id: int, customer_id: int) -> None:
    """Serialise the binding of one customer to one brand until this transaction ends: two distributors' links
    followed at the same instant must not both find the customer free. (SQLite serialises writers anyway.)"""
    if is_postgres(session):
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
            {"k": f"distribution-binding:{brand_id}:{customer_id}"},
        )


def renew_on_payment(session: Session, brand_id: int, customer_id: int, lines: Sequence[Any],
                     paid_at: dt.datetime) -> None:  # fmt: skip
    """A customer paid an order of the brand: if its lines credit the distributor they are bound to, the binding
    starts its days again from the payment, when the programme renews on purchase (the default). A binding that
    lapsed before the payment is not revived. No commit."""
    credited = {ln.sharer_id for ln in lines if ln.sharer_via == VIA and ln.sharer_id is not None
                and ln.sharer_blocked is None}  # fmt: skip
    if not credited:
        return
    programme = session.scalar(select(Programme).where(Programme.brand_id == brand_id))
    if programme is None or not programme.renew_on_purchase:
        return
    b = _binding(session, brand_id, customer_id, paid_at)
    d = session.get(Distributor, b.distributor_id) if b is not None else None
    if b is not None and d is not None and d.user_id in credited:
        b.expires_at = max(b.expires_at, paid_at + dt.timedelta(days=programme.binding_days))


def bring_by_user(session: Session, brand_id: int, sharer_id: int, customer_id: int, *, via: str,
                  now: dt.datetime) -> bool:  # fmt: skip
    """As `bring`, for a sharer who may or may not be a distributor of the brand."""
    d = _distributor(session, brand_id, sharer_id)
    return d is not None and bring(session, d, customer_id, via=via, now=now)


def _distributor(session: Session, brand_id: int, user_id: int) -> Distributor | None:
    return session.scalar(select(Distributor).where(Distributor.brand_id == brand_id, Distributor.user_id == user_id))


def _is_distributor(session: Session, brand_id: int, user_id: int) -> bool:
    return _distributor(session, brand_id, user_id) is not None


@dataclass(frozen=True)
class LineTerms:
    """What a brand's programme decides for one order line: who is credited (None: nobody) and at what rates."""

    credit: SharerCredit | None
    rate_bp: int
    level2_share_bp: int


@dataclass(frozen=True)
class Line:
    key: int
    brand_id: int
    product_id: int
    credit: SharerCredit | None  # what attribution credits without the programme (a binding or a click)


def open_programme(brand_id: ColumnElement[int]) -> ColumnElement[bool]:
    """Whether that brand runs an open programme (a column of the checkout's load: only such lines are asked about
    in `checkout_terms`, so a checkout of brands without one asks nothing more)."""
    return exists().where(Programme.brand_id == brand_id, Programme.is_open.is_(True))


def checkout_terms(session: Session, buyer_id: int, lines: Sequence[Line], now: dt.datetime) -> dict[int, LineTerms]:
    """For lines of brands with an open programme: the distributor credited (bound, or bound now because the
    line's click is theirs) and the programme's rates. Lines absent from the answer keep the affiliate rules.
    A buyer who is a distributor of the brand credits nobody."""
    out: dict[int, LineTerms] = {}
    by_brand: dict[int, tuple[Programme, dict[int, int]] | None] = {}
    for line in lines:
        if line.brand_id not in by_brand:
            programme = session.scalar(select(Programme).where(Programme.brand_id == line.brand_id))
            by_brand[line.brand_id] = None
            if programme is not None and programme.is_open:
                rates = {int(p): int(r) for p, r in session.execute(
                    select(ProductRate.product_id, ProductRate.rate_bp).where(ProductRate.programme_id == programme.id)
                )}  # fmt: skip
                by_brand[line.brand_id] = (programme, rates)
        found = by_brand[line.brand_id]
        if found is None:
            continue
        programme, rates = found
        if _is_distributor(session, line.brand_id, buyer_id):
            out[line.key] = LineTerms(None, 0, 0)  # their own purchase: no commission, no rebate upward
            continue
        distributor = bound_distributor(session, line.brand_id, buyer_id, now)
        if (
            distributor is None
            and line.credit is not None
            and bring_by_user(session, line.brand_id, line.credit.sharer_id, buyer_id, via="link", now=now)
        ):
            distributor = bound_distributor(session, line.brand_id, buyer_id, now)
        if distributor is None:
            continue
        upline = session.get(Distributor, distributor.inviter_id) if distributor.inviter_id else None
        parent = None
        if programme.level2_share_bp and upline is not None and upline.status == DistributorStatus.APPROVED:
            parent = upline.user_id if upline.user_id != buyer_id else None
        credit = SharerCredit(distributor.user_id, parent, None, None, VIA)
        out[line.key] = LineTerms(credit, rates.get(line.product_id, programme.default_rate_bp),
                                  programme.level2_share_bp if parent is not None else 0)  # fmt: skip
    return out

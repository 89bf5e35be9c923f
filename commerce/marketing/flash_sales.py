"""秒杀 flash sales: a brand sets units of one SKU aside at a price; buyers are admitted through a gate.

- **Schedule.** A brand member names the SKU, price, quantity, window, per-user limit and pay window; the
  quantity leaves the SKU's stock at once (a conditional decrement, like checkout's), so ordinary checkouts
  can never sell the sale's units.
- **Admit.** The gate (`gates.StockGate`) decides in O(1) without the order tables: a winner gets an admission
  row with a pay deadline; a loser is told "sold out" at once; nobody is admitted twice for one sale.
- **Checkout.** Checkout asks `lines_for` which of a buyer's lines are admitted: those are priced at the sale
  price, take no SKU stock (the sale holds it), and claim their admission for the order; the order's
  reservation ends at the admission's pay deadline.
- **Close.** Once the sale and its last pay window are over, the units nobody took go back to the SKU's stock
  (`close_ended`, the same beat job), and so do units returned after that.
- **Expire / return.** An admission that never checked out, or whose order was cancelled unpaid
  (`release_for_order`, called by the order lifecycle), returns its units to the gate's pool from the
  `flash_sales.expire` beat job: exactly once, by a conditional update of its row. A refund returns nothing to the
  sale (it is over); the units go back to the SKU as any refund before shipping does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, case, exists, func, or_, select, update
from sqlalchemy.orm import Session

from commerce.catalog.models import Product, ProductStatus, Sku, VideoProduct
from commerce.marketing import campaign_stats, terms
from commerce.marketing.gates import GateOutcome, StockGate
from commerce.marketing.models import AdmissionStatus, FlashAdmission, FlashSale
from commerce.orders.models import Order, OrderLine
from core import clock
from core.accounts.models import User
from core.accounts.permissions import require_brand_member, require_user
from core.db import UTCDateTime, adopt
from core.errors import Conflict, FieldError, NotFound, ValidationFailed, register_field_labels, register_messages

register_messages(
    {
        "sold_out": ("已抢光", "Sold out"),
        "already_admitted": ("您已参与过本场秒杀，每人限抢一次", "You have already taken part in this flash sale"),
        "not_started": (
            "秒杀尚未开始，请于 {starts_at} 再来",
            "The flash sale has not started; it opens at {starts_at}",
        ),
        "sale_ended": ("本场秒杀已结束", "This flash sale has ended"),
        "flash_sale_limit": ("每人限购 {limit} 件", "At most {limit} per buyer"),
        "flash_sale_quantity": (
            "秒杀商品须按抢到的数量（{quantity} 件）下单",
            "Check out the flash-sale item in the quantity you were admitted for ({quantity})",
        ),
        "flash_sale_expired": ("秒杀资格已过期", "Your flash-sale place has expired"),
        "flash_price_too_high": ("秒杀价须低于商品原价", "The flash-sale price must be below the SKU's price"),
    }
)

register_field_labels(
    {
        "starts_at": ("开始时间", "The start time"),
        "ends_at": ("结束时间", "The end time"),
        "pay_window_seconds": ("支付时限", "The time to pay"),
    }
)

MIN_PAY_WINDOW = dt.timedelta(minutes=1)
MAX_PAY_WINDOW = dt.timedelta(hours=1)
MAX_DURATION = dt.timedelta(days=7)


def schedule(
    session: Session,
    user: User | None,
    brand_id: int,
    *,
    sku_id: int,
    price_fen: int,
    quantity: int,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    per_user_limit: int = 1,
    pay_window: dt.timedelta = dt.timedelta(minutes=5),
) -> FlashSale:
    """Set `quantity` units of the brand's SKU aside for a sale. Commits."""
    member = require_brand_member(session, user, brand_id)
    now = clock.now()
    sku, errors = terms.sku_terms(
        session,
        brand_id,
        sku_id,
        price_fen=price_fen,
        starts_at=starts_at,
        ends_at=ends_at,
        max_duration=MAX_DURATION,
        too_high="flash_price_too_high",
    )
    if quantity < 1:
        errors.append(FieldError("quantity", "greater_than_equal"))
    if not 1 <= per_user_limit <= max(quantity, 1):
        errors.append(FieldError("per_user_limit", "greater_than_equal" if per_user_limit < 1 else "less_than_equal"))
    if not MIN_PAY_WINDOW <= pay_window <= MAX_PAY_WINDOW:
        errors.append(FieldError("pay_window_seconds", "greater_than_equal" if pay_window < MIN_PAY_WINDOW
                                 else "less_than_equal"))  # fmt: skip
    if errors:
        raise ValidationFailed(fields=errors)
    try:
        taken = session.execute(
            update(Sku)
            .where(Sku.id == sku_id, Sku.stock >= quantity)
            .values(stock=Sku.stock - quantity, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict("out_of_stock", fields=[FieldError("quantity", "out_of_stock")])
        sale = FlashSale(
            brand_id=brand_id, product_id=sku.product_id, sku_id=sku_id, price_fen=price_fen, quantity=quantity,
            remaining=quantity, per_user_limit=per_user_limit, starts_at=starts_at, ends_at=ends_at,
            pay_window_seconds=int(pay_window.total_seconds()), created_by=member.user_id, created_at=now,
        )  # fmt: skip
        session.add(sale)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return sale


def get_sale(session: Session, sale_id: int) -> FlashSale:
    return terms.one(session, FlashSale, sale_id, "flash_sale")


def list_sales(session: Session, user: User | None, brand_id: int) -> list[FlashSale]:
    return terms.of_brand(session, user, FlashSale, brand_id)


# The terms of a sale an admission reads: a row, not the ORM object (the stampede's one read; a miss is 404).
_TERMS = select(
    FlashSale.id, FlashSale.sku_id, FlashSale.price_fen, FlashSale.quantity, FlashSale.per_user_limit,
    FlashSale.starts_at, FlashSale.ends_at, FlashSale.pay_window_seconds,
).where(FlashSale.id == bindparam("sale"))  # fmt: skip


def admit(session: Session, gate: StockGate, user: User | None, sale_id: int, *, quantity: int = 1) -> FlashAdmission:
    """Ask the gate for `quantity` units of the sale. Commits an admission; refusals are `Conflict`s (409):
    not_started, sale_ended, sold_out, already_admitted."""
    user = require_user(user)
    sale = session.execute(_TERMS, {"sale": sale_id}).first()
    if sale is None:
        raise NotFound("flash_sale")
    now = clock.now()
    if now < sale.starts_at:
        session.rollback()
        raise Conflict("not_started", starts_at=sale.starts_at.isoformat())
    if now >= sale.ends_at:
        session.rollback()
        raise Conflict("sale_ended")
    if not 1 <= quantity <= sale.per_user_limit:
        session.rollback()
        raise ValidationFailed.one("quantity", "flash_sale_limit", limit=sale.per_user_limit)
    row = {
        "sale_id": sale.id, "user_id": user.id, "sku_id": sale.sku_id, "quantity": quantity,
        "price_fen": sale.price_fen, "status": AdmissionStatus.ADMITTED,
        "pay_deadline": now + dt.timedelta(seconds=sale.pay_window_seconds), "admitted_at": now,
    }  # fmt: skip
    outcome: GateOutcome | None = None
    try:
        outcome, admission_id = gate.admit(session, sale, row)
        if outcome is GateOutcome.ADMITTED:
            assert admission_id is not None
            admission = adopt(session, FlashAdmission(id=admission_id, order_id=None, returned_at=None, **row))
            session.commit()
    except BaseException:
        session.rollback()
        if outcome is GateOutcome.ADMITTED:
            gate.undo(sale.id, user.id)
        raise
    if outcome is not GateOutcome.ADMITTED:
        session.rollback()  # undoes the SQL gate's take when the buyer was already in
        raise Conflict(outcome.value)
    return admission


@dataclass(frozen=True)
class SaleView:
    sale: FlashSale
    remaining: int
    phase: str  # upcoming | live | sold_out | ended
    now: dt.datetime
    admission: FlashAdmission | None


def view(session: Session, gate: StockGate, sale_id: int, user: User | None = None) -> SaleView:
    """What the product page shows: the window, the units left, and the caller's own admission."""
    sale = get_sale(session, sale_id)
    now = clock.now()
    remaining = gate.remaining(session, sale)
    admission = None
    if user is not None:
        admission = session.scalar(
            select(FlashAdmission).where(FlashAdmission.sale_id == sale.id, FlashAdmission.user_id == user.id)
        )
    return SaleView(sale, remaining, phase_of(sale, now, remaining), now, admission)


def phase_of(sale: FlashSale, now: dt.datetime, remaining: int) -> str:
    """upcoming | live | sold_out | ended."""
    if now >= sale.ends_at:
        return "ended"
    if now < sale.starts_at:
        return "upcoming"
    return "live" if remaining > 0 else "sold_out"


@dataclass(frozen=True)
class SkuChoice:
    sku_id: int
    name: str  # the product's name and the SKU's attributes
    price_fen: int
    stock: int


def schedulable_skus(session: Session, user: User | None, brand_id: int) -> list[SkuChoice]:
    """The brand's active SKUs of products on sale: what the dashboard's form offers to put in a sale."""
    require_brand_member(session, user, brand_id)
    rows = session.execute(
        select(Sku.id, Sku.price_fen, Sku.stock, Sku.attributes, Product.name)
        .join(Product, Product.id == Sku.product_id)
        .where(Sku.brand_id == brand_id, Sku.is_active.is_(True), Product.status == ProductStatus.ACTIVE)
        .order_by(Product.id.desc(), Sku.id)
        .limit(200)
    )
    return [SkuChoice(r.id, _sku_name(r.name, r.attributes), r.price_fen, r.stock) for r in rows]


def _sku_name(product_name: str, attributes: dict[str, str]) -> str:
    return " ".join([product_name, *attributes.values()])


def for_product(session: Session, gate: StockGate, product_id: int, user: User | None = None) -> list[SaleView]:
    """The product's sales that have not ended, soonest first (the product sheet shows the first)."""
    ids = session.scalars(
        select(FlashSale.id)
        .where(FlashSale.product_id == product_id, FlashSale.ends_at > clock.now())
        .order_by(FlashSale.starts_at, FlashSale.id)
        .limit(3)
    ).all()
    return [view(session, gate, sale_id, user) for sale_id in ids]


def for_video(session: Session, gate: StockGate, video_id: int, user: User | None = None) -> list[SaleView]:
    """The sales, not ended, of the products linked to a video (the feed's countdown card shows the first)."""
    ids = session.scalars(
        select(FlashSale.id)
        .join(VideoProduct, VideoProduct.product_id == FlashSale.product_id)
        .where(VideoProduct.video_id == video_id, FlashSale.ends_at > clock.now())
        .order_by(FlashSale.starts_at, FlashSale.id)
        .limit(3)
    ).all()
    return [view(session, gate, sale_id, user) for sale_id in ids]


# -- the dashboard's figures -----------------------------------------------------------------------------------


def campaign_rows(session: Session, brand_id: int) -> list[campaign_stats.CampaignStats]:
    """Each of the brand's sales as a campaign row: places admitted, paid, units left, GMV and cost (the list price
    minus the sale price on the units paid for). Three queries, whatever the number of sales."""
    sales = session.execute(
        select(FlashSale.id, FlashSale.quantity, FlashSale.closed_at, Product.name, Sku.attributes)
        .join(Product, Product.id == FlashSale.product_id)
        .join(Sku, Sku.id == FlashSale.sku_id)
        .where(FlashSale.brand_id == brand_id)
        .order_by(FlashSale.id.desc())
    ).all()
    ids = [r.id for r in sales]
    held = case((FlashAdmission.status != AdmissionStatus.RETURNED, FlashAdmission.quantity), else_=0)
    taken = {
        r[0]: (int(r[1]), int(r[2] or 0))
        for r in session.execute(
            select(FlashAdmission.sale_id, func.count(), func.sum(held))
            .where(FlashAdmission.sale_id.in_(ids))
            .group_by(FlashAdmission.sale_id)
        )
    }
    off = (func.coalesce(OrderLine.list_price, OrderLine.unit_price) - OrderLine.unit_price) * OrderLine.quantity
    paid = {
        r[0]: (int(r[1]), int(r[2] or 0), int(r[3] or 0))
        for r in session.execute(
            select(FlashAdmission.sale_id, func.count(), func.sum(OrderLine.paid_amount - OrderLine.refunded_amount),
                   func.sum(off))
            .join(OrderLine, and_(OrderLine.order_id == FlashAdmission.order_id,
                                  OrderLine.sku_id == FlashAdmission.sku_id))
            .join(Order, Order.id == OrderLine.order_id)
            .where(FlashAdmission.sale_id.in_(ids), Order.status.in_(campaign_stats.SOLD))
            .group_by(FlashAdmission.sale_id)
        )
    }  # fmt: skip
    out = []
    for r in sales:
        admitted, units_held = taken.get(r.id, (0, 0))
        n_paid, gmv, cost = paid.get(r.id, (0, 0, 0))
        name = _sku_name(r.name, r.attributes)
        left = 0 if r.closed_at is not None else r.quantity - units_held  # closed: the rest went back to the SKU
        out.append(campaign_stats.CampaignStats("flash_sale", r.id, (name, name), admitted, n_paid, left, gmv, cost))
    return out


campaign_stats.register("flash_sale", campaign_rows)


# -- checkout ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlashLine:
    """A checkout line the buyer was admitted for: its price and the admission the order will hold."""

    admission_id: int
    sku_id: int
    quantity: int
    price_fen: int
    pay_deadline: dt.datetime


_adm = FlashAdmission.__table__.c
_LIVE = (  # the admissions `lines_for` finds: the buyer's (`:buyer`), not yet used, before their deadline (`:now`)
    _adm.user_id == bindparam("buyer"),
    _adm.status == AdmissionStatus.ADMITTED,
    _adm.pay_deadline > bindparam("now", type_=UTCDateTime()),
)
_LINES = (
    select(_adm.id, _adm.sku_id, _adm.quantity, _adm.price_fen, _adm.pay_deadline)
    .where(*_LIVE, _adm.sku_id.in_(bindparam("skus", expanding=True)))
    .order_by(_adm.pay_deadline)
)


def admitted(sku_id: Any) -> Any:
    """Whether `lines_for` would find a line for this SKU (a column for a query that reads the SKUs anyway, so a
    checkout without one asks no more). Binds `:buyer` and `:now`."""
    return exists().where(*_LIVE, _adm.sku_id == sku_id)


_CLAIM = (
    update(FlashAdmission.__table__)
    .where(
        _adm.id == bindparam("admission"),
        _adm.status == AdmissionStatus.ADMITTED,
        _adm.pay_deadline > bindparam("now", type_=UTCDateTime()),
    )
    .values(status=AdmissionStatus.ORDERED, order_id=bindparam("order"))
)


def lines_for(session: Session, buyer_id: int, sku_ids: list[int], now: dt.datetime) -> dict[int, FlashLine]:
    """The buyer's live admissions among these SKUs (the one ending first, if two sales share a SKU)."""
    out: dict[int, FlashLine] = {}
    for r in session.execute(_LINES, {"buyer": buyer_id, "skus": sku_ids, "now": now}):
        out.setdefault(r.sku_id, FlashLine(r.id, r.sku_id, r.quantity, r.price_fen, r.pay_deadline))
    return out


def claim(session: Session, line: FlashLine, order_id: int, now: dt.datetime, field: str) -> None:
    """The order takes the admission's units; an admission that expired meanwhile fails the checkout."""
    claimed = session.execute(_CLAIM, {"admission": line.admission_id, "order": order_id, "now": now})
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("flash_sale_expired", fields=[FieldError(field, "flash_sale_expired")])


def release_for_order(session: Session, order_id: int) -> set[int]:
    """An unpaid order is cancelled: its admissions' units will go back to the sale (not to the SKU's stock).
    Returns the SKUs they cover."""
    rows = session.execute(
        update(FlashAdmission.__table__)
        .where(_adm.order_id == order_id, _adm.status == AdmissionStatus.ORDERED)
        .values(status=AdmissionStatus.RELEASED)
        .returning(_adm.sku_id)
    )
    return {r.sku_id for r in rows}


# -- expiry -----------------------------------------------------------------------------------------------------


def _due(now: dt.datetime) -> Any:
    return or_(
        and_(FlashAdmission.status == AdmissionStatus.ADMITTED, FlashAdmission.pay_deadline <= now),
        FlashAdmission.status == AdmissionStatus.RELEASED,
    )


def expire_admissions(session: Session, gate: StockGate, *, limit: int = 200) -> int:
    """Admissions past their pay deadline without an order, and those whose order was cancelled unpaid, give their
    units back to the gate's pool. Each exactly once (a conditional update of its row); commits after each;
    safe to run twice or concurrently. Returns how many went back."""
    now = clock.now()
    due = list(session.scalars(select(FlashAdmission.id).where(_due(now)).order_by(FlashAdmission.id).limit(limit)))
    session.commit()
    returned = 0
    for admission_id in due:
        try:
            row = session.execute(
                update(FlashAdmission.__table__)
                .where(FlashAdmission.id == admission_id, _due(now))
                .values(status=AdmissionStatus.RETURNED, returned_at=now)
                .returning(_adm.sale_id, _adm.user_id, _adm.quantity)
            ).first()
            if row is None:
                session.rollback()
                continue  # checked out or returned by someone else meanwhile
            # The sale row, locked, says where the units go: its pool, or the SKU once the sale is closed (the
            # close holds the same row while it drains the pool, so a unit never lands in a drained pool).
            sale = session.execute(
                select(FlashSale.closed_at, FlashSale.sku_id).where(FlashSale.id == row.sale_id).with_for_update()
            ).one()
            if sale.closed_at is None:
                gate.give_back(session, row.sale_id, row.user_id, row.quantity)
            else:
                _restock(session, sale.sku_id, row.quantity)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        returned += 1
    return returned


def _restock(session: Session, sku_id: int, quantity: int) -> None:
    session.execute(
        update(Sku)
        .where(Sku.id == sku_id)
        .values(stock=Sku.stock + quantity)
        .execution_options(synchronize_session=False)
    )


def close_ended(session: Session, gate: StockGate, *, limit: int = 50) -> int:
    """Sales ended an hour ago (the longest pay window) give the units nobody took back to the SKU's stock, once
    (a conditional update of `closed_at`; the gate's drain answers the same if asked again). Units that come back
    later (an order cancelled after the close) go to the SKU as well. Commits after each; returns how many closed."""
    now = clock.now()
    due = list(
        session.scalars(
            select(FlashSale.id)
            .where(FlashSale.closed_at.is_(None), FlashSale.ends_at <= now - MAX_PAY_WINDOW)
            .order_by(FlashSale.id)
            .limit(limit)
        )
    )
    session.commit()
    closed = 0
    for sale_id in due:
        try:
            sale = session.scalar(
                select(FlashSale)
                .where(FlashSale.id == sale_id, FlashSale.closed_at.is_(None))
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            if sale is None or sale.ends_at + sale.pay_window > now:
                session.rollback()
                continue
            sale.closed_at = now
            session.flush()
            _restock(session, sale.sku_id, gate.drain(session, sale))
            session.commit()
        except BaseException:
            session.rollback()
            raise
        closed += 1
    return closed

"""Reports for artists, sharers and brands: GMV, orders, funnels and earnings, by video and by day.

Every report is about the caller's own money: a user sees the sales credited
to them (as artist or sharer, either level), a brand member the brand's sales.
GMV counts what buyers paid net of refunds, on orders that were paid.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from commerce.attribution.models import ShareClick
from commerce.ledger import AccountKind, balances
from commerce.orders.models import Earning, EarningRole, EarningStatus, Order, OrderLine
from commerce.owners import Owner, require_owner
from commerce.payouts.models import Payout, PayoutStatus
from core.accounts.models import User
from core.accounts.permissions import require_user
from core.db import is_postgres
from core.errors import ValidationFailed, register_messages
from media.models import Video

register_messages({"report_range": ("日期范围无效（最长 366 天）", "Invalid date range (at most 366 days)")})

MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    since: dt.date
    until: dt.date  # inclusive

    def __post_init__(self) -> None:
        if self.until < self.since or (self.until - self.since).days >= MAX_DAYS:
            raise ValidationFailed.one("since", "report_range")

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.since, dt.time(), dt.UTC)

    @property
    def end(self) -> dt.datetime:
        return dt.datetime.combine(self.until + dt.timedelta(days=1), dt.time(), dt.UTC)

    def days(self) -> list[dt.date]:
        return [self.since + dt.timedelta(days=i) for i in range((self.until - self.since).days + 1)]


@dataclass
class Sales:
    gmv: int = 0  # fen paid, net of refunds
    orders: int = 0
    units: int = 0
    refunded: int = 0
    commission: int = 0  # what the report's holder earned on these sales (net of reversals)


@dataclass
class Funnel:
    views: int = 0
    product_clicks: int = 0
    orders: int = 0

    @property
    def conversion_bp(self) -> int:
        """Orders per view, in basis points."""
        return self.orders * 10_000 // self.views if self.views else 0


@dataclass
class Earnings:
    pending: int
    available: int
    clawback_owed: int
    paid_out: int


@dataclass
class Earned:
    """What the holder earned on one day's sales, by where that money stands now."""

    pending: int = 0  # held for review or waiting for the return window to close
    settled: int = 0  # moved to the holder's available balance


@dataclass
class Report:
    sales: Sales
    earnings: Earnings
    funnel: Funnel
    by_day: dict[dt.date, Sales]
    by_video: dict[int, tuple[Sales, Funnel]]
    by_artist: dict[int, Sales] = field(default_factory=dict)
    by_sharer: dict[int, Sales] = field(default_factory=dict)
    funnel_by_day: dict[dt.date, Funnel] = field(default_factory=dict)
    earned_by_day: dict[dt.date, Earned] = field(default_factory=dict)
    user_names: dict[int, str] = field(default_factory=dict)  # artists and sharers named in the report
    video_titles: dict[int, str] = field(default_factory=dict)

    def with_names(self, session: Session) -> Report:
        """Fill in the display names of the artists and sharers and the titles of the videos, for pages and API
        answers that show them (the brand overview, for one, shows only the totals)."""
        users = set(self.by_artist) | set(self.by_sharer)
        if users:
            rows = session.execute(select(User.id, User.display_name).where(User.id.in_(users)))
            self.user_names = {uid: name for uid, name in rows}
        if self.by_video:
            rows = session.execute(select(Video.id, Video.title).where(Video.id.in_(list(self.by_video))))
            self.video_titles = {vid: title for vid, title in rows}
        return self


@dataclass(frozen=True)
class _Row:
    order_id: int
    paid_at: dt.datetime
    video_id: int | None
    artist_id: int | None
    sharer_id: int | None
    quantity: int
    gmv: int
    refunded: int
    commission: int


def _rows(session: Session, where: ColumnElement[bool], period: Period, owner: Owner | None) -> list[_Row]:
    """Paid order lines in the period, with what `owner` earned on each."""
    earned = (
        select(Earning.order_line_id, func.sum(Earning.amount - Earning.reversed_amount).label("net"))
        .where(Earning.status != EarningStatus.FORFEITED)
        .group_by(Earning.order_line_id)
    )
    if owner is not None:
        earned = earned.where(Earning.owner_kind == owner.kind, Earning.owner_id == owner.id)
    sub = earned.subquery()
    stmt = (
        select(Order.id, Order.paid_at, OrderLine.source_video_id, OrderLine.artist_id, OrderLine.sharer_id,
               OrderLine.quantity, OrderLine.paid_amount, OrderLine.refunded_amount, func.coalesce(sub.c.net, 0))
        .join(Order, Order.id == OrderLine.order_id)
        .outerjoin(sub, sub.c.order_line_id == OrderLine.id)
        .where(where, Order.paid_at.is_not(None), Order.paid_at >= period.start, Order.paid_at < period.end)
    )  # fmt: skip
    return [
        _Row(oid, paid_at, vid, aid, sid, qty, paid - refunded, refunded, int(net))
        for oid, paid_at, vid, aid, sid, qty, paid, refunded, net in session.execute(stmt)
    ]


def _sum(rows: Iterable[_Row]) -> Sales:
    s = Sales()
    orders: set[int] = set()
    for r in rows:
        s.gmv += r.gmv
        s.units += r.quantity
        s.refunded += r.refunded
        s.commission += r.commission
        orders.add(r.order_id)
    s.orders = len(orders)
    return s


def _group(rows: list[_Row], key: str) -> dict[int, Sales]:
    groups: dict[int, list[_Row]] = defaultdict(list)
    for r in rows:
        k = getattr(r, key)
        if k is not None:
            groups[k].append(r)
    return {k: _sum(v) for k, v in sorted(groups.items())}


def _by_day(rows: list[_Row], period: Period) -> dict[dt.date, Sales]:
    days: dict[dt.date, list[_Row]] = defaultdict(list)
    for r in rows:
        days[r.paid_at.astimezone(dt.UTC).date()].append(r)
    return {d: _sum(days.get(d, [])) for d in period.days()}


def _day(session: Session, column: ColumnElement[dt.datetime]) -> ColumnElement[dt.date]:
    """A timestamp's UTC calendar day, computed in SQL so a large log is grouped by the database."""
    if is_postgres(session):
        return func.date(func.timezone("UTC", column))
    return func.date(column)  # SQLite stores naive UTC


def _as_date(value: object) -> dt.date:
    return dt.date.fromisoformat(str(value))  # PostgreSQL answers a date, SQLite text


def _engagement(
    session: Session, video_ids: list[int], period: Period, key: ColumnElement[Any]
) -> dict[Any, tuple[int, int]]:
    """Counted views and product-card clicks per `key`, from the search package's engagement log."""
    if not video_ids:
        return {}
    from search.models import EngagementEvent, EngagementKind

    rows = session.execute(
        select(key, EngagementEvent.kind, func.count())
        .where(
            EngagementEvent.video_id.in_(video_ids),
            EngagementEvent.kind.in_([EngagementKind.VIEW, EngagementKind.PRODUCT_CLICK]),
            EngagementEvent.counted.is_(True),
            EngagementEvent.occurred_at >= period.start,
            EngagementEvent.occurred_at < period.end,
        )
        .group_by(key, EngagementEvent.kind)
    )
    out: dict[Any, list[int]] = defaultdict(lambda: [0, 0])
    for k, kind, n in rows:
        out[k][0 if kind == EngagementKind.VIEW else 1] += int(n)
    return {k: (c[0], c[1]) for k, c in out.items()}


def engagement(session: Session, video_ids: list[int], period: Period) -> dict[int, tuple[int, int]]:
    """Counted views and product-card clicks per video in the period."""
    from search.models import EngagementEvent

    return _engagement(session, video_ids, period, EngagementEvent.video_id)


def _funnel_by_day(
    session: Session, video_ids: list[int], by_day: dict[dt.date, Sales], period: Period
) -> dict[dt.date, Funnel]:
    """Views and clicks of these videos per day, with the orders of that day's sales."""
    from search.models import EngagementEvent

    day = _day(session, EngagementEvent.occurred_at)
    counts = {_as_date(d): c for d, c in _engagement(session, video_ids, period, day).items()}
    return {
        d: Funnel(views=counts.get(d, (0, 0))[0], product_clicks=counts.get(d, (0, 0))[1], orders=by_day[d].orders)
        for d in period.days()
    }


def _earned_by_day(session: Session, owner: Owner, period: Period) -> dict[dt.date, Earned]:
    """What `owner` earned on each day's paid orders (net of reversals), pending or settled by now."""
    paid_day = _day(session, Order.paid_at)
    rows = session.execute(
        select(paid_day, Earning.status, func.sum(Earning.amount - Earning.reversed_amount))
        .join(Order, Order.id == Earning.order_id)
        .where(
            Earning.owner_kind == owner.kind,
            Earning.owner_id == owner.id,
            Earning.status != EarningStatus.FORFEITED,
            Order.paid_at >= period.start,
            Order.paid_at < period.end,
        )
        .group_by(paid_day, Earning.status)
    )
    out = {d: Earned() for d in period.days()}
    for d, status, amount in rows:
        earned = out[_as_date(d)]
        if status == EarningStatus.SETTLED:
            earned.settled += int(amount)
        else:
            earned.pending += int(amount)
    return out


def _videos_report(
    session: Session, rows: list[_Row], video_ids: list[int], period: Period
) -> tuple[Funnel, dict[int, tuple[Sales, Funnel]]]:
    counts = engagement(session, video_ids, period)
    sales = _group(rows, "video_id")
    by_video: dict[int, tuple[Sales, Funnel]] = {}
    total = Funnel()
    for vid in sorted(set(video_ids) | set(sales)):
        views, clicks = counts.get(vid, (0, 0))
        s = sales.get(vid, Sales())
        funnel = Funnel(views=views, product_clicks=clicks, orders=s.orders)
        by_video[vid] = (s, funnel)
        total.views += views
        total.product_clicks += clicks
        total.orders += s.orders
    return total, by_video


def earnings(session: Session, owner: Owner) -> Earnings:
    b = balances(session, owner.kind, owner.id)
    paid = session.scalar(
        select(func.coalesce(func.sum(Payout.net_amount), 0)).where(
            Payout.owner_kind == owner.kind, Payout.owner_id == owner.id, Payout.status == PayoutStatus.PAID
        )
    )
    return Earnings(
        pending=b[AccountKind.PENDING],
        available=b[AccountKind.AVAILABLE],
        clawback_owed=max(0, -b[AccountKind.CLAWBACK]),
        paid_out=int(paid or 0),
    )


def creator_report(session: Session, user: User | None, period: Period) -> Report:
    """A user's sales as artist (their videos and showcase) and as sharer (either level), and their funnel.

    The funnel of an artist is their videos' views and product-card clicks; a
    sharer's own link visits count as views of the video or product shared.
    """
    user = require_user(user)
    me = Owner.user(user.id)
    credited = select(Earning.order_line_id).where(
        Earning.owner_kind == me.kind,
        Earning.owner_id == me.id,
        Earning.role.in_([EarningRole.ARTIST, EarningRole.SHARER, EarningRole.SHARER_L2]),
    )
    rows = _rows(session, or_(OrderLine.artist_id == user.id, OrderLine.sharer_id == user.id,
                              OrderLine.id.in_(credited)), period, me)  # fmt: skip
    own_videos = list(session.scalars(select(Video.id).where(Video.uploader_id == user.id)))
    funnel, by_video = _videos_report(session, [r for r in rows if r.artist_id == user.id], own_videos, period)
    visit_day = _day(session, ShareClick.clicked_at)
    visits = session.execute(
        select(visit_day, func.count())
        .where(
            ShareClick.sharer_id == user.id, ShareClick.clicked_at >= period.start, ShareClick.clicked_at < period.end
        )
        .group_by(visit_day)
    ).all()
    funnel.views += sum(int(n) for _, n in visits)
    funnel.orders = len({r.order_id for r in rows})
    by_day = _by_day(rows, period)
    funnel_by_day = _funnel_by_day(session, own_videos, by_day, period)
    for d, n in visits:
        funnel_by_day[_as_date(d)].views += int(n)
    return Report(
        sales=_sum(rows),
        earnings=earnings(session, me),
        funnel=funnel,
        by_day=by_day,
        by_video=by_video,
        funnel_by_day=funnel_by_day,
        earned_by_day=_earned_by_day(session, me, period),
    )


def brand_report(session: Session, user: User | None, brand_id: int, period: Period) -> Report:
    """A brand's sales, with what each artist and sharer brought in, and the funnel of videos carrying its products."""
    brand = Owner.brand(brand_id)
    require_owner(session, user, brand)
    rows = _rows(session, Order.brand_id == brand_id, period, brand)
    from commerce.catalog.models import Product, VideoProduct

    videos = list(
        session.scalars(
            select(VideoProduct.video_id)
            .distinct()
            .join(Product, Product.id == VideoProduct.product_id)
            .where(Product.brand_id == brand_id)
        )
    )
    funnel, by_video = _videos_report(session, rows, videos, period)
    by_day = _by_day(rows, period)
    return Report(
        sales=_sum(rows),
        earnings=earnings(session, brand),
        funnel=funnel,
        by_day=by_day,
        by_video=by_video,
        funnel_by_day=_funnel_by_day(session, videos, by_day, period),
        earned_by_day=_earned_by_day(session, brand, period),
        by_artist=_commission_by(session, _group(rows, "artist_id"), rows, "artist_id", EarningRole.ARTIST),
        by_sharer=_commission_by(session, _group(rows, "sharer_id"), rows, "sharer_id", EarningRole.SHARER),
    )


def _commission_by(
    session: Session, groups: dict[int, Sales], rows: list[_Row], key: str, role: EarningRole
) -> dict[int, Sales]:
    """For a brand: per artist (or sharer), the sales they brought and the commission the brand paid them."""
    orders = {r.order_id for r in rows}
    if not orders:
        return groups
    paid = session.execute(
        select(Earning.owner_id, func.sum(Earning.amount - Earning.reversed_amount))
        .where(Earning.order_id.in_(orders), Earning.role == role, Earning.status != EarningStatus.FORFEITED)
        .group_by(Earning.owner_id)
    )
    commission = {owner_id: int(total) for owner_id, total in paid}
    for owner_id, sales in groups.items():
        sales.commission = commission.get(owner_id, 0)
    return groups

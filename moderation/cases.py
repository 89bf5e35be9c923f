"""The console's other queues, which the money path raises and decides itself: commission holds (the review
rules' fraud signals), disputes buyers took to the platform, and bookings in dispute. Moderation lists them in
one place and logs the holds' decisions in its audit trail."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.booking.models import Booking, BookingState
from commerce.orders import disputes, review
from commerce.orders.models import Dispute, OrderLine
from core.accounts.models import User
from core.accounts.permissions import require_admin
from moderation.audit import record_action


def held_lines(session: Session, actor: User | None) -> list[OrderLine]:
    return review.held_lines(session, actor)


def decide_hold(session: Session, actor: User | None, line_id: int, *, approve: bool, reason: str) -> OrderLine:
    """Release or forfeit a line's held commissions; the log entry commits with the decision (or not at all)."""
    admin = require_admin(actor)
    record_action(session, admin, "release_hold" if approve else "forfeit_hold", "order_line", line_id, reason=reason)
    return review.decide_hold(session, admin, line_id, approve=approve)


@dataclass(frozen=True)
class OpenDisputes:
    orders: list[Dispute]  # escalated by the buyer: the platform decides
    bookings: list[Booking]  # a brand and an artist disagree: the platform decides


def open_disputes(session: Session, actor: User | None) -> OpenDisputes:
    require_admin(actor)
    booked = session.scalars(
        select(Booking).where(Booking.state == BookingState.DISPUTED).order_by(Booking.id).limit(100)
    )
    return OpenDisputes(orders=disputes.list_escalated(session, actor), bookings=list(booked))


def find_user(session: Session, actor: User | None, query: str) -> User | None:
    """An account by e-mail, phone or id, for the console's bans."""
    require_admin(actor)
    q = query.strip()
    if q.isdigit() and len(q) < 12:
        return session.get(User, int(q))
    return session.scalar(select(User).where((User.email == q.lower()) | (User.phone == q)))

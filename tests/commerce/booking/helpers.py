"""Helpers for booking tests: steps by name, the timeline in short, notifications per user."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.booking import bookings
from commerce.booking.bookings import Deps, Step
from commerce.booking.machine import Action
from commerce.booking.models import Booking, BookingEvent
from commerce.booking.policy import BookingPolicy
from commerce.catalog.limits import CatalogLimits
from commerce.notifications.models import Notification
from core.accounts.models import User

DEPS = Deps(policy=BookingPolicy(), limits=CatalogLimits(require_qualifications=False))  # papers: tests/moderation


def step(session: Session, user: User, booking: Booking | int, action: str, **kw: object) -> Booking:
    booking_id = booking if isinstance(booking, int) else booking.id
    return bookings.act(session, user, booking_id, Step(Action(action), **kw), deps=DEPS)  # type: ignore[arg-type]


def history(session: Session, booking_id: int) -> list[tuple[str, str | None, str, str]]:
    """(action, from, to, party) per recorded transition, oldest first."""
    rows = session.scalars(select(BookingEvent).where(BookingEvent.booking_id == booking_id).order_by(BookingEvent.id))
    return [(e.action, e.from_state and e.from_state.value, e.to_state.value, e.party.value) for e in rows]


def inbox(session: Session, user: User) -> list[str]:
    rows = session.scalars(select(Notification).where(Notification.user_id == user.id).order_by(Notification.id))
    return [n.kind for n in rows]

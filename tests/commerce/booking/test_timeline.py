"""Every transition is recorded — actor, time, from, to, note — and everyone on the booking but the actor hears of
it in-app (admins too when a dispute opens), along the whole road from invitation to payment and through a dispute."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.booking import bookings
from commerce.booking.machine import Action
from commerce.booking.models import Booking, BookingEvent, Campaign
from commerce.notifications.models import Notification
from core.accounts.models import User
from core.clock import FrozenClock
from tests.commerce.booking.conftest import POLICY, Market
from tests.commerce.booking.helpers import DEPS, step
from tests.commerce.booking.walk import draft, top_up


def _last_event(session: Session, booking_id: int) -> BookingEvent:
    event = session.scalar(
        select(BookingEvent).where(BookingEvent.booking_id == booking_id).order_by(BookingEvent.id.desc()).limit(1)
    )
    assert event is not None
    return event


def _told(session: Session, kind: str, booking_id: int) -> set[int]:
    rows = session.scalars(select(Notification).where(Notification.kind == kind))
    return {n.user_id for n in rows if n.params.get("booking_id") == booking_id and n.link == f"/bookings/{booking_id}"}


def _check(
    session: Session, m: Market, b: Booking, frozen: FrozenClock, *, actor: User | None, action: str, note: str = ""
) -> None:
    event = _last_event(session, b.id)
    assert (event.action, event.actor_id, event.at, event.note) == (
        action, actor.id if actor else None, frozen.now(), note,
    )  # fmt: skip
    assert event.to_state == b.state
    everyone = {m.artist.id, m.owner.id, m.member.id} | ({m.admin.id} if action == "dispute" else set())
    assert _told(session, f"booking.{action}", b.id) == everyone - ({actor.id} if actor else set())


def test_every_step_is_recorded_with_its_actor_time_and_note_and_told_to_the_others(
    db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock
) -> None:
    m, s = market, db_session
    b = bookings.invite(s, m.owner, campaign.id, m.artist.id, policy=POLICY)
    _check(s, m, b, frozen, actor=m.owner, action="invite")
    road: list[tuple[User, str, dict[str, object]]] = [
        (m.artist, "quote", {"fee_fen": 210_000}),
        (m.member, "counter", {"fee_fen": 205_000, "note": "预算有限"}),
        (m.artist, "accept", {}),
        (m.owner, "fund", {}),
        (m.artist, "submit_draft", {}),
        (m.member, "request_revision", {"note": "开头再短一点"}),
        (m.artist, "submit_draft", {}),
        (m.owner, "approve", {}),
        (m.artist, "publish", {}),
    ]
    for actor, action, kw in road:
        frozen.advance(minutes=7)
        if action == "fund":
            top_up(s, m.brand.id, 205_000)
        args = {**kw, "video_id": draft(s, m).id} if action == "submit_draft" else kw
        step(s, actor, b, action, **args)
        _check(s, m, b, frozen, actor=actor, action=action, note=str(kw.get("note", "")))
    frozen.advance(hours=POLICY.live_check.total_seconds() / 3600 + 1)
    for action in (Action.COMPLETE, Action.PAY):
        assert bookings.system_step(s, b.id, action, deps=DEPS, note=f"note_{action.value}") is not None
        _check(s, m, b, frozen, actor=None, action=action.value, note=f"note_{action.value}")
    assert b.state.value == "paid"


def test_a_dispute_reaches_the_admins_and_its_resolution_everyone_else(
    db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock
) -> None:
    m, s = market, db_session
    b = bookings.invite(s, m.owner, campaign.id, m.artist.id, policy=POLICY)
    step(s, m.artist, b, "accept")
    top_up(s, m.brand.id, b.fee_fen)
    step(s, m.owner, b, "fund")
    step(s, m.artist, b, "submit_draft", video_id=draft(s, m).id)
    frozen.advance(hours=1)
    step(s, m.owner, b, "dispute", note="与需求不符")
    _check(s, m, b, frozen, actor=m.owner, action="dispute", note="与需求不符")
    frozen.advance(hours=5)
    step(s, m.admin, b, "resolve", note="各半", artist_share_bp=5000)
    event = _last_event(s, b.id)
    assert (event.action, event.actor_id, event.at, event.note, event.party.value) == (
        "resolve", m.admin.id, frozen.now(), "各半", "admin",
    )  # fmt: skip
    assert _told(s, "booking.resolve", b.id) == {m.artist.id, m.owner.id, m.member.id}

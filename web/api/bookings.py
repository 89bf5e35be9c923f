"""Bookings over HTTP: both sides' inboxes, a booking with its timeline, and every step of the state machine."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.booking import bookings, brief, escrow
from commerce.booking import payments as booking_payments
from commerce.booking.bookings import Deps, Step
from commerce.booking.brief import range_text
from commerce.booking.machine import USER_ACTIONS, Action, allowed_actions
from commerce.booking.models import Booking, BookingEvent, BookingState, Party
from commerce.booking.notices import note_text, sentence
from commerce.payments import notify_url, open_provider
from core import extensions
from core.accounts.models import User
from core.errors import ValidationFailed
from media.models import Video
from web.api.blueprint import bp
from web.api.endpoint import ApiModel, OutModel, QueryModel, endpoint
from web.auth import require_current_user
from web.i18n import get_locale

TAGS = ["bookings"]
ACTIONS = ", ".join(a.value for a in USER_ACTIONS)


def deps() -> Deps:
    return Deps.from_settings(extensions.settings(), extensions.session())


class EventOut(OutModel):
    id: int
    at: dt.datetime
    party: Party
    actor_id: int | None
    actor_name: str | None
    action: str
    text: str = Field(description="the step as one sentence in the caller's language (who did what, amounts in yuan)")
    from_state: BookingState | None
    to_state: BookingState
    note: str
    fee_fen: int | None
    video_id: int | None
    amount_fen: int | None


class CheckItemOut(OutModel):
    key: str = Field(description="duration, hashtags or products")
    ok: bool
    code: str
    message: str


class BriefCheckOut(OutModel):
    ok: bool = Field(description="the draft meets the brief; only then can the brand approve it")
    duration_range: str = Field(description="the length the brief asks for, in words")
    items: list[CheckItemOut]


class BookingOut(OutModel):
    id: int
    version: int = Field(description="send it back as expected_version: a step on a stale page is refused")
    campaign_id: int
    campaign_title: str
    brand_id: int
    brand_name: str
    artist_id: int
    artist_name: str
    state: BookingState
    turn: Party | None = Field(description="whose move it is")
    your_parties: list[Party]
    your_actions: list[str] = Field(description="the steps the caller may take now")
    fee_fen: int
    platform_fee_bp: int
    message: str
    deadline: dt.datetime
    max_revisions: int
    revisions_used: int
    video_id: int | None
    reply_due_at: dt.datetime | None
    live_until: dt.datetime | None
    funded_at: dt.datetime | None
    published_at: dt.datetime | None
    finished_at: dt.datetime | None
    paid_to_artist_fen: int | None
    refunded_fen: int | None
    rating: int | None
    rating_comment: str
    created_at: dt.datetime


class BookingDetailOut(BookingOut):
    timeline: list[EventOut]
    brief_check: BriefCheckOut | None = Field(description="the submitted draft held against the brief, in review")
    escrow_fen: int = Field(description="what the booking's escrow account holds now")
    pay_url: str | None = Field(description="the pending payment's page at the provider, if the brand started one")


class PaymentOut(OutModel):
    payment_id: int
    amount: int
    status: str
    pay_url: str


class BookingPage(OutModel):
    items: list[BookingOut]
    next_cursor: str | None


class InboxQuery(QueryModel):
    side: Literal["artist", "brand", "admin"] = "artist"
    state: list[str] | None = Field(default=None, description="repeat to filter by several states")
    campaign_id: int | None = None
    my_turn: bool = Field(default=False, description="only bookings waiting for the caller's side")
    cursor: str | None = None
    limit: int = Field(default=20, ge=1, le=100)


class StepIn(ApiModel):
    expected_version: int | None = Field(default=None, description="the booking's version the caller saw")
    fee_fen: int | None = Field(default=None, description="quote, counter: the fee named")
    note: str = Field(default="", max_length=2000, description="why (required to request a revision or dispute)")
    video_id: int | None = Field(default=None, description="submit_draft: your private, processed video")
    product_ids: list[int] | None = Field(
        default=None, max_length=6, description="submit_draft: the campaign's products to card on the draft"
    )
    artist_share_bp: int | None = Field(default=None, description="resolve (admins): the artist's share of escrow")


class RatingIn(ApiModel):
    stars: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=500)


def booking_out(session: Session, user: User, booking: Booking, *, detail: bool = False) -> BookingOut:
    parties = bookings.parties_of(session, user, booking)
    check = bookings.brief_check(session, booking)
    fields = {name: getattr(booking, name) for name in BookingOut.model_fields if hasattr(booking, name)}
    fields.update(
        campaign_title=booking.campaign.title,
        brand_name=booking.campaign.brand.name,
        artist_name=booking.artist.display_name,
        turn=bookings.turn_of(session, booking, check),
        your_parties=sorted(parties),
        your_actions=[a.value for a in allowed_actions(booking.state, parties) if a in USER_ACTIONS],
    )
    if not detail:
        return BookingOut(**fields)
    locale = get_locale()
    events = bookings.timeline(session, booking.id)
    names = dict(
        session.execute(
            select(User.id, User.display_name).where(User.id.in_({e.actor_id for e in events if e.actor_id}))
        ).all()
    )
    video_ids = {e.video_id for e in events if e.video_id} | ({booking.video_id} if booking.video_id else set())
    titles = dict(session.execute(select(Video.id, Video.title).where(Video.id.in_(video_ids))).all())
    timeline = [_event_out(e, names.get(e.actor_id) if e.actor_id else None, booking, titles, locale) for e in events]
    pending = escrow.pending_payment(session, booking.id) if Party.BRAND in parties else None
    return BookingDetailOut(
        **fields,
        timeline=timeline,
        brief_check=_check_out(booking, check, locale),
        escrow_fen=escrow.held(session, booking.id),
        pay_url=pending.pay_url if pending else None,
    )


def _check_out(booking: Booking, check: brief.Check | None, locale: str) -> BriefCheckOut | None:
    if check is None:
        return None
    items = [CheckItemOut(key=i.key, ok=i.ok, code=i.code, message=i.text(locale)) for i in check.items]
    return BriefCheckOut(ok=check.ok, duration_range=range_text(booking.campaign, locale), items=items)


def _event_out(
    e: BookingEvent, actor_name: str | None, booking: Booking, titles: dict[int, str], locale: str
) -> EventOut:
    video_id = e.video_id or (booking.video_id if e.action == Action.PUBLISH else None)
    text = sentence(e, actor_name=actor_name, fee_fen=booking.fee_fen, title=titles.get(video_id or 0), locale=locale)
    return EventOut(
        id=e.id, at=e.at, party=e.party, actor_id=e.actor_id, actor_name=actor_name, action=e.action, text=text,
        from_state=e.from_state, to_state=e.to_state, note=note_text(e, locale), fee_fen=e.fee_fen,
        video_id=e.video_id, amount_fen=e.amount_fen,
    )  # fmt: skip


@bp.get("/bookings")
@endpoint(summary="Your bookings as artist, as brand member, or (admins) all of them; newest first", tags=TAGS,
          query=InboxQuery, response=BookingPage, auth="required", errors=[403, 422])  # fmt: skip
def inbox(query: InboxQuery) -> BookingPage:
    session, user = extensions.session(), require_current_user()
    try:
        states = [BookingState(s) for s in query.state or []]
    except ValueError:
        raise ValidationFailed.one("query.state", "enum") from None
    items, cursor = bookings.list_for(
        session, user, side=Party(query.side), states=states or None, campaign_id=query.campaign_id,
        my_turn=query.my_turn, cursor=query.cursor, limit=query.limit,
    )  # fmt: skip
    return BookingPage(items=[booking_out(session, user, b) for b in items], next_cursor=cursor)


@bp.get("/bookings/<int:booking_id>")
@endpoint(summary="A booking with its timeline (its artist, its brand's members, admins)", tags=TAGS,
          response=BookingDetailOut, auth="required", errors=[404])  # fmt: skip
def get_booking(booking_id: int) -> BookingOut:
    session, user = extensions.session(), require_current_user()
    booking, _ = bookings.get_for(session, user, booking_id)
    return booking_out(session, user, booking, detail=True)


@bp.post(f"/bookings/<int:booking_id>/<any({ACTIONS}):action>")
@endpoint(summary="Take a step: " + ACTIONS, tags=TAGS, body=StepIn, response=BookingDetailOut, auth="required",
          idempotent=True, errors=[403, 404, 409, 422])  # fmt: skip
def take_step(booking_id: int, action: str, body: StepIn) -> BookingOut:
    """Who may take which step from which state is the booking state machine (see `your_actions`). A step sent with
    an `expected_version` older than the booking's is refused with 409 `booking_changed`, as is the loser of two
    concurrent steps. Steps that move money (fund, cancel, resolve) post to the ledger exactly once per key."""
    session, user = extensions.session(), require_current_user()
    step = Step(Action(action), **body.model_dump())
    booking = bookings.act(session, user, booking_id, step, deps=deps())
    return booking_out(session, user, booking, detail=True)


@bp.post("/bookings/<int:booking_id>/payment")
@endpoint(summary="Pay the agreed fee into escrow through the payment provider (brand members)", tags=TAGS,
          response=PaymentOut, status=201, auth="required", idempotent=True, errors=[403, 404, 409])  # fmt: skip
def start_payment(booking_id: int) -> PaymentOut:
    """Open `pay_url` to pay. When the provider confirms (signed webhook, or the return to the booking page), the
    booking moves to `funded`. Paying from the brand's balance instead is the `fund` step."""
    session, settings = extensions.session(), extensions.settings()
    payment = booking_payments.start_funding(
        session, require_current_user(), booking_id, provider=open_provider(settings, session),
        notify_url=notify_url(settings, settings.payment_provider),
        return_url=f"{settings.public_base_url.rstrip('/')}/bookings/{booking_id}",
    )  # fmt: skip
    return PaymentOut(
        payment_id=payment.id, amount=payment.amount, status=payment.status.value, pay_url=payment.pay_url
    )


@bp.post("/bookings/<int:booking_id>/rating")
@endpoint(summary="Rate the artist after a completed booking (brand members)", tags=TAGS, body=RatingIn,
          response=BookingOut, auth="required", errors=[403, 404, 409])  # fmt: skip
def rate(booking_id: int, body: RatingIn) -> BookingOut:
    session, user = extensions.session(), require_current_user()
    booking = bookings.rate(session, user, booking_id, stars=body.stars, comment=body.comment)
    return booking_out(session, user, booking)

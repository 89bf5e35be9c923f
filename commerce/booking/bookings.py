"""Bookings: invitations, applications and every later step, only through the rules of `machine`.

Every step is one transaction that (1) checks the caller is the right party and
the booking is in the right state, (2) writes the new state, which is a
versioned UPDATE (`Booking.version`): of two concurrent clicks read at the same
version only the first commits, the second gets `booking_changed`, (3) moves
money through the ledger where the step says so, and (4) records the
transition and notifies the other side. The booking row is always written
before any ledger account is touched, so the loser of a race never holds
account locks while it waits.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from commerce.artists.models import ArtistProfile
from commerce.booking import brief, escrow, publishing
from commerce.booking.campaigns import is_member
from commerce.booking.machine import AWAITING_REPLY, TURN, USER_ACTIONS, Action, Rule, anyone_may, rule
from commerce.booking.models import (
    CLOSED_STATES,
    FINAL_STATES,
    Booking,
    BookingEvent,
    BookingState,
    Campaign,
    CampaignStatus,
    Party,
)
from commerce.booking.notices import notify_step
from commerce.booking.policy import BookingPolicy
from commerce.catalog import links
from commerce.catalog.limits import CatalogLimits
from commerce.payments import open_provider
from commerce.payments import service as payments
from commerce.payments.models import Payment
from commerce.payments.provider import PaymentProvider
from core import clock
from core.accounts.models import BrandMember, User
from core.accounts.permissions import require_artist, require_brand_member, require_user
from core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed, register_messages
from core.money import BP_WHOLE
from core.outbox import emit
from core.pagination import keyset_page
from core.settings import Settings
from media.models import Video, VideoStatus, Visibility

register_messages(
    {
        "booking_not_your_move": ("这一步不该由你来操作", "This step is not yours to take"),
        "booking_bad_state": (
            "预约当前状态为 {state}，不能执行 {action}",
            "The booking is {state}; {action} is not possible now",
        ),
        "booking_changed": ("预约刚刚被更新，请刷新后重试", "The booking just changed; reload and retry"),
        "already_booked": (
            "该艺人在此活动中已有进行中的预约",
            "This artist already has a live booking for this campaign",
        ),
        "artist_unavailable": ("该艺人暂不接单", "This artist is not taking bookings now"),
        "artist_fully_booked": ("该艺人进行中的合作已满", "This artist has no free slot right now"),
        "campaign_closed": ("活动已关闭", "This campaign is closed"),
        "campaign_not_open": ("活动未开放报名", "This campaign is not open for applications"),
        "campaign_deadline_passed": ("活动已过截止时间", "The campaign's deadline has passed"),
        "own_brand_artist": ("不能预约本品牌的成员", "You cannot book a member of your own brand"),
        "not_an_artist": ("该用户不是艺人", "This user is not an artist"),
        "no_rate_for_tier": (
            "艺人没有该时长的报价，请填写费用",
            "The artist has no rate for this video length; name a fee",
        ),
        "fee_out_of_range": ("费用应在 1 元到 {max_yuan} 元之间", "The fee must be 1 to {max_yuan} yuan"),
        "revisions_exhausted": ("修改轮次已用完（最多 {max} 轮）", "No revision rounds left (at most {max})"),
        "draft_not_yours": ("只能提交自己上传的视频", "Submit a video you uploaded yourself"),
        "draft_not_private": ("草稿视频必须设为私密，仅品牌可见", "A draft must be private (only the brand sees it)"),
        "draft_not_ready": ("视频还在处理中，处理完成后再提交", "The video is still processing; submit it when ready"),
        "note_required": ("请写明原因", "Say why"),
        "product_not_in_campaign": ("只能挂本次合作推广的商品", "Link only the products this campaign promotes"),
        "share_required": ("请给出艺人分得的比例", "Give the artist's share"),
    }
)

MAX_FEE_FEN = 10_000_000_00
# Bookings that hold one of the artist's slots: agreed and not yet delivered.
IN_PRODUCTION = (
    BookingState.ACCEPTED,
    BookingState.FUNDED,
    BookingState.DRAFT_SUBMITTED,
    BookingState.REVISION_REQUESTED,
    BookingState.APPROVED,
)


@dataclass(frozen=True)
class Step:
    """What a person asks of a booking. Which fields matter depends on the action."""

    action: Action
    expected_version: int | None = None  # the version the caller saw; a newer one means someone moved first
    fee_fen: int | None = None  # quote, counter
    note: str = ""  # decline, cancel, request_revision, dispute, resolve: why
    video_id: int | None = None  # submit_draft
    product_ids: list[int] | None = None  # submit_draft: the campaign's products carded on the draft (None: as is)
    artist_share_bp: int | None = None  # resolve: the artist's share of the escrow


@dataclass(frozen=True)
class Deps:
    """What the steps need from settings, and the payment provider that closes a fee payment left open."""

    policy: BookingPolicy
    limits: CatalogLimits
    provider: PaymentProvider | None = None

    @classmethod
    def from_settings(cls, settings: Settings, session: Session) -> Deps:
        return cls(
            BookingPolicy.from_settings(settings),
            CatalogLimits.from_settings(settings),
            open_provider(settings, session),
        )


# -- reading -----------------------------------------------------------------------------------------


def parties_of(session: Session, user: User, booking: Booking) -> set[Party]:
    parties = set()
    if user.id == booking.artist_id:
        parties.add(Party.ARTIST)
    if session.get(BrandMember, (booking.brand_id, user.id)) is not None:
        parties.add(Party.BRAND)
    if user.is_admin:
        parties.add(Party.ADMIN)
    return parties


def get_for(session: Session, user: User | None, booking_id: int) -> tuple[Booking, set[Party]]:
    """The booking and the caller's parties in it; NotFound for anyone else (no leak that it exists)."""
    user = require_user(user)
    booking = session.get(Booking, booking_id)
    parties = parties_of(session, user, booking) if booking is not None else set()
    if booking is None or not parties:
        raise NotFound("booking")
    return booking, parties


def draft_of(session: Session, booking: Booking) -> Video | None:
    video = session.get(Video, booking.video_id) if booking.video_id is not None else None
    return video if video is not None and video.deleted_at is None else None


def brief_check(session: Session, booking: Booking) -> brief.Check | None:
    """The current draft held against the brief, while a draft is under review (None at other times)."""
    if booking.state != BookingState.DRAFT_SUBMITTED:
        return None
    return brief.check(session, booking.campaign, draft_of(session, booking))


def turn_of(session: Session, booking: Booking, check: brief.Check | None = None) -> Party | None:
    """Whose move it is: the state's, except that a draft failing the brief is the artist's to fix (while a
    revision round is left to do it with) rather than the brand's to review."""
    turn = TURN.get(booking.state)
    if booking.state == BookingState.DRAFT_SUBMITTED and booking.revisions_used < booking.max_revisions:
        check = check or brief_check(session, booking)
        if check is not None and not check.ok:
            return Party.ARTIST
    return turn


def timeline(session: Session, booking_id: int) -> list[BookingEvent]:
    return list(
        session.scalars(select(BookingEvent).where(BookingEvent.booking_id == booking_id).order_by(BookingEvent.id))
    )


def list_for(
    session: Session,
    user: User | None,
    *,
    side: Party,
    states: list[BookingState] | None = None,
    campaign_id: int | None = None,
    my_turn: bool = False,
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[Booking], str | None]:
    """The caller's inbox as artist, as brand member, or (admins) every disputed booking; newest first."""
    user = require_user(user)
    stmt = select(Booking)
    if side == Party.ARTIST:
        stmt = stmt.where(Booking.artist_id == user.id)
    elif side == Party.BRAND:
        stmt = stmt.where(Booking.brand_id.in_(user.brand_ids()))
    elif side == Party.ADMIN:
        if not user.is_admin:
            raise PermissionDenied()
    else:
        raise ValidationFailed.one("query.side", "enum")
    if states:
        stmt = stmt.where(Booking.state.in_(states))
    if campaign_id is not None:
        stmt = stmt.where(Booking.campaign_id == campaign_id)
    if my_turn:
        # Who must act on a submitted draft depends on its brief check: filtered below, so a page may come short.
        maybe = {s for s, p in TURN.items() if p == side} | {BookingState.DRAFT_SUBMITTED}
        stmt = stmt.where(Booking.state.in_(maybe))
    items, next_cursor = keyset_page(session, stmt, [(Booking.id, True)], lambda b: [b.id], cursor=cursor, limit=limit)
    if my_turn:
        items = [b for b in items if turn_of(session, b) == side]
    return items, next_cursor


# -- the transaction around a step ----------------------------------------------------------------------


@contextlib.contextmanager
def _step_tx(session: Session) -> Iterator[None]:
    """Commit at the end; a stale version or a lost uniqueness race becomes a clean Conflict."""
    try:
        yield
        session.flush()
    except StaleDataError as exc:
        session.rollback()
        raise Conflict("booking_changed") from exc
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("already_booked" if "uq_bookings" in str(exc.orig) else "booking_changed") from exc
    except BaseException:
        session.rollback()
        raise
    session.commit()


def _rule_for(action: Action, booking: Booking, parties: set[Party]) -> Rule:
    for party in (Party.ARTIST, Party.BRAND, Party.ADMIN, Party.SYSTEM):
        if party in parties:
            found = rule(action, booking.state, party)
            if found is not None:
                return found
    if anyone_may(action, booking.state):
        raise PermissionDenied("booking_not_your_move")
    raise Conflict("booking_bad_state", state=booking.state.value, action=action.value)


def transition(
    session: Session,
    booking: Booking,
    found: Rule,
    *,
    actor_id: int | None,
    policy: BookingPolicy,
    note: str = "",
    fee_fen: int | None = None,
    video_id: int | None = None,
) -> BookingEvent:
    """Move to the rule's target and write it: the versioned UPDATE happens here, before any money moves."""
    now = clock.now()
    from_state = booking.state
    booking.state = found.target
    booking.reply_due_at = now + policy.reply_window if found.target in AWAITING_REPLY else None
    if found.target in FINAL_STATES:
        booking.finished_at = now
    session.flush()
    event = BookingEvent(
        booking_id=booking.id,
        at=now,
        actor_id=actor_id,
        party=found.party,
        action=found.action.value,
        from_state=from_state,
        to_state=found.target,
        note=note[:2000],
        fee_fen=fee_fen,
        video_id=video_id,
    )
    session.add(event)
    return event


def _check_fee(fee_fen: int | None) -> int:
    if fee_fen is None:
        raise ValidationFailed.one("fee_fen", "missing")
    if not 100 <= fee_fen <= MAX_FEE_FEN:
        raise ValidationFailed.one("fee_fen", "fee_out_of_range", max_yuan=MAX_FEE_FEN // 100)
    return fee_fen


# -- starting a booking ----------------------------------------------------------------------------------


def _default_fee(session: Session, campaign: Campaign, artist_id: int) -> int:
    profile = session.get(ArtistProfile, artist_id)
    rate = profile.rate_for(campaign.length_tier) if profile else None
    if rate is None:
        raise ValidationFailed.one("fee_fen", "no_rate_for_tier")
    return rate * campaign.videos_count


def _check_startable(session: Session, campaign: Campaign, artist: User) -> None:
    if campaign.status == CampaignStatus.CLOSED:
        raise Conflict("campaign_closed")
    if campaign.deadline <= clock.now():
        raise Conflict("campaign_deadline_passed")
    if campaign.brand_id in artist.brand_ids():
        raise ValidationFailed.one("artist_id", "own_brand_artist")
    profile = session.get(ArtistProfile, artist.id)
    if profile is not None and not profile.is_available(clock.now()):
        raise Conflict("artist_unavailable")
    live = session.scalar(
        select(Booking.id).where(
            Booking.campaign_id == campaign.id, Booking.artist_id == artist.id, Booking.state.not_in(CLOSED_STATES)
        )
    )
    if live is not None:
        raise Conflict("already_booked")


def _start(
    session: Session,
    campaign: Campaign,
    artist: User,
    *,
    state: BookingState,
    party: Party,
    actor_id: int,
    fee_fen: int | None,
    message: str,
    policy: BookingPolicy,
) -> Booking:
    _check_startable(session, campaign, artist)
    fee = _check_fee(fee_fen) if fee_fen is not None else _default_fee(session, campaign, artist.id)
    now = clock.now()
    with _step_tx(session):
        booking = Booking(
            campaign_id=campaign.id,
            brand_id=campaign.brand_id,
            artist_id=artist.id,
            state=state,
            fee_fen=fee,
            message=message.strip()[:2000],
            deadline=campaign.deadline,
            max_revisions=campaign.max_revisions,
            reply_due_at=now + policy.reply_window,
        )
        session.add(booking)
        session.flush()
        event = BookingEvent(
            booking_id=booking.id,
            at=now,
            actor_id=actor_id,
            party=party,
            action="invite" if state == BookingState.INVITED else "apply",
            from_state=None,
            to_state=state,
            note=booking.message,
            fee_fen=fee,
        )
        session.add(event)
        notify_step(session, booking, event)
    return booking


def invite(
    session: Session,
    actor: User | None,
    campaign_id: int,
    artist_id: int,
    *,
    fee_fen: int | None = None,
    message: str = "",
    policy: BookingPolicy,
) -> Booking:
    """The brand offers the artist a fee (by default the artist's rate card price for the brief)."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound("campaign")
    actor = require_user(actor)
    require_brand_member(session, actor, campaign.brand_id)
    artist = session.get(User, artist_id)
    if artist is None or not artist.is_active:
        raise NotFound("artist")
    if not artist.is_artist:
        raise ValidationFailed.one("artist_id", "not_an_artist")
    return _start(
        session, campaign, artist, state=BookingState.INVITED, party=Party.BRAND, actor_id=actor.id,
        fee_fen=fee_fen, message=message, policy=policy,
    )  # fmt: skip


def apply(
    session: Session,
    actor: User | None,
    campaign_id: int,
    *,
    fee_fen: int | None = None,
    message: str = "",
    policy: BookingPolicy,
) -> Booking:
    """An artist asks to join an open campaign at a fee (by default their rate card price for the brief)."""
    artist = require_artist(actor)
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or (campaign.status == CampaignStatus.DRAFT and not is_member(session, artist, campaign)):
        raise NotFound("campaign")
    if campaign.status != CampaignStatus.OPEN:
        raise Conflict("campaign_not_open")
    return _start(
        session, campaign, artist, state=BookingState.APPLIED, party=Party.ARTIST, actor_id=artist.id,
        fee_fen=fee_fen, message=message, policy=policy,
    )  # fmt: skip


# -- the steps ---------------------------------------------------------------------------------------------


def _check_capacity(session: Session, booking: Booking) -> None:
    profile = session.get(ArtistProfile, booking.artist_id)
    capacity = profile.max_open_bookings if profile else 5
    busy = session.scalar(
        select(func.count()).where(
            Booking.artist_id == booking.artist_id, Booking.state.in_(IN_PRODUCTION), Booking.id != booking.id
        )
    )
    if (busy or 0) >= capacity:
        raise Conflict("artist_fully_booked")


def _check_draft(session: Session, booking: Booking, video_id: int | None) -> Video:
    if video_id is None:
        raise ValidationFailed.one("video_id", "missing")
    video = session.get(Video, video_id)
    if video is None or video.uploader_id != booking.artist_id or video.deleted_at is not None:
        raise ValidationFailed.one("video_id", "draft_not_yours")
    if video.visibility != Visibility.PRIVATE or video.published_at is not None:
        raise ValidationFailed.one("video_id", "draft_not_private")
    if video.status != VideoStatus.READY:
        raise ValidationFailed.one("video_id", "draft_not_ready")
    return video


def _use_revision_round(booking: Booking) -> None:
    if booking.revisions_used >= booking.max_revisions:
        raise Conflict("revisions_exhausted", max=booking.max_revisions)
    booking.revisions_used += 1


def _card_draft(session: Session, artist: User, booking: Booking, product_ids: list[int], deps: Deps) -> None:
    """Show these campaign products on the draft (the booking lets the artist's draft link the brand's products);
    cards of other products the artist put there stay."""
    assert booking.video_id is not None
    campaign_ids = set(booking.campaign.product_ids)
    current = {s.product_id: s for s in links.current_specs(session, booking.video_id)}
    wanted = [current.get(pid) or links.LinkSpec(pid) for pid in dict.fromkeys(product_ids)]
    others = [s for pid, s in current.items() if pid not in campaign_ids]
    links.apply_links(session, artist, booking.video_id, wanted + others, limits=deps.limits, granted=campaign_ids)


def _prepare(session: Session, booking: Booking, step: Step, policy: BookingPolicy) -> tuple[int | None, str]:
    """Check the step's own input and set what it changes besides the state; returns (fee named, note)."""
    note = step.note.strip()
    if step.action in (Action.REQUEST_REVISION, Action.DISPUTE, Action.RESOLVE) and not note:
        raise ValidationFailed.one("note", "note_required")
    if step.action in (Action.QUOTE, Action.COUNTER):
        booking.fee_fen = _check_fee(step.fee_fen)
        return booking.fee_fen, note
    if step.action == Action.ACCEPT:
        _check_capacity(session, booking)
        booking.platform_fee_bp = policy.platform_fee_bp
    elif step.action == Action.SUBMIT_DRAFT:
        booking.video_id = _check_draft(session, booking, step.video_id).id
        if step.product_ids is not None and not set(step.product_ids) <= set(booking.campaign.product_ids):
            raise ValidationFailed.one("product_ids", "product_not_in_campaign")
        if booking.state == BookingState.DRAFT_SUBMITTED:  # replacing a draft the brand has not decided on
            _use_revision_round(booking)
        booking.draft_submitted_at = booking.draft_submitted_at or clock.now()
    elif step.action == Action.REQUEST_REVISION:
        _use_revision_round(booking)
    elif step.action == Action.APPROVE:
        result = brief.check(session, booking.campaign, draft_of(session, booking))
        if not result.ok:
            raise brief.DraftFailsBrief(result)
    elif step.action == Action.RESOLVE and (step.artist_share_bp is None or not 0 <= step.artist_share_bp <= BP_WHOLE):
        raise ValidationFailed.one("artist_share_bp", "share_required")
    return None, note


def _effects(
    session: Session, actor: User, booking: Booking, *, found: Rule, step: Step, event: BookingEvent, deps: Deps
) -> None:
    """What a step does beyond the state, after the versioned UPDATE went through: money and publishing."""
    now = clock.now()
    if step.action == Action.FUND:
        event.amount_fen = escrow.fund(session, booking)
        booking.funded_at = now
    elif step.action == Action.CANCEL and booking.funded_at is not None:
        event.amount_fen = escrow.refund_on_cancel(session, booking, found.source, found.party, deps.policy)
    elif step.action == Action.RESOLVE:
        assert step.artist_share_bp is not None
        event.amount_fen = escrow.split(session, booking, step.artist_share_bp)
    elif step.action == Action.SUBMIT_DRAFT and step.product_ids is not None:
        _card_draft(session, actor, booking, step.product_ids, deps)
    elif step.action == Action.PUBLISH:
        publishing.publish(session, actor, booking, limits=deps.limits)
        booking.published_at = now
        booking.live_until = now + deps.policy.live_check


def _lock_open_payment(session: Session, booking: Booking, found: Rule, deps: Deps) -> Payment | None:
    """A fee payment still open when this step leaves `accepted` another way (cancel, expire, fund from the
    balance). Locked before the booking row is written: the webhook locks the payment first, then the booking."""
    if found.source != BookingState.ACCEPTED or deps.provider is None:
        return None
    return escrow.pending_payment(session, booking.id, lock=True)


def _close(session: Session, payment: Payment | None, deps: Deps) -> None:
    """Close it so the provider's page stops taking money. Paid at the provider just before, it is captured all
    the same and, the booking having moved on, credited to the brand's balance by the payment handler."""
    if payment is not None and deps.provider is not None:
        payments.close_payment(session, deps.provider, payment)


def act(session: Session, actor: User | None, booking_id: int, step: Step, *, deps: Deps) -> Booking:
    """Take one step on a booking as the calling user."""
    actor = require_user(actor)
    if step.action not in USER_ACTIONS:
        raise PermissionDenied("booking_not_your_move")
    booking, parties = get_for(session, actor, booking_id)
    if step.expected_version is not None and step.expected_version != booking.version:
        raise Conflict("booking_changed")
    found = _rule_for(step.action, booking, parties)
    with _step_tx(session):
        open_payment = _lock_open_payment(session, booking, found, deps)
        fee, note = _prepare(session, booking, step, deps.policy)
        event = transition(
            session, booking, found, actor_id=actor.id, policy=deps.policy, note=note, fee_fen=fee,
            video_id=booking.video_id if step.action == Action.SUBMIT_DRAFT else None,
        )  # fmt: skip
        _effects(session, actor, booking, found=found, step=step, event=event, deps=deps)
        _close(session, open_payment, deps)
        notify_step(session, booking, event)
        if found.target in FINAL_STATES:
            emit(session, "artist", booking.artist_id)  # reliability and sales feed the artist's document
    return booking


def _is_due(booking: Booking, action: Action, now: dt.datetime) -> bool:
    """Re-checked on the row the job is about to move: a reply may have reset the clock since the scan."""
    if action == Action.EXPIRE:
        return booking.reply_due_at is not None and booking.reply_due_at <= now
    if action in (Action.COMPLETE, Action.DISPUTE):
        return booking.live_until is not None and booking.live_until <= now
    return True


def system_step(session: Session, booking_id: int, action: Action, *, deps: Deps, note: str = "") -> Booking | None:
    """A step the periodic jobs take (expire, complete, pay, or dispute a vanished video).

    Returns None when the booking moved on meanwhile (a person acted first): the job simply skips it.
    """
    booking = session.get(Booking, booking_id)
    found = rule(action, booking.state, Party.SYSTEM) if booking is not None else None
    if booking is None or found is None or not _is_due(booking, action, clock.now()):
        session.rollback()
        return None
    try:
        with _step_tx(session):
            open_payment = _lock_open_payment(session, booking, found, deps)
            event = transition(session, booking, found, actor_id=None, policy=deps.policy, note=note)
            if action == Action.PAY:
                event.amount_fen = escrow.release(session, booking)
            notify_step(session, booking, event)
            _close(session, open_payment, deps)
            if action == Action.PAY:
                emit(session, "artist", booking.artist_id)
    except DomainError as exc:
        if exc.code == "booking_changed":
            return None
        raise
    return booking


def rate(session: Session, actor: User | None, booking_id: int, *, stars: int, comment: str = "") -> Booking:
    """The brand rates the artist once the booking is completed (or paid); rating again replaces it."""
    actor = require_user(actor)
    booking, parties = get_for(session, actor, booking_id)
    if Party.BRAND not in parties:
        raise PermissionDenied("booking_not_your_move")
    if booking.state not in (BookingState.COMPLETED, BookingState.PAID):
        raise Conflict("booking_bad_state", state=booking.state.value, action="rate")
    if not 1 <= stars <= 5:
        raise ValidationFailed.one("stars", "less_than_equal" if stars > 5 else "greater_than_equal")
    with _step_tx(session):
        booking.rating = stars
        booking.rating_comment = comment.strip()[:500]
    return booking


def due(session: Session, now: dt.datetime, *, limit: int = 500) -> dict[Action, list[int]]:
    """Bookings the periodic job must move: replies overdue, live checks over, completed ones to pay."""
    overdue = select(Booking.id).where(Booking.state.in_(AWAITING_REPLY), Booking.reply_due_at <= now)
    checked = select(Booking.id).where(Booking.state == BookingState.PUBLISHED, Booking.live_until <= now)
    unpaid = select(Booking.id).where(Booking.state == BookingState.COMPLETED)
    return {
        Action.EXPIRE: list(session.scalars(overdue.order_by(Booking.id).limit(limit))),
        Action.COMPLETE: list(session.scalars(checked.order_by(Booking.id).limit(limit))),
        Action.PAY: list(session.scalars(unpaid.order_by(Booking.id).limit(limit))),
    }

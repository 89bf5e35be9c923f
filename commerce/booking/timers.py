"""The periodic booking job: expire unanswered bookings, finish live checks, pay the artists.

Waits are rows (`reply_due_at`, `live_until`) scanned here, never countdown
tasks. Each booking moves in its own short transaction through the same rules
and optimistic lock as a person's click, so a reply that lands while the job
runs wins or loses cleanly, and running the job twice changes nothing.
"""

from __future__ import annotations

import logging
from collections import Counter

from sqlalchemy.orm import Session

from commerce.booking.bookings import Deps, due, system_step
from commerce.booking.machine import Action
from commerce.booking.models import Booking
from core import clock
from core.errors import register_messages
from media.models import Video

log = logging.getLogger(__name__)

register_messages(
    {
        "note_reply_overdue": ("超过 {hours} 小时未回复，已自动失效", "No reply within {hours} h: expired"),
        "note_live_check_passed": ("视频在线检查通过", "The video stayed live through the check"),
        "note_video_not_live": ("在线检查期间视频已下线", "The video went offline during the live check"),
        "note_paid": ("费用已从担保结算给艺人", "The fee was released from escrow to the artist"),
    }
)


def _still_live(session: Session, booking_id: int) -> bool:
    booking = session.get(Booking, booking_id)
    video = session.get(Video, booking.video_id) if booking and booking.video_id else None
    return video is not None and video.is_live


def sweep(session: Session, *, deps: Deps) -> Counter[str]:
    """Move every booking that is due now; returns how many took each step."""
    done: Counter[str] = Counter()
    work = due(session, clock.now())
    session.rollback()  # end the read transaction: each step below is its own
    hours = int(deps.policy.reply_window.total_seconds() // 3600)
    for booking_id in work[Action.EXPIRE]:
        if system_step(session, booking_id, Action.EXPIRE, deps=deps, note=f"note_reply_overdue:{hours}"):
            done["expired"] += 1
    to_pay = list(work[Action.PAY])
    for booking_id in work[Action.COMPLETE]:
        if not _still_live(session, booking_id):
            if system_step(session, booking_id, Action.DISPUTE, deps=deps, note="note_video_not_live"):
                done["disputed"] += 1
        elif system_step(session, booking_id, Action.COMPLETE, deps=deps, note="note_live_check_passed"):
            done["completed"] += 1
            to_pay.append(booking_id)
    for booking_id in to_pay:
        try:
            if system_step(session, booking_id, Action.PAY, deps=deps, note="note_paid"):
                done["paid"] += 1
        except Exception:  # one booking's ledger trouble must not stop the others; it stays completed and retries
            log.exception("paying booking %s failed", booking_id)
            session.rollback()
            done["failed"] += 1
    return done

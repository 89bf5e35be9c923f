"""In-app notifications for every booking step: everyone on the booking but the one who took the step."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.booking.models import Booking, BookingEvent, Party
from commerce.notifications.service import notify, register_templates
from core.accounts.models import BrandMember, User
from core.errors import translate
from core.money import format_yuan

register_templates(
    {
        "booking.invite": (
            "{brand} 邀请你参与「{campaign}」，出价 ¥{fee}",
            "{brand} invited you to “{campaign}” for ¥{fee}",
        ),
        "booking.apply": ("{artist} 报名了「{campaign}」，报价 ¥{fee}", "{artist} applied to “{campaign}” for ¥{fee}"),
        "booking.quote": ("{artist} 对「{campaign}」报价 ¥{fee}", "{artist} quoted ¥{fee} for “{campaign}”"),
        "booking.counter": ("{brand} 对「{campaign}」还价 ¥{fee}", "{brand} countered ¥{fee} for “{campaign}”"),
        "booking.accept": ("「{campaign}」合作已确认，费用 ¥{fee}", "“{campaign}” is agreed at ¥{fee}"),
        "booking.decline": ("「{campaign}」的合作被拒绝", "“{campaign}” was declined"),
        "booking.cancel": ("「{campaign}」的合作已取消", "“{campaign}” was cancelled"),
        "booking.fund": (
            "{brand} 已将 ¥{fee} 存入担保，可以开始创作「{campaign}」",
            "{brand} put ¥{fee} in escrow: start on “{campaign}”",
        ),
        "booking.submit_draft": ("{artist} 提交了「{campaign}」的草稿", "{artist} delivered a draft for “{campaign}”"),
        "booking.request_revision": (
            "{brand} 希望修改「{campaign}」的草稿",
            "{brand} asked for changes to the “{campaign}” draft",
        ),
        "booking.approve": (
            "{brand} 通过了「{campaign}」的草稿，可以发布了",
            "{brand} approved the “{campaign}” draft: publish it",
        ),
        "booking.publish": ("{artist} 发布了「{campaign}」的视频", "{artist} published the “{campaign}” video"),
        "booking.dispute": ("「{campaign}」的合作进入争议处理", "“{campaign}” is in dispute"),
        "booking.resolve": ("「{campaign}」的争议已处理", "The “{campaign}” dispute is resolved"),
        "booking.expire": ("「{campaign}」的合作因超时未回复已失效", "“{campaign}” expired without a reply"),
        "booking.complete": ("「{campaign}」的视频已通过在线检查", "The “{campaign}” video passed its live check"),
        "booking.pay": ("「{campaign}」的费用已结算", "“{campaign}” is paid out"),
    }
)


def brand_member_ids(session: Session, brand_id: int) -> list[int]:
    return list(session.scalars(select(BrandMember.user_id).where(BrandMember.brand_id == brand_id)))


def notify_step(session: Session, booking: Booking, event: BookingEvent) -> None:
    """Tell everyone on the booking but whoever took the step (colleagues too); admins hear of new disputes."""
    recipients = {booking.artist_id, *brand_member_ids(session, booking.brand_id)}
    if event.action == "dispute":
        recipients.update(session.scalars(select(User.id).where(User.is_admin, User.is_active)))
    if event.actor_id is not None:
        recipients.discard(event.actor_id)
    campaign = booking.campaign
    params = {
        "booking_id": booking.id,
        "campaign": campaign.title,
        "brand": campaign.brand.name,
        "artist": booking.artist.display_name,
        "fee": format_yuan(booking.fee_fen),
        "state": event.to_state.value,
    }
    notify(session, recipients, f"booking.{event.action}", params, link=f"/bookings/{booking.id}")


def note_text(event: BookingEvent, locale: str) -> str:
    """A step's note as people read it: the periodic job writes message codes (`note_x:param`), people write text."""
    if event.party == Party.SYSTEM and event.note.startswith("note_"):
        code, _, arg = event.note.partition(":")
        return translate(code, locale, {"hours": arg})
    return event.note

"""In-app notifications for every booking step: everyone on the booking but the one who took the step."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.booking.models import Booking, BookingEvent, Party
from commerce.notifications.service import notify, register_templates
from core.accounts.models import BrandMember, User
from core.errors import is_registered, register_messages, translate
from core.money import format_yuan

# The timeline as sentences: who did what, with the amounts in yuan; never an id, a state's code or raw data.
register_messages(
    {
        "party_brand": ("品牌", "Brand"),
        "party_artist": ("艺人", "Artist"),
        "party_admin": ("平台", "Platform"),
        "party_system": ("系统", "System"),
        "event_invite": ("{who} 发出邀请，出价 ¥{fee}", "{who} sent an invitation at ¥{fee}"),
        "event_apply": ("{who} 报名参与，报价 ¥{fee}", "{who} applied at ¥{fee}"),
        "event_quote": ("{who} 报价 ¥{fee}", "{who} quoted ¥{fee}"),
        "event_counter": ("{who} 还价 ¥{fee}", "{who} countered with ¥{fee}"),
        "event_accept": ("{who} 接受了 ¥{fee} 的费用", "{who} accepted the fee of ¥{fee}"),
        "event_decline": ("{who} 拒绝了合作", "{who} declined"),
        "event_cancel": ("{who} 取消了合作", "{who} cancelled the booking"),
        "event_cancel_money": (
            "{who} 取消了合作，担保中的 ¥{amount} 已按规则结清",
            "{who} cancelled the booking; the ¥{amount} in escrow was settled by the rules",
        ),
        "event_fund": ("{who} 将 ¥{amount} 存入担保", "{who} put ¥{amount} in escrow"),
        "event_submit_draft": ("{who} 提交了草稿「{title}」", "{who} submitted the draft “{title}”"),
        "event_request_revision": ("{who} 要求修改草稿", "{who} asked for changes to the draft"),
        "event_approve": ("{who} 通过了草稿", "{who} approved the draft"),
        "event_publish": ("{who} 发布了视频「{title}」", "{who} published “{title}”"),
        "event_dispute": ("{who} 发起了争议", "{who} opened a dispute"),
        "event_resolve": (
            "{who} 裁决了争议，担保中的 ¥{amount} 已分配",
            "{who} resolved the dispute; the ¥{amount} in escrow was shared out",
        ),
        "event_expire": ("超时未回复，合作已失效", "Nobody replied in time: the booking expired"),
        "event_complete": ("视频通过了在线检查", "The video passed its live check"),
        "event_pay": ("¥{amount} 已从担保结算给艺人", "¥{amount} was released from escrow to the artist"),
        "event_other": ("{who} 更新了合作", "{who} updated the booking"),
        "untitled_video": ("未命名视频", "an untitled video"),
        "note_paid_online": ("通过在线支付存入", "Paid online"),
    }
)

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
    """A step's note as people read it: the system writes message codes (`note_x:param`), people write text."""
    code, _, arg = event.note.partition(":")
    if code.startswith("note_") and is_registered(code) and (event.party == Party.SYSTEM or not arg):
        return translate(code, locale, {"hours": arg})
    return event.note


def who(event: BookingEvent, actor_name: str | None, locale: str) -> str:
    party = translate(f"party_{event.party.value}", locale)
    return f"{party} {actor_name}" if actor_name and event.party != Party.SYSTEM else party


def sentence(
    event: BookingEvent, *, actor_name: str | None, fee_fen: int | None, title: str | None, locale: str
) -> str:
    """What this step was, in one sentence: `fee_fen` is the fee agreed (for acceptances, whose event names none),
    `title` the video's (the draft submitted, the video published)."""
    action = event.action
    params = {
        "who": who(event, actor_name, locale),
        "fee": format_yuan(event.fee_fen if event.fee_fen is not None else fee_fen or 0),
        "amount": format_yuan(event.amount_fen or 0),
        "title": title or translate("untitled_video", locale),
    }
    code = f"event_{action}"
    if action == "cancel" and event.amount_fen:
        code = "event_cancel_money"
    if not is_registered(code):
        code = "event_other"
    return translate(code, locale, params)

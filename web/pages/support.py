"""Customer-service pages: the buyer's chat (/chat/<id>, a phone page), a cart card's checkout, and the agents'
inbox on the brand dashboard (/brand/<id>/inbox: conversations, the chat, cart and coupon composers, the desk and
each agent's performance). Scripts in static/support/ call the JSON API and listen on the chat socket
(web.realtime), falling back to its SSE stream."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template

from commerce.marketing import coupons
from commerce.support import conversations, fees, staff
from commerce.support.models import Agent
from core import extensions
from core.accounts.models import Brand, User
from web.auth import signed_in_page
from web.pages.brand import _render

bp = Blueprint("support_pages", __name__, template_folder="../templates")


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"pct": lambda bp: f"{bp / 100:g}", "describe": coupons.describe}


@bp.get("/chat/<int:conversation_id>")
@signed_in_page
def chat(user: User, conversation_id: int) -> str | Response:
    """The buyer's conversation with a brand (an agent opening it sees the same thread from their side)."""
    s = extensions.session()
    conversation, side = conversations.get(s, user, conversation_id)
    brand = s.get(Brand, conversation.brand_id)
    return render_template("support/chat.html", conversation=conversation, side=side, brand=brand)


@bp.get("/chat/<int:conversation_id>/cards/<int:message_id>/checkout")
@signed_in_page
def card_checkout(user: User, conversation_id: int, message_id: int) -> str | Response:
    """A cart card's lines and the delivery address: one step to the payment."""
    s = extensions.session()
    conversation, message = conversations.cart_card(s, user, conversation_id, message_id)
    card = conversations.card_details(s, extensions.storage(), message, "zh-CN")
    return render_template("support/card_checkout.html", conversation=conversation, message=message, card=card)


@bp.get("/brand/<int:brand_id>/inbox")
@signed_in_page
def inbox(user: User, brand_id: int) -> str | Response:
    s = extensions.session()
    conversations.inbox(s, user, brand_id)  # staff only (the page's script lists them)
    skus, coupon_rows = staff.composer_options(s, user, brand_id)
    desk = staff.settings_of(s, brand_id)
    agent = s.get(Agent, (brand_id, user.id))
    return _render(
        "support/inbox.html", user, brand_id, "inbox", skus=skus, coupons=coupon_rows,
        desk=desk, agents=staff.agent_names(s, brand_id), performance=fees.performance(s, user, brand_id),
        is_agent=agent is not None, agent_available=agent is not None and agent.is_available,
        is_member=brand_id in user.brand_ids() or user.is_admin,
    )  # fmt: skip

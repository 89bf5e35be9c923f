"""Customer service (客服) tables: a brand's desk (routing, the agents' service fee), its agents, the buyer ↔ brand
conversations and their messages.

An agent is a person the brand appointed to answer buyers: one of its members, or one of its approved
distributors (代理只做客服: a distributor who serves customers earns the desk's service fee on what they sell
in a conversation, never a recruiting reward). Brand membership alone does not make an agent.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, str_enum


class RoutingMode(enum.StrEnum):
    ROUND_ROBIN = "round_robin"  # each new conversation to the next available agent, in turn
    LEAST_BUSY = "least_busy"  # to the available agent with the fewest open conversations


class Desk(Base):
    """A brand's customer-service settings (one per brand; made on first use). Its row is also the lock that
    routes one new conversation at a time (`route_seq` is bumped by a conditional UPDATE before choosing)."""

    __tablename__ = "support_desks"
    __table_args__ = (CheckConstraint("agent_fee_bp >= 0 AND agent_fee_bp <= 10000", name="fee_range"),)

    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), primary_key=True)
    routing: Mapped[RoutingMode] = mapped_column(str_enum(RoutingMode, 16), default=RoutingMode.ROUND_ROBIN)
    agent_fee_bp: Mapped[int] = mapped_column(default=0)  # of what a conversation's order pays; 0: no fee
    route_seq: Mapped[int] = mapped_column(default=0)
    last_agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


class Agent(Base):
    __tablename__ = "support_agents"

    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    is_available: Mapped[bool] = mapped_column(default=True)  # on duty: new conversations may be routed to them
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


class ConversationStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Conversation(Base):
    """One buyer and one brand. Unread counts are kept per side on the row (bumped by each message)."""

    __tablename__ = "support_conversations"
    __table_args__ = (
        UniqueConstraint("brand_id", "buyer_id"),
        Index("ix_support_conversations_brand_last", "brand_id", "last_message_at"),
        Index("ix_support_conversations_agent_status", "agent_id", "status"),
        Index("ix_support_conversations_buyer", "buyer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    routed_via: Mapped[str | None] = mapped_column(String(16), default=None)  # distributor | round_robin | ...
    status: Mapped[ConversationStatus] = mapped_column(
        str_enum(ConversationStatus, 16), default=ConversationStatus.OPEN
    )
    buyer_unread: Mapped[int] = mapped_column(default=0)
    agent_unread: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    last_message_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    # The first agent answer after the buyer's first message (the first response time).
    first_buyer_message_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    first_response_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class MessageKind(enum.StrEnum):
    TEXT = "text"
    IMAGE = "image"
    PRODUCT = "product"  # a product card
    ORDER = "order"  # an order card
    CART = "cart"  # SKUs and quantities the buyer checks out in one tap (agents only)
    COUPON = "coupon"  # a brand coupon issued to the buyer (agents only)


class Message(Base):
    __tablename__ = "support_messages"
    __table_args__ = (Index("ix_support_messages_conversation_id", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("support_conversations.id", ondelete="CASCADE"))
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    side: Mapped[str] = mapped_column(String(8))  # buyer | agent
    kind: Mapped[MessageKind] = mapped_column(str_enum(MessageKind, 16))
    body: Mapped[str] = mapped_column(String(2000), default="")
    # Cards: the ids they show (product_id, order_id, items [{sku_id, quantity}], user_coupon_id); images: keys.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


class ConversationOrder(Base):
    """An order placed from a conversation's cart card, and the agent it credits (the fee itself is on the order
    line, `agent_fee_bp`, and reaches the agent through the split)."""

    __tablename__ = "support_conversation_orders"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("support_conversations.id", ondelete="CASCADE"),
                                                 index=True)  # fmt: skip
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


__all__ = ["Agent", "Conversation", "ConversationOrder", "ConversationStatus", "Desk", "Message", "MessageKind",
           "RoutingMode"]  # fmt: skip

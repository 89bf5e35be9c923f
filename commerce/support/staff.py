"""Who serves a brand's buyers: the desk (routing, the agents' fee) and its agents, and who may see what.

Agents are appointed by the brand from its members and approved distributors. An agent sees the conversations
routed to them and the ones waiting for anybody; brand members (and admins) see every conversation of the brand.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from commerce.catalog.limits import CatalogLimits
from commerce.catalog.models import Product, ProductStatus, Sku
from commerce.distribution.models import Distributor, DistributorStatus
from commerce.orders.models import Coupon, CouponFunding
from commerce.support.models import Agent, Conversation, Desk, RoutingMode
from core import clock
from core.accounts.models import Brand, BrandMember, User
from core.accounts.permissions import require_brand_member, require_user
from core.errors import NotFound, PermissionDenied, ValidationFailed, register_field_labels, register_messages

register_messages(
    {
        "agent_not_staff": (
            "只能任命品牌成员或已通过审核的分销员为客服",
            "Only the brand's members and approved distributors can be agents",
        ),
        "agent_fee_out_of_bounds": (
            "客服服务费应为 0，或在 {min_pct}% 到 {max_pct}% 之间",
            "The agent fee must be 0, or between {min_pct}% and {max_pct}%",
        ),
        "not_support_staff": ("只有该品牌的客服和成员可以查看", "Only the brand's agents and members can see this"),
    }
)
register_field_labels(
    {
        "agent_fee_bp": ("客服服务费", "The agent fee"),
        "routing": ("分配方式", "The routing"),
        "user_id": ("用户", "The user"),
    }
)


def desk(session: Session, brand_id: int) -> Desk:
    """The brand's desk, made with the defaults on first use (a racing first use keeps the other's row)."""
    found = session.get(Desk, brand_id)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            session.add(Desk(brand_id=brand_id))
    except IntegrityError:
        pass
    found = session.get(Desk, brand_id)
    assert found is not None
    return found


def settings_of(session: Session, brand_id: int) -> Desk:
    """The brand's desk as it stands, its defaults when it was never used (nothing is written)."""
    return session.get(Desk, brand_id) or Desk(brand_id=brand_id, routing=RoutingMode.ROUND_ROBIN, agent_fee_bp=0)


def is_agent(session: Session, brand_id: int, user_id: int) -> bool:
    return session.get(Agent, (brand_id, user_id)) is not None


def staff_side(session: Session, user: User, brand_id: int) -> str | None:
    """ "agent" for an appointed agent, "member" for another member (or an admin), None for anyone else."""
    if is_agent(session, brand_id, user.id):
        return "agent"
    if user.is_admin or brand_id in user.brand_ids():
        return "member"
    return None


def require_staff(session: Session, user: User | None, brand_id: int) -> tuple[User, str]:
    user = require_user(user)
    side = staff_side(session, user, brand_id)
    if side is None:
        raise PermissionDenied("not_support_staff")
    # An admin serves any brand, but is told (like `require_brand_member`) when there is none: not an empty inbox
    # and a default desk for a brand that does not exist
    if user.is_admin and side == "member" and session.get(Brand, brand_id) is None:
        raise NotFound("brand")
    return user, side


def sees(session: Session, user: User, conversation: Conversation) -> str | None:
    """The side `user` takes in a conversation ("buyer" or "agent"), None when it is not theirs to see."""
    if conversation.buyer_id == user.id:
        return "buyer"
    side = staff_side(session, user, conversation.brand_id)
    if side == "member":
        return "agent"
    if side == "agent" and conversation.agent_id in (None, user.id):
        return "agent"
    return None


def list_agents(session: Session, user: User | None, brand_id: int) -> list[Agent]:
    require_staff(session, user, brand_id)
    return list(session.scalars(select(Agent).where(Agent.brand_id == brand_id).order_by(Agent.user_id)))


def _may_serve(session: Session, brand_id: int, user_id: int) -> bool:
    if session.get(BrandMember, (brand_id, user_id)) is not None:
        return True
    status = session.scalar(
        select(Distributor.status).where(Distributor.brand_id == brand_id, Distributor.user_id == user_id)
    )
    return status == DistributorStatus.APPROVED


def appoint(session: Session, user: User | None, brand_id: int, user_id: int) -> Agent:
    """A brand member makes one of its members or approved distributors an agent. Commits."""
    require_brand_member(session, user, brand_id)
    if session.get(User, user_id) is None or not _may_serve(session, brand_id, user_id):
        raise ValidationFailed.one("user_id", "agent_not_staff")
    agent = session.get(Agent, (brand_id, user_id))
    if agent is None:
        agent = Agent(brand_id=brand_id, user_id=user_id, created_at=clock.now())
        session.add(agent)
    session.commit()
    return agent


def dismiss(session: Session, user: User | None, brand_id: int, user_id: int) -> None:
    """No longer an agent: their open conversations wait for another agent. Commits."""
    require_brand_member(session, user, brand_id)
    agent = session.get(Agent, (brand_id, user_id))
    if agent is None:
        raise NotFound("agent")
    session.delete(agent)
    for conversation in session.scalars(
        select(Conversation).where(Conversation.brand_id == brand_id, Conversation.agent_id == user_id)
    ):
        conversation.agent_id = None
    session.commit()


def set_available(session: Session, user: User | None, brand_id: int, available: bool) -> Agent:
    """An agent goes on or off duty (off duty: no new conversations are routed to them). Coming on duty routes the
    conversations waiting for anybody (`routing.route_waiting`, oldest first). Commits."""
    from commerce.support import routing  # routing uses this module's desk()

    user = require_user(user)
    agent = session.get(Agent, (brand_id, user.id))
    if agent is None:
        raise PermissionDenied("not_support_staff")
    agent.is_available = available
    if available:
        session.flush()
        routing.route_waiting(session, brand_id, clock.now())
    session.commit()
    return agent


def configure(
    session: Session, user: User | None, brand_id: int, *, routing: RoutingMode | None, agent_fee_bp: int | None,
    limits: CatalogLimits,
) -> Desk:  # fmt: skip
    """The brand owner sets how new conversations are routed and the agents' fee: 0 (none) or within the
    affiliate bounds, like a commission. Commits."""
    require_brand_member(session, user, brand_id, owner=agent_fee_bp is not None)
    if agent_fee_bp is not None and agent_fee_bp != 0 and not limits.rate_min_bp <= agent_fee_bp <= limits.rate_max_bp:
        raise ValidationFailed.one("agent_fee_bp", "agent_fee_out_of_bounds", min_pct=f"{limits.rate_min_bp / 100:g}",
                                   max_pct=f"{limits.rate_max_bp / 100:g}")  # fmt: skip
    found = desk(session, brand_id)
    if routing is not None:
        found.routing = routing
    if agent_fee_bp is not None:
        found.agent_fee_bp = agent_fee_bp
    found.updated_at = clock.now()
    session.commit()
    return found


@dataclass(frozen=True)
class SkuOption:
    sku_id: int
    label: str
    price_fen: int


def composer_options(session: Session, user: User | None, brand_id: int) -> tuple[list[SkuOption], list[Coupon]]:
    """What an agent can put in a cart card (the brand's SKUs on sale) and the coupons they can send (the brand's
    own, active)."""
    require_staff(session, user, brand_id)
    rows = session.execute(
        select(Sku.id, Product.name, Sku.attributes, Sku.price_fen)
        .join(Product, Product.id == Sku.product_id)
        .where(Product.brand_id == brand_id, Product.status == ProductStatus.ACTIVE, Sku.is_active.is_(True))
        .order_by(Product.id, Sku.id)
        .limit(200)
    ).all()
    skus = [SkuOption(r.id, " ".join([r.name, *(str(v) for v in (r.attributes or {}).values())]), r.price_fen)
            for r in rows]  # fmt: skip
    found = session.scalars(
        select(Coupon)
        .where(Coupon.brand_id == brand_id, Coupon.funded_by == CouponFunding.BRAND, Coupon.is_active.is_(True))
        .order_by(Coupon.id.desc())
        .limit(50)
    )
    return skus, list(found)


def agent_names(session: Session, brand_id: int) -> list[tuple[Agent, str]]:
    rows = session.execute(
        select(Agent, User.display_name).join(User, User.id == Agent.user_id).where(Agent.brand_id == brand_id)
        .order_by(Agent.user_id)
    ).all()  # fmt: skip
    return [(a, name) for a, name in rows]

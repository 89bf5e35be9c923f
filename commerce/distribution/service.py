"""A brand's distributor programme: its terms, invites (signed link + QR code), staff import, approval, shops.

- **Terms.** One programme per brand: how many days a brought customer stays bound (锁客), the default
  commission rate and per-product rates (bp, inside the platform's affiliate bounds), and an optional level-2
  share: the part of a distributor's commission that goes to the distributor who invited them. Two levels at
  most, ever. Nothing is charged to join and nothing is paid for joining or recruiting: no column exists for it.
- **Invites.** An HMAC-signed link (`/distribution/join/<token>`, valid 7 days, the key id inside so keys
  rotate) names the brand and the inviting distributor (or the brand itself); its QR code is an SVG. Accepting
  it makes the signed-in user a pending distributor; the brand approves or suspends them. A brand can also
  import its stores' staff from a CSV (phone or e-mail of an existing account, store, region): they are
  approved at once, since the brand vouches for its own staff.
- **Micro-shop.** An approved distributor picks products of the brand's catalog; `/shop/<id>` shows them, each
  with the distributor's own signed share link (`commerce.attribution`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.attribution import links
from commerce.attribution.links import ShareClaim, TargetKind
from commerce.catalog import csv_io
from commerce.catalog.limits import CatalogLimits
from commerce.catalog.models import Product, ProductStatus
from commerce.distribution import binding
from commerce.distribution.models import Distributor, DistributorStatus, ProductRate, Programme, ShopPick
from core import clock, qr
from core.accounts.models import Brand, BrandMember, User
from core.accounts.permissions import require_brand_member, require_user
from core.errors import (
    Conflict,
    FieldError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    register_field_labels,
    register_messages,
)

register_messages(
    {
        "distribution_not_open": ("该品牌暂未开放分销", "This brand has no open distributor programme"),
        "distribution_invite_invalid": ("邀请链接无效", "This invite link is not valid"),
        "distribution_invite_expired": (
            "邀请链接已过期，请向品牌索取新的链接",
            "This invite has expired; ask the brand for a new one",
        ),
        "distribution_own_brand": ("品牌成员不能成为本品牌的分销商", "Members of a brand cannot be its distributors"),
        "distribution_not_distributor": ("您还不是该品牌的分销商", "You are not a distributor of this brand"),
        "distribution_not_approved": ("品牌审核通过后才能开店", "Your shop opens once the brand approves you"),
        "distribution_suspended": (
            "品牌已暂停您的分销资格，如有疑问请联系品牌",
            "The brand has suspended you as a distributor; ask the brand if you think this is a mistake",
        ),
        "distribution_inviter_not_approved": (
            "邀请您的分销商已被品牌暂停，请向品牌索取新的邀请链接",
            "The distributor who invited you is suspended; ask the brand for a new invite",
        ),
        "distribution_no_shop": ("找不到这个小店，或它已关闭", "This shop does not exist or is closed"),
        "distribution_no_distributor": ("该品牌没有这个分销商", "This brand has no such distributor"),
        "distribution_product_not_brand": ("只能选择本品牌在售的商品", "Pick products this brand has on sale"),
        "distribution_import_failed": (
            "CSV 中有 {count} 处错误，整个文件未导入，请修改后重试",
            "The CSV has {count} problem(s); nothing was imported. Fix them and retry",
        ),
        "distribution_no_account": ("没有使用该手机号或邮箱的账号", "No account uses this phone number or e-mail"),
        "distribution_duplicate_row": ("与第 {first_row} 行是同一个人", "Same person as row {first_row}"),
        "distribution_contact_required": ("请填写手机号或邮箱", "Give a phone number or an e-mail"),
        "binding_days_out_of_bounds": ("{label}应在 1 到 365 天之间", "{label} must be 1 to 365 days"),
        "level2_share_out_of_bounds": ("{label}应在 0% 到 50% 之间", "{label} must be 0% to 50%"),
        "distribution_rate_out_of_bounds": (
            "{label}应在 {min_pct}% 到 {max_pct}% 之间",
            "{label} must be between {min_pct}% and {max_pct}%",
        ),
        "distribution_text_too_long": ("{label}不能超过 80 个字", "{label} must be at most 80 characters"),
    }
)
register_field_labels(
    {
        "binding_days": ("锁客天数", "Binding days"),
        "default_rate_bp": ("默认佣金率", "The default commission rate"),
        "level2_share_bp": ("二级分成", "The level-2 share"),
        "product_rates": ("商品佣金率", "Product rates"),
        "product_rates.*.rate_bp": ("第 {0} 个商品的佣金率", "Rate of product {0}"),
        "product_rates.*.product_id": ("第 {0} 个商品", "Product {0}"),
        "store": ("门店", "The store"),
        "invite": ("邀请链接", "The invite link"),
    }
)

INVITE_TTL = dt.timedelta(days=7)
INVITE_PATH = "/distribution/join/"
JOIN_PATH = INVITE_PATH  # the page a QR code opens
LEVEL2_MAX_BP = 5000
MAX_TEXT = 80
STAFF = csv_io.Table(
    columns=("phone", "email", "store", "region"),
    required=("store",),
    aliases={"手机号": "phone", "手机": "phone", "邮箱": "email", "门店": "store", "区域": "region", "地区": "region"},
    labels={"phone": ("手机号", "Phone"), "email": ("邮箱", "E-mail"), "store": ("门店", "Store"),
            "region": ("区域", "Region")},
)  # fmt: skip


# -- terms ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Terms:
    binding_days: int
    default_rate_bp: int
    level2_share_bp: int
    rates: dict[int, int]  # product id -> rate bp
    is_open: bool
    renew_on_purchase: bool = True  # a paid order starts the customer's binding days again


def programme_of(session: Session, brand_id: int) -> Programme | None:
    return session.scalar(select(Programme).where(Programme.brand_id == brand_id))


def _open_programme(session: Session, brand_id: int) -> Programme:
    programme = programme_of(session, brand_id)
    if programme is None or not programme.is_open:
        raise NotFound("distribution_programme", code="distribution_not_open")
    return programme


def rates_of(session: Session, programme: Programme) -> dict[int, int]:
    rows = session.execute(
        select(ProductRate.product_id, ProductRate.rate_bp).where(ProductRate.programme_id == programme.id)
    )
    return {int(p): int(r) for p, r in rows}


def terms_of(session: Session, programme: Programme) -> Terms:
    return Terms(programme.binding_days, programme.default_rate_bp, programme.level2_share_bp,
                 rates_of(session, programme), programme.is_open, programme.renew_on_purchase)  # fmt: skip


def _check_rate(field: str, rate_bp: int, limits: CatalogLimits) -> FieldError | None:
    if limits.rate_min_bp <= rate_bp <= limits.rate_max_bp:
        return None
    bounds = {"min_pct": f"{limits.rate_min_bp / 100:g}", "max_pct": f"{limits.rate_max_bp / 100:g}"}
    return FieldError(field, "distribution_rate_out_of_bounds", params=bounds)


def set_terms(
    session: Session, user: User | None, brand_id: int, *, binding_days: int, default_rate_bp: int,
    level2_share_bp: int = 0, rates: Sequence[tuple[int, int]] | None = None, is_open: bool = True,
    limits: CatalogLimits, renew_on_purchase: bool = True,
) -> Terms:  # fmt: skip
    """Open the brand's programme or change its terms (orders already placed keep the rates they snapshot).
    `rates` replaces the per-product rates; None keeps them (the terms form does not show them)."""
    require_brand_member(session, user, brand_id)
    errors = [e for e in [_check_rate("default_rate_bp", default_rate_bp, limits)] if e]
    if not 1 <= binding_days <= 365:
        errors.append(FieldError("binding_days", "binding_days_out_of_bounds"))
    if not 0 <= level2_share_bp <= LEVEL2_MAX_BP:
        errors.append(FieldError("level2_share_bp", "level2_share_out_of_bounds"))
    wanted: dict[int, int] = {}
    for i, (product_id, rate_bp) in enumerate(rates or ()):
        error = _check_rate(f"product_rates.{i}.rate_bp", rate_bp, limits)
        if error:
            errors.append(error)
        product = session.get(Product, product_id)
        if product is None or product.brand_id != brand_id:
            errors.append(FieldError(f"product_rates.{i}.product_id", "distribution_product_not_brand"))
        wanted[product_id] = rate_bp
    if errors:
        raise ValidationFailed(fields=errors)
    programme = programme_of(session, brand_id)
    if programme is None:
        programme = Programme(brand_id=brand_id, default_rate_bp=default_rate_bp)
        session.add(programme)
    programme.binding_days = binding_days
    programme.default_rate_bp = default_rate_bp
    programme.level2_share_bp = level2_share_bp
    programme.is_open = is_open
    programme.renew_on_purchase = renew_on_purchase
    programme.updated_at = clock.now()
    session.flush()
    if rates is not None:
        for row in session.scalars(select(ProductRate).where(ProductRate.programme_id == programme.id)):
            if row.product_id not in wanted:
                session.delete(row)
            else:
                row.rate_bp = wanted.pop(row.product_id)
        session.add_all(ProductRate(programme_id=programme.id, product_id=p, rate_bp=r) for p, r in wanted.items())
    session.commit()
    return terms_of(session, programme)


def get_terms(session: Session, user: User | None, brand_id: int) -> Terms | None:
    require_brand_member(session, user, brand_id)
    programme = programme_of(session, brand_id)
    return terms_of(session, programme) if programme else None


# -- invites ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invite:
    brand_id: int
    inviter_id: int | None  # a distributor of the brand, or None for the brand itself
    issued_at: dt.datetime
    key_id: str


def _invite_keys(keys: Sequence[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Keys of their own for invites (derived from the link keys), so no share token can pass for an invite."""
    return [(kid, hmac.new(secret, b"distribution-invite", hashlib.sha256).digest()) for kid, secret in keys]


def sign_invite(invite: Invite, keys: Sequence[tuple[str, bytes]]) -> str:
    # The share-link format, with the brand as the "target" and the inviter as the "sharer".
    claim = ShareClaim(sharer_id=invite.inviter_id or invite.brand_id, target_kind=TargetKind.PRODUCT,
                       target_id=invite.brand_id, issued_at=invite.issued_at, key_id=keys[0][0],
                       parent_sharer_id=1 if invite.inviter_id else None)  # fmt: skip
    return links.sign(claim, _invite_keys(keys))


def read_invite(token: str, keys: Sequence[tuple[str, bytes]], *, now: dt.datetime) -> Invite:
    checked = links.check(token[:400], _invite_keys(keys), now=now, ttl=INVITE_TTL)
    if checked.claim is None:
        raise ValidationFailed.one("invite", "distribution_invite_invalid")
    if checked.expired:
        raise ValidationFailed.one("invite", "distribution_invite_expired")
    c = checked.claim
    return Invite(c.target_id, c.sharer_id if c.parent_sharer_id else None, c.issued_at, c.key_id)


@dataclass(frozen=True)
class InviteLink:
    token: str
    url: str
    expires_at: dt.datetime
    qr_svg: str


def qr_svg(text: str) -> str:
    """The QR code of `text` as an SVG document."""
    return qr.svg(text).decode()


def qr_data_uri(text: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(qr_svg(text).encode()).decode()


def create_invite(
    session: Session, user: User | None, brand_id: int, *, keys: Sequence[tuple[str, bytes]], base_url: str
) -> InviteLink:
    """An invite from the brand (a member asks) or from one of its approved distributors (their downline)."""
    user = require_user(user)
    _open_programme(session, brand_id)
    inviter = None
    if session.get(BrandMember, (brand_id, user.id)) is None and not user.is_admin:
        me = _distributor_of(session, brand_id, user.id)
        if me is None:
            raise PermissionDenied("not_brand_member")
        _require_approved(me)
        inviter = me.id
    now = clock.now().replace(microsecond=0)
    token = sign_invite(Invite(brand_id, inviter, now, keys[0][0]), keys)
    url = base_url.rstrip("/") + INVITE_PATH + token
    return InviteLink(token=token, url=url, expires_at=now + INVITE_TTL, qr_svg=qr_svg(url))


@dataclass(frozen=True)
class InvitePreview:
    brand: Brand
    inviter: User | None
    terms: Terms


def preview_invite(session: Session, token: str, *, keys: Sequence[tuple[str, bytes]]) -> InvitePreview:
    invite = read_invite(token, keys, now=clock.now())
    programme = _open_programme(session, invite.brand_id)
    brand = session.get(Brand, invite.brand_id)
    if brand is None:
        raise ValidationFailed.one("invite", "distribution_invite_invalid")
    inviter = _inviter(session, invite)
    inviter_user = session.get(User, inviter.user_id) if inviter else None
    return InvitePreview(brand, inviter_user, terms_of(session, programme))


def _inviter(session: Session, invite: Invite) -> Distributor | None:
    """The distributor whose invite this is (None: the brand's); one the brand has since suspended invites nobody."""
    inviter = session.get(Distributor, invite.inviter_id) if invite.inviter_id else None
    if inviter is not None and inviter.brand_id == invite.brand_id and inviter.status != DistributorStatus.APPROVED:
        raise ValidationFailed.one("invite", "distribution_inviter_not_approved")
    return inviter


def _require_approved(d: Distributor) -> None:
    if d.status == DistributorStatus.SUSPENDED:
        raise PermissionDenied("distribution_suspended")
    if d.status != DistributorStatus.APPROVED:
        raise PermissionDenied("distribution_not_approved")


def _distributor_of(session: Session, brand_id: int, user_id: int) -> Distributor | None:
    return session.scalar(select(Distributor).where(Distributor.brand_id == brand_id, Distributor.user_id == user_id))


def accept_invite(
    session: Session, user: User | None, token: str, *, keys: Sequence[tuple[str, bytes]], store: str = "",
    region: str = "",
) -> Distributor:  # fmt: skip
    """Join the brand's programme as a pending distributor (nothing to pay, nothing paid to anyone for it).
    Accepting again returns the same distributor."""
    user = require_user(user)
    invite = read_invite(token, keys, now=clock.now())
    _open_programme(session, invite.brand_id)
    _check_texts(store=store, region=region)
    if session.get(BrandMember, (invite.brand_id, user.id)) is not None:
        raise Conflict("distribution_own_brand")
    existing = _distributor_of(session, invite.brand_id, user.id)
    if existing is not None and existing.status == DistributorStatus.SUSPENDED:
        raise PermissionDenied("distribution_suspended")  # a new invite does not undo the brand's decision
    if existing is not None:
        return existing
    inviter = _inviter(session, invite)
    if inviter is not None and (inviter.brand_id != invite.brand_id or inviter.user_id == user.id):
        inviter = None  # an invite of another brand's distributor, or one's own: no upline
    distributor = Distributor(brand_id=invite.brand_id, user_id=user.id, inviter_id=inviter.id if inviter else None,
                              store=store.strip(), region=region.strip(), via="invite",
                              joined_at=clock.now())  # fmt: skip
    session.add(distributor)
    session.commit()
    return distributor


def _check_texts(**texts: str) -> None:
    errors = [FieldError(k, "distribution_text_too_long") for k, v in texts.items() if len(v.strip()) > MAX_TEXT]
    if errors:
        raise ValidationFailed(fields=errors)


def _brand_distributor(session: Session, user: User | None, brand_id: int, distributor_id: int) -> Distributor:
    require_brand_member(session, user, brand_id)
    d = session.get(Distributor, distributor_id)
    if d is None or d.brand_id != brand_id:
        raise NotFound("distributor", code="distribution_no_distributor")
    return d


def decide(
    session: Session, user: User | None, brand_id: int, distributor_id: int, *, status: DistributorStatus,
    store: str | None = None, region: str | None = None,
) -> Distributor:  # fmt: skip
    """Approve, suspend (or reinstate) a distributor, and file them under a store and region."""
    d = _brand_distributor(session, user, brand_id, distributor_id)
    _check_texts(store=store or "", region=region or "")
    if status != d.status:
        d.status = status
        d.decided_at = clock.now()
    if store is not None:
        d.store = store.strip()
    if region is not None:
        d.region = region.strip()
    session.commit()
    return d


@dataclass(frozen=True)
class DistributorRow:
    distributor: Distributor
    user: User


def list_distributors(session: Session, user: User | None, brand_id: int) -> list[DistributorRow]:
    """The brand's distributors, grouped by region and store."""
    require_brand_member(session, user, brand_id)
    rows = session.execute(
        select(Distributor, User).join(User, User.id == Distributor.user_id).where(Distributor.brand_id == brand_id)
        .order_by(Distributor.region, Distributor.store, Distributor.id)
    )  # fmt: skip
    return [DistributorRow(d, u) for d, u in rows]


@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int


def import_staff(session: Session, user: User | None, brand_id: int, data: bytes, *,
                 limits: CatalogLimits) -> ImportSummary:  # fmt: skip
    """Stores' staff from a CSV (the catalog's reader): each row an existing account (phone or e-mail), its store
    and region. All or nothing; every bad row reported. Imported staff are approved (the brand vouches for them)."""
    require_brand_member(session, user, brand_id)
    _open_programme(session, brand_id)
    rows = csv_io.read_rows(data, STAFF, max_bytes=limits.import_max_bytes, max_rows=limits.import_max_rows)
    errors = csv_io.RowErrors(STAFF.labels, "distribution_import_failed")
    found: list[tuple[User, str, str]] = []
    seen: dict[int, int] = {}
    for number, cells in rows:
        account = _staff_account(session, brand_id, errors, number, cells, seen=seen)
        if account is not None:
            found.append((account, cells.get("store", ""), cells.get("region", "")))
    errors.raise_if_any()
    created = updated = 0
    now = clock.now()
    for account, store, region in found:
        d = _distributor_of(session, brand_id, account.id)
        if d is None:
            d = Distributor(
                brand_id=brand_id, user_id=account.id, via="import", joined_at=now, status=DistributorStatus.PENDING
            )
            session.add(d)
            created += 1
        else:
            updated += 1
        d.store, d.region = store, region
        if d.status == DistributorStatus.PENDING:
            d.status, d.decided_at = DistributorStatus.APPROVED, now
    session.commit()
    return ImportSummary(created, updated)


def _staff_account(session: Session, brand_id: int, errors: csv_io.RowErrors, number: int, cells: dict[str, str], *,
                   seen: dict[int, int]) -> User | None:  # fmt: skip
    """The account one staff row names, or None with the row's problems noted."""
    phone, email = cells.get("phone", ""), cells.get("email", "").lower()
    if not phone and not email:
        errors.add(number, "phone", "distribution_contact_required")
        return None
    if not cells.get("store"):
        errors.add(number, "store", "required")
    for column in ("store", "region"):
        if len(cells.get(column, "")) > MAX_TEXT:
            errors.add(number, column, "distribution_text_too_long")
    contact = "phone" if phone else "email"
    account = session.scalar(select(User).where(User.phone == phone)) if phone else None
    if account is None and email:
        account = session.scalar(select(User).where(User.email == email))
    if account is None:
        errors.add(number, contact, "distribution_no_account")
        return None
    if account.id in seen:
        errors.add(number, contact, "distribution_duplicate_row", first_row=seen[account.id])
        return None
    seen[account.id] = number
    if session.get(BrandMember, (brand_id, account.id)) is not None:
        errors.add(number, contact, "distribution_own_brand")
        return None
    return account


# -- the distributor's side -------------------------------------------------------------------------------------


def my_distributorships(session: Session, user: User | None) -> list[tuple[Distributor, Brand]]:
    user = require_user(user)
    rows = session.execute(
        select(Distributor, Brand).join(Brand, Brand.id == Distributor.brand_id)
        .where(Distributor.user_id == user.id).order_by(Distributor.id)
    )  # fmt: skip
    return [(d, b) for d, b in rows]


def _mine(session: Session, user: User | None, distributor_id: int, *, approved: bool = True) -> Distributor:
    user = require_user(user)
    d = session.get(Distributor, distributor_id)
    if d is None or d.user_id != user.id:
        raise NotFound("distributor", code="distribution_not_distributor")
    if approved:
        _require_approved(d)
    return d


def pick(session: Session, user: User | None, distributor_id: int, product_id: int, *, on: bool = True) -> None:
    """Show (or stop showing) a product of the brand in the distributor's shop."""
    d = _mine(session, user, distributor_id)
    product = session.get(Product, product_id)
    if product is None or product.brand_id != d.brand_id or (on and product.status != ProductStatus.ACTIVE):
        raise ValidationFailed.one("product_id", "distribution_product_not_brand")
    existing = session.get(ShopPick, (d.id, product_id))
    if on and existing is None:
        session.add(ShopPick(distributor_id=d.id, product_id=product_id, created_at=clock.now()))
    elif not on and existing is not None:
        session.delete(existing)
    session.commit()


def catalog_for(session: Session, user: User | None, distributor_id: int) -> list[tuple[Product, bool, int]]:
    """The brand's products on sale, whether each is in the shop, and the rate it pays."""
    d = _mine(session, user, distributor_id)
    programme = _open_programme(session, d.brand_id)
    rates = rates_of(session, programme)
    picked = set(session.scalars(select(ShopPick.product_id).where(ShopPick.distributor_id == d.id)))
    products = session.scalars(
        select(Product).where(Product.brand_id == d.brand_id, Product.status == ProductStatus.ACTIVE)
        .order_by(Product.id)
    )  # fmt: skip
    return [(p, p.id in picked, rates.get(p.id, programme.default_rate_bp)) for p in products]


@dataclass(frozen=True)
class ShopItem:
    product: Product
    share_url: str


@dataclass(frozen=True)
class Shop:
    distributor: Distributor
    owner: User
    brand: Brand
    items: list[ShopItem]


def shop(session: Session, distributor_id: int, *, keys: Sequence[tuple[str, bytes]], base_url: str) -> Shop:
    """A distributor's public micro-shop: their picks on sale, each with the distributor's signed share link.
    A suspended or unapproved distributor has no shop."""
    d = session.get(Distributor, distributor_id)
    if d is None or d.status != DistributorStatus.APPROVED:
        raise NotFound("shop", code="distribution_no_shop")
    programme = programme_of(session, d.brand_id)
    owner, brand = session.get(User, d.user_id), session.get(Brand, d.brand_id)
    if programme is None or not programme.is_open or owner is None or brand is None:
        raise NotFound("shop", code="distribution_no_shop")
    products = session.scalars(
        select(Product).join(ShopPick, ShopPick.product_id == Product.id)
        .where(ShopPick.distributor_id == d.id, Product.status == ProductStatus.ACTIVE)
        .order_by(ShopPick.created_at, Product.id)
    )  # fmt: skip
    issued = clock.now().replace(microsecond=0)
    items = []
    for p in products:
        token = links.sign(ShareClaim(d.user_id, TargetKind.PRODUCT, p.id, issued, keys[0][0]), keys)
        items.append(ShopItem(p, base_url.rstrip("/") + "/s/" + token))
    return Shop(d, owner, brand, items)


def visit_shop(session: Session, user: User | None, distributor_id: int) -> bool:
    """A signed-in customer came through this distributor's shop: bind them unless someone holds them already."""
    user = require_user(user)
    d = session.get(Distributor, distributor_id)
    if d is None or d.status != DistributorStatus.APPROVED:
        raise NotFound("shop", code="distribution_no_shop")
    bound = binding.bring(session, d, user.id, via="shop", now=clock.now())
    session.commit()
    return bound

"""Products and SKUs: create, edit, list. Only members of the owning brand (or admins) change them.

Every change emits a `product` outbox event in the same transaction, so the search
index follows the catalog without anything being indexed inside a request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from commerce.catalog import categories
from commerce.catalog.limits import CatalogLimits
from commerce.catalog.models import AffiliateOffer, Product, ProductStatus, Sku
from commerce.catalog.tx import unit_of_work
from core import clock, ids
from core.accounts import qualifications
from core.accounts.models import QualificationKind, User
from core.accounts.permissions import require_brand_member
from core.db import is_postgres
from core.errors import Conflict, FieldError, NotFound, ValidationFailed, register_field_labels, register_messages
from core.outbox import emit
from core.pagination import keyset_page

register_messages(
    {
        "unknown_category": (
            "没有这个类目（请用类目树中的叶子类目）",
            "Unknown category (use a leaf of the category tree)",
        ),
        "category_prohibited": (
            "「{name_zh}」属于禁售类目，不能在星炼销售",
            "{name_en} may not be sold on xinglian",
        ),
        "qualification_required": (
            "这个类目的商品要先通过资质审核才能上架：请在品牌后台提交{what_zh}",
            "Products in this category go on sale once your papers are approved: submit your {what_en} "
            "on the brand dashboard",
        ),
        "product_code_taken": ("本品牌已有相同商家编码的商品", "This brand already has a product with this code"),
        "sku_code_taken": ("本品牌已有相同编码的 SKU", "This brand already has a SKU with this code"),
        "duplicate_sku_attributes": (
            "同一商品下已有相同规格的 SKU",
            "The product already has a SKU with these attributes",
        ),
        "list_price_below_price": ("划线价不能低于售价", "The list price cannot be below the price"),
        "price_out_of_range": (
            "价格应在 0.01 元到 {max_yuan} 元之间",
            "Price must be between 0.01 and {max_yuan} yuan",
        ),
        "stock_negative": ("库存不能为负数", "Stock cannot be negative"),
        "price_negative": ("价格不能为负数", "The price cannot be negative"),
        "too_many_skus": ("每个商品最多 {max} 个 SKU", "A product has at most {max} SKUs"),
        "product_not_active": ("商品未上架", "The product is not on sale"),
        "active_needs_sku": ("上架前至少需要一个在售 SKU", "An active product needs at least one active SKU"),
        "last_active_sku": (
            "这是在售商品的最后一个 SKU，请先下架商品",
            "This is the last active SKU of an active product; archive the product first",
        ),
        "invalid_attributes": (
            "规格应为「名称: 值」，名称不超过 20 字、值不超过 40 字，最多 5 项",
            "Attributes are name: value pairs (name up to 20, value up to 40 characters, at most 5)",
        ),
        "invalid_code": ("编码只能包含字母、数字、-、_、.，最长 64 位", "Codes use letters, digits, - _ . (up to 64)"),
    }
)

register_field_labels(
    {
        "skus": ("规格", "The SKUs"),
        "skus.*.price_fen": ("第 {0} 个规格的售价", "Price of SKU {0}"),
        "skus.*.list_price_fen": ("第 {0} 个规格的划线价", "List price of SKU {0}"),
        "skus.*.stock": ("第 {0} 个规格的库存", "Stock of SKU {0}"),
        "skus.*.attributes": ("第 {0} 个规格的属性", "Attributes of SKU {0}"),
        "skus.*.code": ("第 {0} 个规格的编码", "Code of SKU {0}"),
        "is_active": ("是否在售", "On sale"),
    }
)

MAX_ATTRIBUTES = 5


@dataclass
class SkuSpec:
    price_fen: int
    stock: int = 0
    attributes: dict[str, str] = field(default_factory=dict)
    list_price_fen: int | None = None
    code: str | None = None


# -- validation shared by the API and CSV import ---------------------------------------------------


def check_code(value: str) -> bool:
    return 0 < len(value) <= 64 and all(ch.isascii() and (ch.isalnum() or ch in "-_.") for ch in value)


def normalise_attributes(raw: Mapping[str, str]) -> dict[str, str] | None:
    """Trimmed attributes, or None when they break the limits."""
    out: dict[str, str] = {}
    for k, v in raw.items():
        key, value = str(k).strip(), str(v).strip()
        if not key or not value or len(key) > 20 or len(value) > 40 or key in out:
            return None
        out[key] = value
    return out if len(out) <= MAX_ATTRIBUTES else None


def sku_errors(
    prefix: str, *, price_fen: int, list_price_fen: int | None, stock: int, limits: CatalogLimits
) -> list[FieldError]:
    errors = []
    if price_fen < 0:
        errors.append(FieldError(f"{prefix}price_fen", "price_negative"))
    elif not 0 < price_fen <= limits.price_max_fen:
        errors.append(
            FieldError(f"{prefix}price_fen", "price_out_of_range", params={"max_yuan": limits.price_max_fen // 100})
        )
    if list_price_fen is not None and list_price_fen < price_fen:
        errors.append(FieldError(f"{prefix}list_price_fen", "list_price_below_price"))
    if stock < 0:
        errors.append(FieldError(f"{prefix}stock", "stock_negative"))
    return errors


def _check_category(code: str, field_name: str = "category") -> None:
    banned = categories.prohibited(code)
    if banned is not None:
        raise ValidationFailed.one(field_name, "category_prohibited", name_zh=banned[0], name_en=banned[1])
    if categories.leaf(code) is None:
        raise ValidationFailed.one(field_name, "unknown_category")


QUALIFICATION_NAMES = {
    QualificationKind.BUSINESS_LICENCE: ("营业执照", "business licence"),
    QualificationKind.COSMETICS: ("化妆品经营资质", "cosmetics qualification"),
    QualificationKind.FOOD: ("食品经营许可证", "food business licence"),
    QualificationKind.HEALTH_FOOD: ("保健食品批准证书", "health food approval"),
}


def _check_qualified(session: Session, product: Product, limits: CatalogLimits | None) -> None:
    """A product in a regulated category goes on sale only once its brand's papers for it are approved."""
    needed = categories.required_qualification(product.category)
    if needed is None or (limits is not None and not limits.require_qualifications):
        return
    missing = qualifications.missing_for(session, product.brand_id, needed)
    if missing:
        raise ValidationFailed.one("status", "qualification_required", **missing_papers(missing))


def missing_papers(missing: list[QualificationKind]) -> dict[str, str]:
    """The `qualification_required` sentence's parameters: what is missing, in both languages."""
    names = [QUALIFICATION_NAMES[k] for k in missing]
    return {"what_zh": "和".join(n[0] for n in names), "what_en": " and ".join(n[1] for n in names)}


# -- reading ----------------------------------------------------------------------------------------


def get_product(session: Session, product_id: int, *, lock: bool = False) -> Product:
    stmt = select(Product).where(Product.id == product_id)
    if lock and is_postgres(session):
        stmt = stmt.with_for_update(of=Product)
    product = session.scalars(stmt).unique().one_or_none()
    if product is None:
        raise NotFound("product")
    return product


def product_for_member(session: Session, user: User | None, product_id: int, *, lock: bool = False) -> Product:
    """The product, when `user` is a member of its brand (or an admin); PermissionDenied otherwise."""
    product = get_product(session, product_id, lock=lock)
    require_brand_member(session, user, product.brand_id)
    return product


def visible_product(session: Session, user: User | None, product_id: int) -> Product:
    """Active products are public; drafts and archived ones only to their brand."""
    product = get_product(session, product_id)
    if product.status != ProductStatus.ACTIVE and not _is_member(user, product.brand_id):
        raise NotFound("product")
    return product


def _is_member(user: User | None, brand_id: int) -> bool:
    if user is None:
        return False
    return user.is_admin or brand_id in user.brand_ids()


def current_offer(session: Session, product_id: int) -> AffiliateOffer | None:
    """The open affiliate offer of a product, if it is in the marketplace."""
    return current_offers(session, [product_id]).get(product_id)


def has_open_offer() -> ColumnElement[bool]:
    """SQL condition on `Product`: it is open for affiliation (has an open offer)."""
    return (
        select(AffiliateOffer.id)
        .where(AffiliateOffer.product_id == Product.id, AffiliateOffer.effective_to.is_(None))
        .exists()
    )


def current_offers(session: Session, product_ids: Sequence[int]) -> dict[int, AffiliateOffer]:
    if not product_ids:
        return {}
    return {
        o.product_id: o
        for o in session.scalars(
            select(AffiliateOffer).where(
                AffiliateOffer.product_id.in_(product_ids), AffiliateOffer.effective_to.is_(None)
            )
        ).unique()
    }


def in_category(code: str) -> ColumnElement[bool]:
    """Products in a leaf category, or in any leaf under a top-level one."""
    codes = categories.codes_under(code)
    if not codes:
        raise ValidationFailed.one("query.category", "unknown_category")
    return Product.category.in_(codes)


def _filtered(
    stmt: Select[tuple[Product]], *, category: str | None, q: str | None, status: ProductStatus | None
) -> Select[tuple[Product]]:
    if category:
        stmt = stmt.where(in_category(category))
    if q:
        stmt = stmt.where(Product.name.icontains(q, autoescape=True) | Product.code.icontains(q, autoescape=True))
    if status is not None:
        stmt = stmt.where(Product.status == status)
    return stmt


def list_brand_products(
    session: Session,
    user: User | None,
    brand_id: int,
    *,
    status: ProductStatus | None = None,
    category: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[Product], str | None]:
    """Every product of the brand, drafts and archived included (members only), newest first."""
    require_brand_member(session, user, brand_id)
    stmt = _filtered(select(Product).where(Product.brand_id == brand_id), category=category, q=q, status=status)
    return keyset_page(session, stmt, [(Product.id, True)], lambda p: [p.id], cursor=cursor, limit=limit)


def list_active_products(
    session: Session,
    *,
    brand_id: int | None = None,
    category: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[Product], str | None]:
    """Products on sale, for anyone, newest first."""
    stmt = _filtered(select(Product), category=category, q=q, status=ProductStatus.ACTIVE)
    if brand_id is not None:
        stmt = stmt.where(Product.brand_id == brand_id)
    return keyset_page(session, stmt, [(Product.id, True)], lambda p: [p.id], cursor=cursor, limit=limit)


# -- writing ----------------------------------------------------------------------------------------


def changed(session: Session, product: Product) -> None:
    """Record that `product` (or something under it) changed: fresh prices, a new timestamp, an outbox event."""
    active = product.active_skus()
    product.price_min_fen = min((s.price_fen for s in active), default=None)
    product.price_max_fen = max((s.price_fen for s in active), default=None)
    product.updated_at = clock.now()
    emit(session, "product", product.id)


def code_conflict(exc: IntegrityError) -> Conflict:
    """A concurrent writer took the same product or SKU code."""
    return Conflict("sku_code_taken" if "product_skus" in str(exc.orig) else "product_code_taken")


def _check_product_code(session: Session, brand_id: int, code: str, *, exclude: int | None = None) -> None:
    if not check_code(code):
        raise ValidationFailed.one("code", "invalid_code")
    stmt = select(Product.id).where(Product.brand_id == brand_id, Product.code == code)
    if exclude is not None:
        stmt = stmt.where(Product.id != exclude)
    if session.scalar(stmt) is not None:
        raise ValidationFailed.one("code", "product_code_taken")


def _new_sku(
    session: Session,
    product: Product,
    spec: SkuSpec,
    *,
    limits: CatalogLimits,
    prefix: str = "",
    found: list[FieldError] | None = None,
) -> Sku | None:
    """Add a SKU to `product`; problems are raised, or collected into `found` when given."""
    errors = sku_errors(
        prefix, price_fen=spec.price_fen, list_price_fen=spec.list_price_fen, stock=spec.stock, limits=limits
    )
    attributes = normalise_attributes(spec.attributes)
    if attributes is None:
        errors.append(FieldError(f"{prefix}attributes", "invalid_attributes"))
    elif any(s.attributes == attributes for s in product.skus if s.is_active):
        errors.append(FieldError(f"{prefix}attributes", "duplicate_sku_attributes"))
    code = spec.code or ids.short_id("S", 5).upper()
    if not check_code(code):
        errors.append(FieldError(f"{prefix}code", "invalid_code"))
    elif session.scalar(select(Sku.id).where(Sku.brand_id == product.brand_id, Sku.code == code)) is not None:
        errors.append(FieldError(f"{prefix}code", "sku_code_taken"))
    if errors and found is not None:
        found.extend(errors)
        return None
    if errors:
        raise ValidationFailed(fields=errors)
    if len(product.skus) >= limits.max_skus:
        raise ValidationFailed.one(prefix.rstrip(".") or "skus", "too_many_skus", max=limits.max_skus)
    sku = Sku(
        brand_id=product.brand_id,
        code=code,
        attributes=attributes or {},
        price_fen=spec.price_fen,
        list_price_fen=spec.list_price_fen,
        stock=spec.stock,
        is_active=True,  # column defaults only apply at INSERT; status checks read it before that
    )
    product.skus.append(sku)
    return sku


def create_product(
    session: Session,
    user: User | None,
    brand_id: int,
    *,
    name: str,
    category: str,
    description: str = "",
    code: str | None = None,
    status: ProductStatus = ProductStatus.DRAFT,
    skus: Sequence[SkuSpec] = (),
    limits: CatalogLimits,
) -> Product:
    require_brand_member(session, user, brand_id)
    _check_category(category)
    code = code or ids.short_id("P", 5).upper()
    _check_product_code(session, brand_id, code)
    if len(skus) > limits.max_skus:
        raise ValidationFailed.one("skus", "too_many_skus", max=limits.max_skus)
    codes = [s.code for s in skus if s.code]
    if len(codes) != len(set(codes)):
        dup = next(i for i, s in enumerate(skus) if s.code and codes.count(s.code) > 1)
        raise ValidationFailed.one(f"skus.{dup}.code", "sku_code_taken")
    with unit_of_work(session, code_conflict):
        product = Product(brand_id=brand_id, code=code, name=name.strip(), description=description, category=category)
        session.add(product)
        errors: list[FieldError] = []
        for i, spec in enumerate(skus):
            _new_sku(session, product, spec, limits=limits, prefix=f"skus.{i}.", found=errors)
        if errors:
            raise ValidationFailed(fields=errors)
        set_status(session, product, status, limits=limits)
        session.flush()
        changed(session, product)
    return product


def set_status(
    session: Session, product: Product, status: ProductStatus, *, limits: CatalogLimits | None = None
) -> None:
    """`limits` carries the deployment's qualification policy; without it, regulated categories are checked."""
    if status == ProductStatus.ACTIVE and not product.active_skus():
        raise ValidationFailed.one("status", "active_needs_sku")
    if status == ProductStatus.ACTIVE:
        _check_qualified(session, product, limits)
    if status == ProductStatus.ARCHIVED and product.id is not None:
        # An off-sale product cannot be promoted: its affiliate offer closes with it.
        offer = current_offer(session, product.id)
        if offer is not None:
            offer.effective_to = clock.now()
    product.status = status


def update_product(
    session: Session,
    user: User | None,
    product_id: int,
    *,
    name: str | None = None,
    description: str | None = None,
    category: str | None = None,
    code: str | None = None,
    status: ProductStatus | None = None,
    limits: CatalogLimits | None = None,
) -> Product:
    with unit_of_work(session, code_conflict):
        product = product_for_member(session, user, product_id, lock=True)
        if category is not None:
            _check_category(category)
            product.category = category
        if code is not None and code != product.code:
            _check_product_code(session, product.brand_id, code, exclude=product.id)
            product.code = code
        if name is not None:
            product.name = name.strip()
        if description is not None:
            product.description = description
        if status is not None and status != product.status:
            set_status(session, product, status, limits=limits)
        elif category is not None and product.status == ProductStatus.ACTIVE:
            _check_qualified(session, product, limits)  # moved on sale into a regulated category
        changed(session, product)
    return product


def add_sku(session: Session, user: User | None, product_id: int, spec: SkuSpec, *, limits: CatalogLimits) -> Sku:
    with unit_of_work(session, code_conflict):
        product = product_for_member(session, user, product_id, lock=True)
        sku = _new_sku(session, product, spec, limits=limits)
        assert sku is not None  # without `found`, problems raise
        session.flush()
        changed(session, product)
    return sku


UNSET = object()


def _sku_for_member(session: Session, user: User | None, product_id: int, sku_id: int) -> tuple[Product, Sku]:
    product = product_for_member(session, user, product_id, lock=True)
    sku = next((s for s in product.skus if s.id == sku_id), None)
    if sku is None:
        raise NotFound("sku")
    return product, sku


def update_sku(
    session: Session,
    user: User | None,
    product_id: int,
    sku_id: int,
    *,
    price_fen: int | None = None,
    list_price_fen: int | object | None = UNSET,
    stock: int | None = None,
    attributes: Mapping[str, str] | None = None,
    code: str | None = None,
    is_active: bool | None = None,
    limits: CatalogLimits,
) -> Sku:
    """Change a SKU. `list_price_fen=None` removes the list price; leaving it out keeps it."""
    with unit_of_work(session, code_conflict):
        product, sku = _sku_for_member(session, user, product_id, sku_id)
        new_price = sku.price_fen if price_fen is None else price_fen
        new_list = sku.list_price_fen if list_price_fen is UNSET else list_price_fen
        assert new_list is None or isinstance(new_list, int)
        new_stock = sku.stock if stock is None else stock
        errors = sku_errors("", price_fen=new_price, list_price_fen=new_list, stock=new_stock, limits=limits)
        others = [s for s in product.active_skus() if s.id != sku.id]
        if attributes is not None:
            normal = normalise_attributes(attributes)
            if normal is None:
                errors.append(FieldError("attributes", "invalid_attributes"))
            elif any(s.attributes == normal for s in others):
                errors.append(FieldError("attributes", "duplicate_sku_attributes"))
            else:
                sku.attributes = normal
        if code is not None and code != sku.code:
            if not check_code(code):
                errors.append(FieldError("code", "invalid_code"))
            elif session.scalar(select(Sku.id).where(Sku.brand_id == sku.brand_id, Sku.code == code)) is not None:
                errors.append(FieldError("code", "sku_code_taken"))
            else:
                sku.code = code
        if errors:
            raise ValidationFailed(fields=errors)
        sku.price_fen, sku.list_price_fen, sku.stock = new_price, new_list, new_stock
        if is_active is not None and is_active != sku.is_active:
            _set_sku_active(product, sku, is_active)
        changed(session, product)
    return sku


def _set_sku_active(product: Product, sku: Sku, active: bool) -> None:
    if not active and product.status == ProductStatus.ACTIVE and product.active_skus() == [sku]:
        raise ValidationFailed.one("is_active", "last_active_sku")
    if active and any(s.attributes == sku.attributes for s in product.active_skus()):
        raise ValidationFailed.one("attributes", "duplicate_sku_attributes")
    sku.is_active = active


def deactivate_sku(session: Session, user: User | None, product_id: int, sku_id: int) -> Sku:
    """'Delete' a SKU: it stops being sold but stays for the orders and links that name it."""
    with unit_of_work(session):
        product, sku = _sku_for_member(session, user, product_id, sku_id)
        if sku.is_active:
            _set_sku_active(product, sku, False)
            changed(session, product)
    return sku

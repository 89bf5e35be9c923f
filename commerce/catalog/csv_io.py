"""A brand's catalog as CSV: one row per SKU, product columns repeated on each of its rows.

Import is all-or-nothing: every row is checked first and every problem is reported with
its spreadsheet row number (the header is row 1); if there is any, nothing is written.
Products are matched by `product_code`, SKUs by `sku_code` (both unique within the brand):
rows update what exists and create the rest; products and SKUs missing from the file are
left alone. A row with neither `sku_code` nor `price` describes a product without SKUs.

Files from Excel are welcome: a UTF-8 BOM or GB18030 (GBK) encoding, Chinese headers
(商品编码, 商品名称 …) and Chinese status names all work. Export writes UTF-8 with a BOM,
and guards cells against spreadsheet formula injection with a leading apostrophe, which
import removes again, so an export imports back unchanged.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.catalog import categories
from commerce.catalog.limits import CatalogLimits
from commerce.catalog.models import Product, ProductStatus, Sku
from commerce.catalog.products import (
    changed,
    check_code,
    code_conflict,
    missing_papers,
    normalise_attributes,
    set_status,
    sku_errors,
)
from commerce.catalog.tx import unit_of_work
from core.accounts import qualifications
from core.accounts.models import QualificationKind, User
from core.accounts.permissions import require_brand_member
from core.errors import FieldError, PayloadTooLarge, ValidationFailed, register_messages
from core.money import MoneyError, format_yuan, parse_yuan

register_messages(
    {
        "catalog_import_failed": (
            "CSV 中有 {count} 处错误，整个文件未导入，请修改后重试",
            "The CSV has {count} problem(s); nothing was imported. Fix them and retry",
        ),
        "csv_too_large": ("CSV 文件不能超过 {max_mb} MB", "The CSV file must be at most {max_mb} MB"),
        "csv_encoding": ("无法识别文件编码，请另存为 UTF-8 CSV", "Unknown text encoding; save the file as UTF-8 CSV"),
        "csv_malformed": ("CSV 格式错误：{detail}", "Malformed CSV: {detail}"),
        "csv_empty": ("文件中没有数据行", "The file has no data rows"),
        "csv_too_many_rows": ("最多 {max} 行数据", "At most {max} data rows"),
        "csv_missing_columns": ("缺少列：{columns}", "Missing columns: {columns}"),
        "csv_unknown_columns": ("无法识别的列：{columns}", "Unknown columns: {columns}"),
        "csv_category_codes": ("可用的类目编码：{codes_zh}", "Valid category codes: {codes_en}"),
        "required": ("请填写{label}", "{label} is required"),
        "invalid_price": (
            "{label}格式无效，应为以元为单位的数字，如 129.00",
            "{label} is not an amount; use yuan such as 129.00",
        ),
        "invalid_stock": ("库存应为非负整数", "Stock must be a whole number, 0 or more"),
        "csv_unknown_category": (
            "没有「{value}」这个类目，请填写下方列出的类目编码",
            "There is no category \u201c{value}\u201d; use one of the category codes listed below",
        ),
        "invalid_status": (
            "状态应为 draft/active/archived（草稿/在售/下架）",
            "Status must be draft, active or archived",
        ),
        "duplicate_sku": ("SKU 编码与第 {first_row} 行重复", "Duplicate SKU code (first used on row {first_row})"),
        "conflicting_product_field": (
            "与第 {first_row} 行同一商品的取值不一致",
            "Differs from row {first_row} of the same product",
        ),
        "sku_of_other_product": (
            "该 SKU 编码已属于商品 {product_code}",
            "This SKU code already belongs to product {product_code}",
        ),
        "sku_fields_without_sku": (
            "没有 SKU 编码和售价的行不能填写规格、划线价或库存",
            "Only SKU rows carry SKU fields",
        ),
    }
)

COLUMNS = (
    "product_code",
    "name",
    "category",
    "status",
    "description",
    "sku_code",
    "attributes",
    "price",
    "list_price",
    "stock",
)
REQUIRED = ("product_code", "name", "category", "sku_code", "price")
ALIASES = {
    "商品编码": "product_code",
    "商家编码": "product_code",
    "商品名称": "name",
    "名称": "name",
    "类目": "category",
    "状态": "status",
    "描述": "description",
    "商品描述": "description",
    "sku编码": "sku_code",
    "规格": "attributes",
    "售价": "price",
    "价格": "price",
    "划线价": "list_price",
    "原价": "list_price",
    "库存": "stock",
}
STATUS_NAMES = {
    "draft": ProductStatus.DRAFT,
    "草稿": ProductStatus.DRAFT,
    "active": ProductStatus.ACTIVE,
    "在售": ProductStatus.ACTIVE,
    "上架": ProductStatus.ACTIVE,
    "archived": ProductStatus.ARCHIVED,
    "下架": ProductStatus.ARCHIVED,
}
COLUMN_LABELS = {
    "product_code": ("商品编码", "Product code"),
    "name": ("商品名称", "Name"),
    "category": ("类目", "Category"),
    "status": ("状态", "Status"),
    "description": ("描述", "Description"),
    "sku_code": ("SKU 编码", "SKU code"),
    "attributes": ("规格", "Attributes"),
    "price": ("售价", "Price"),
    "list_price": ("划线价", "List price"),
    "stock": ("库存", "Stock"),
}
MAX_REPORTED = 200
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class SkuRow:
    row: int
    code: str
    attributes: dict[str, str]
    price_fen: int
    list_price_fen: int | None
    stock: int


@dataclass
class ProductRows:
    row: int  # where the product first appears
    code: str
    name: str
    category: str
    status: ProductStatus | None
    description: str | None
    skus: list[SkuRow] = field(default_factory=list)
    bad_skus: bool = False  # some of its SKU rows were refused (and reported)


@dataclass
class ImportSummary:
    """What the import did; `*_unchanged`: in the file exactly as the catalog already had them (skipped)."""

    products_created: int = 0
    products_updated: int = 0
    products_unchanged: int = 0
    skus_created: int = 0
    skus_updated: int = 0
    skus_unchanged: int = 0
    dry_run: bool = False


def category_codes(locale: str) -> str:
    """Every leaf category code with its path, as the import's help and errors list them."""
    if locale.startswith("en"):
        return ", ".join(f"{c.code} ({c.path_en})" for c in categories.leaves())
    return "，".join(f"{c.code}（{c.path_zh}）" for c in categories.leaves())


class RowErrors:
    """Problems found in the cells of an import, reported all at once with their row and column."""

    def __init__(self, labels: dict[str, tuple[str, str]] | None = None, failed: str = "catalog_import_failed") -> None:
        self.items: list[FieldError] = []
        self.labels = COLUMN_LABELS if labels is None else labels
        self.failed = failed

    def add(self, row: int, column: str, code: str, says: str | None = None, **params: object) -> None:
        """A problem in a cell: said as "第 3 行：售价（price）…", with the row and column for programs."""
        zh, en = self.labels.get(column, (column, column))
        self.items.append(
            FieldError(
                f"rows.{row}.{column}",
                code,
                says=says,
                params=params or None,
                label=(f"{zh}（{column}）", f"{en} ({column})"),
                where=(f"第 {row} 行：", f"Row {row}: "),
                extra={"row": row, "column": column},
            )
        )

    def raise_if_any(self) -> None:
        if not self.items:
            return
        detail, params = None, {}
        if any(e.says == "csv_unknown_category" for e in self.items):
            detail = "csv_category_codes"
            params = {"codes_zh": category_codes("zh-CN"), "codes_en": category_codes("en")}
        raise ValidationFailed(
            self.failed, fields=self.items[:MAX_REPORTED], detail=detail, count=len(self.items), **params
        )


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationFailed.one("file", "csv_encoding")


def _unguard(value: str) -> str:
    value = value.strip()
    if value.startswith("'") and value[1:2] in _FORMULA_START:
        return value[1:]
    return value


def _guard(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def parse_attributes(text: str) -> dict[str, str] | None:
    """'颜色:红;尺码:M' (ASCII or full-width separators) -> {"颜色": "红", "尺码": "M"}."""
    text = text.replace("；", ";").replace("：", ":")
    pairs: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        key, sep, value = part.partition(":")
        if not sep and "=" in part:
            key, sep, value = part.partition("=")
        if not sep:
            return None
        pairs[key.strip()] = value.strip()
    return normalise_attributes(pairs)


def format_attributes(attributes: dict[str, str]) -> str:
    return ";".join(f"{k}:{v}" for k, v in attributes.items())


@dataclass(frozen=True)
class Table:
    """The columns a CSV import knows: names, the ones it needs, and other spellings of them (Chinese headers)."""

    columns: tuple[str, ...]
    required: tuple[str, ...]
    aliases: dict[str, str]
    labels: dict[str, tuple[str, str]]


CATALOG = Table(COLUMNS, REQUIRED, ALIASES, COLUMN_LABELS)


def read_rows(data: bytes, table: Table, *, max_bytes: int, max_rows: int) -> list[tuple[int, dict[str, str]]]:
    """The file's data rows as (spreadsheet row number, cells by column name); file-level problems raise.
    One reader for every CSV import (the catalog's, a distributor programme's staff)."""
    if len(data) > max_bytes:
        raise PayloadTooLarge("csv_too_large", max_mb=f"{max_bytes / 1024 / 1024:g}")
    reader = csv.reader(io.StringIO(_decode(data), newline=""))
    aliases = table.aliases
    try:
        header = next(reader, None)
        if header is None:
            raise ValidationFailed.one("file", "csv_empty")
        names = [aliases.get(h.strip().lower(), aliases.get(h.strip(), h.strip().lower())) for h in header]
        unknown = [h for h, n in zip(header, names, strict=True) if n not in table.columns]
        if unknown:
            raise ValidationFailed.one("header", "csv_unknown_columns", columns=", ".join(unknown))
        missing = [c for c in table.required if c not in names]
        if missing:
            raise ValidationFailed.one("header", "csv_missing_columns", columns=", ".join(missing))
        rows = []
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue  # spreadsheets leave blank lines behind
            if len(rows) >= max_rows:
                raise ValidationFailed.one("file", "csv_too_many_rows", max=max_rows)
            padded = [*cells, *[""] * (len(names) - len(cells))]
            rows.append((number, {n: _unguard(v) for n, v in zip(names, padded, strict=False)}))
    except csv.Error as exc:
        raise ValidationFailed.one("file", "csv_malformed", detail=str(exc)) from exc
    if not rows:
        raise ValidationFailed.one("file", "csv_empty")
    return rows


def _read(data: bytes, limits: CatalogLimits) -> list[tuple[int, dict[str, str]]]:
    return read_rows(data, CATALOG, max_bytes=limits.import_max_bytes, max_rows=limits.import_max_rows)


def _price(errors: RowErrors, row: int, column: str, text: str, limits: CatalogLimits) -> int | None:
    try:
        return parse_yuan(text)
    except MoneyError:
        negative = text.strip().startswith("-") and text.strip()[1:].replace(".", "", 1).replace(",", "").isdigit()
        errors.add(row, column, "price_negative" if negative else "invalid_price")
        return None


def parse(data: bytes, limits: CatalogLimits, errors: RowErrors) -> list[ProductRows]:
    """The file's products and SKUs; every bad cell of every row is noted in `errors` (file-level problems
    raise). A row whose product is refused still has its SKU cells checked, so one pass reports everything."""
    products: dict[str, ProductRows] = {}
    refused: set[str] = set()  # product codes whose product columns were refused (reported once)
    sku_rows: dict[str, int] = {}
    for row, cells in _read(data, limits):
        product = _row_product(errors, row, cells, products, refused)
        before = len(errors.items)
        sku = _sku_from(errors, row, cells, limits)
        if sku is None:
            pass
        elif sku.code in sku_rows:
            errors.add(row, "sku_code", "duplicate_sku", first_row=sku_rows[sku.code])
        elif product is None:
            sku_rows[sku.code] = row
        elif any(s.attributes == sku.attributes for s in product.skus):
            errors.add(row, "attributes", "duplicate_sku_attributes")
        elif len(product.skus) >= limits.max_skus:
            errors.add(row, "sku_code", "too_many_skus", max=limits.max_skus)
        else:
            sku_rows[sku.code] = row
            product.skus.append(sku)
        if product is not None:
            product.bad_skus |= len(errors.items) > before
    return list(products.values())


def _row_product(
    errors: RowErrors, row: int, cells: dict[str, str], products: dict[str, ProductRows], refused: set[str]
) -> ProductRows | None:
    """The product this row belongs to (None when its columns were refused), its problems noted."""
    code = cells.get("product_code", "")
    if not code:
        errors.add(row, "product_code", "required")
    elif not check_code(code):
        errors.add(row, "product_code", "invalid_code")
    product = products.get(code)
    if product is not None:
        for f, value in _product_values(cells).items():
            if value is not None and value != _product_values_of(product)[f]:
                errors.add(row, f, "conflicting_product_field", first_row=product.row)
        return product
    if code in refused:
        return None  # its product columns were reported on its first row
    product = _product_from(errors, row, code, cells)
    if product is None or not check_code(code):
        refused.add(code)
        return None
    products[code] = product
    return product


def _product_values(cells: dict[str, str]) -> dict[str, object]:
    """The product columns of a row, normalised (None when blank) so '美妆/护肤' equals 'beauty.skincare'."""
    category = categories.resolve(cells.get("category", ""))
    return {
        "name": cells.get("name") or None,
        "category": category.code if category else cells.get("category") or None,
        "status": STATUS_NAMES.get(cells.get("status", "").lower(), cells.get("status")) or None,
        "description": cells.get("description") or None,
    }


def _product_values_of(product: ProductRows) -> dict[str, object]:
    return {
        "name": product.name,
        "category": product.category,
        "status": product.status,
        "description": product.description,
    }


def _product_from(errors: RowErrors, row: int, code: str, cells: dict[str, str]) -> ProductRows | None:
    ok = True
    name = cells.get("name", "")
    if not name:
        errors.add(row, "name", "required")
        ok = False
    elif len(name) > 120:
        errors.add(row, "name", "string_too_long")
        ok = False
    category = categories.resolve(cells.get("category", ""))
    banned = categories.prohibited(cells.get("category", "")) if cells.get("category") else None
    if banned is not None:
        errors.add(row, "category", "category_prohibited", name_zh=banned[0], name_en=banned[1])
        ok = False
    elif category is None:
        if cells.get("category"):
            errors.add(row, "category", "unknown_category", says="csv_unknown_category", value=cells["category"])
        else:
            errors.add(row, "category", "required")
        ok = False
    status = None
    if cells.get("status"):
        status = STATUS_NAMES.get(cells["status"].lower())
        if status is None:
            errors.add(row, "status", "invalid_status")
            ok = False
    if not ok or category is None:
        return None
    return ProductRows(row, code, name, category.code, status, cells.get("description") or None)


def _sku_from(errors: RowErrors, row: int, cells: dict[str, str], limits: CatalogLimits) -> SkuRow | None:
    code, price_text = cells.get("sku_code", ""), cells.get("price", "")
    if not code and not price_text:
        if any(cells.get(c) for c in ("attributes", "list_price", "stock")):
            errors.add(row, "sku_code", "sku_fields_without_sku")
        return None  # a product-only row
    before = len(errors.items)
    if not code:
        errors.add(row, "sku_code", "required")
    elif not check_code(code):
        errors.add(row, "sku_code", "invalid_code")
    price = _price(errors, row, "price", price_text, limits) if price_text else None
    if not price_text:
        errors.add(row, "price", "required")
    list_price = _price(errors, row, "list_price", cells["list_price"], limits) if cells.get("list_price") else None
    stock = 0
    if cells.get("stock"):
        try:
            stock = int(cells["stock"])
        except ValueError:
            errors.add(row, "stock", "invalid_stock")
    attributes = parse_attributes(cells.get("attributes", ""))
    if attributes is None:
        errors.add(row, "attributes", "invalid_attributes")
    if price is not None:
        for e in sku_errors("", price_fen=price, list_price_fen=list_price, stock=stock, limits=limits):
            column = {"price_fen": "price", "list_price_fen": "list_price"}.get(e.field, e.field)
            errors.add(row, column, e.code, **(e.params or {}))
    if len(errors.items) > before or price is None or attributes is None:
        return None
    return SkuRow(row, code, attributes, price, list_price, stock)


def import_catalog(
    session: Session,
    user: User | None,
    brand_id: int,
    data: bytes,
    *,
    limits: CatalogLimits,
    dry_run: bool = False,
) -> ImportSummary:
    """Apply a CSV to the brand's catalog in one transaction, or nothing at all."""
    require_brand_member(session, user, brand_id)
    errors = RowErrors()
    parsed = parse(data, limits, errors)
    summary = ImportSummary(dry_run=dry_run)
    with unit_of_work(session, code_conflict):
        existing = {
            p.code: p
            for p in session.scalars(
                select(Product).where(Product.brand_id == brand_id, Product.code.in_([p.code for p in parsed]))
            ).unique()
        }
        sku_codes = [s.code for p in parsed for s in p.skus]
        owners = dict(
            session.execute(
                select(Sku.code, Product.code)
                .join(Product, Product.id == Sku.product_id)
                .where(Sku.brand_id == brand_id, Sku.code.in_(sku_codes))
            ).all()
        )
        # Problems only the catalog reveals are reported together with the file's own.
        _check_against_catalog(parsed, existing, owners, limits, errors)
        if limits.require_qualifications:
            _check_qualified(session, brand_id, parsed, existing, errors)
        errors.raise_if_any()
        for rows in parsed:
            _apply(session, brand_id, rows, existing.get(rows.code), summary, limits=limits)
        if dry_run:
            session.rollback()
    return summary


def _check_against_catalog(
    parsed: list[ProductRows],
    existing: dict[str, Product],
    owners: dict[str, str],
    limits: CatalogLimits,
    errors: RowErrors,
) -> None:
    for rows in parsed:
        product = existing.get(rows.code)
        in_file = {s.code for s in rows.skus}
        kept = [s for s in (product.active_skus() if product else []) if s.code not in in_file]
        for sku in rows.skus:
            owner = owners.get(sku.code)
            if owner is not None and owner != rows.code:
                errors.add(sku.row, "sku_code", "sku_of_other_product", product_code=owner)
            elif any(k.attributes == sku.attributes for k in kept):
                errors.add(sku.row, "attributes", "duplicate_sku_attributes")
        if len(in_file | {s.code for s in (product.skus if product else [])}) > limits.max_skus:
            errors.add(rows.row, "sku_code", "too_many_skus", max=limits.max_skus)
        status = rows.status or (product.status if product else ProductStatus.DRAFT)
        if status == ProductStatus.ACTIVE and not rows.skus and not kept and not rows.bad_skus:
            errors.add(rows.row, "status", "active_needs_sku")


def _check_qualified(
    session: Session, brand_id: int, parsed: list[ProductRows], existing: dict[str, Product], errors: RowErrors
) -> None:
    """Rows that would put a regulated product on sale before the brand's papers for it are approved."""
    missing: dict[QualificationKind, list[QualificationKind]] = {}
    for rows in parsed:
        product = existing.get(rows.code)
        status = rows.status or (product.status if product else ProductStatus.DRAFT)
        needed = categories.required_qualification(rows.category) if rows.category else None
        if status != ProductStatus.ACTIVE or needed is None:
            continue
        if needed not in missing:
            missing[needed] = qualifications.missing_for(session, brand_id, needed)
        if missing[needed]:
            errors.add(rows.row, "status", "qualification_required", **missing_papers(missing[needed]))


def _apply(
    session: Session,
    brand_id: int,
    rows: ProductRows,
    product: Product | None,
    summary: ImportSummary,
    *,
    limits: CatalogLimits,
) -> None:
    """Create or update the product and its SKUs; what the file has exactly as stored is left alone (and counted
    as unchanged), so importing an export back changes nothing and tells the search index nothing."""
    created = product is None
    if product is None:
        product = Product(brand_id=brand_id, code=rows.code, name=rows.name, category=rows.category)
        session.add(product)
    description = (product.description or "") if rows.description is None else rows.description
    touched = created or (product.name, product.category, product.description) != (
        rows.name,
        rows.category,
        description,
    )
    product.name, product.category, product.description = rows.name, rows.category, description
    by_code = {s.code: s for s in product.skus}
    for row in rows.skus:
        sku = by_code.get(row.code)
        wanted = (row.attributes, row.price_fen, row.list_price_fen, row.stock, True)
        if sku is None:
            sku = Sku(brand_id=brand_id, code=row.code, price_fen=row.price_fen)
            product.skus.append(sku)
            summary.skus_created += 1
        elif (sku.attributes, sku.price_fen, sku.list_price_fen, sku.stock, sku.is_active) == wanted:
            summary.skus_unchanged += 1
            continue
        else:
            summary.skus_updated += 1
        touched = True
        sku.attributes, sku.price_fen, sku.list_price_fen = row.attributes, row.price_fen, row.list_price_fen
        sku.stock, sku.is_active = row.stock, True
    session.flush()
    status = rows.status or product.status or ProductStatus.DRAFT
    if status != product.status:
        set_status(session, product, status, limits=limits)
        touched = True
    if created:
        summary.products_created += 1
    elif touched:
        summary.products_updated += 1
    else:
        summary.products_unchanged += 1
        return
    changed(session, product)


def export_catalog(session: Session, user: User | None, brand_id: int) -> str:
    """The brand's catalog in the import format: one row per active SKU, products without one on a row of their own."""
    require_brand_member(session, user, brand_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    products = session.scalars(select(Product).where(Product.brand_id == brand_id).order_by(Product.id)).unique()
    for product in products:
        writer.writerows(_export_rows(product))
    return "\ufeff" + out.getvalue()


def _export_rows(product: Product) -> Iterable[list[str]]:
    category = categories.leaf(product.category)
    head = [
        product.code,
        product.name,
        category.path_zh if category else product.category,
        product.status.value,
        product.description,
    ]
    skus = product.active_skus()
    if not skus:
        yield [_guard(v) for v in [*head, "", "", "", "", ""]]
    for sku in skus:
        yield [
            _guard(v)
            for v in [
                *head,
                sku.code,
                format_attributes(sku.attributes),
                format_yuan(sku.price_fen),
                format_yuan(sku.list_price_fen) if sku.list_price_fen is not None else "",
                str(sku.stock),
            ]
        ]

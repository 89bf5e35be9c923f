"""Catalog over HTTP: categories, products, SKUs, images, CSV import and export."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from flask import Response
from pydantic import Field
from werkzeug.datastructures import FileStorage

from commerce.catalog import categories, csv_io, images, products
from commerce.catalog.limits import CatalogLimits
from commerce.catalog.models import AffiliateOffer, Product, ProductImage, ProductStatus, Sku
from core import extensions
from core.errors import PayloadTooLarge
from core.storage import ObjectStorage
from web.api.blueprint import bp
from web.api.endpoint import ApiModel, OutModel, QueryModel, endpoint
from web.auth import current_user, require_current_user

TAGS = ["catalog"]
Status = Literal["draft", "active", "archived"]
MAIN_IMAGE_WIDTH = "540"


def limits() -> CatalogLimits:
    return CatalogLimits.from_settings(extensions.settings())


# -- models -----------------------------------------------------------------------------------------


class CategoryOut(OutModel):
    code: str
    name_zh: str
    name_en: str
    children: list[CategoryOut] = Field(default_factory=list)


class SkuIn(ApiModel):
    code: str | None = Field(default=None, max_length=64, description="Unique within the brand; generated if left out")
    attributes: dict[str, str] = Field(default_factory=dict, description='e.g. {"颜色": "红", "尺码": "M"}')
    price_fen: int
    list_price_fen: int | None = None
    stock: int = 0

    def spec(self) -> products.SkuSpec:
        return products.SkuSpec(
            code=self.code,
            attributes=self.attributes,
            price_fen=self.price_fen,
            list_price_fen=self.list_price_fen,
            stock=self.stock,
        )


class SkuPatch(ApiModel):
    code: str | None = Field(default=None, max_length=64)
    attributes: dict[str, str] | None = None
    price_fen: int | None = None
    list_price_fen: int | None = Field(default=None, description="null removes the list price; omit to keep it")
    stock: int | None = None
    is_active: bool | None = None


class ProductIn(ApiModel):
    name: str = Field(min_length=1, max_length=120)
    category: str = Field(max_length=40, description="A leaf code from GET /catalog/categories, e.g. beauty.skincare")
    description: str = Field(default="", max_length=5000)
    code: str | None = Field(default=None, max_length=64, description="Merchant code; generated if left out")
    status: Status = "draft"
    skus: list[SkuIn] = Field(default_factory=list, max_length=200)


class ProductPatch(ApiModel):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    category: str | None = Field(default=None, max_length=40)
    description: str | None = Field(default=None, max_length=5000)
    code: str | None = Field(default=None, max_length=64)
    status: Status | None = None


class SkuOut(OutModel):
    id: int
    code: str
    attributes: dict[str, str]
    price_fen: int
    list_price_fen: int | None
    stock: int
    is_active: bool


class ImageOut(OutModel):
    id: int
    position: int
    width: int
    height: int
    urls: dict[str, str] = Field(description="Rendition width -> public URL of an EXIF-free JPEG")

    @classmethod
    def of(cls, image: ProductImage, storage: ObjectStorage) -> ImageOut:
        urls = {w: storage.public_url(key) for w, key in image.renditions.items()}
        return cls(id=image.id, position=image.position, width=image.width, height=image.height, urls=urls)


class OfferOut(OutModel):
    id: int
    product_id: int
    artist_rate_bp: int
    sharer_rate_bp: int
    effective_from: dt.datetime
    effective_to: dt.datetime | None


class ProductCardOut(OutModel):
    """What a list or a card on a video shows."""

    id: int
    brand_id: int
    brand_name: str
    name: str
    category: str
    status: ProductStatus
    price_min_fen: int | None
    price_max_fen: int | None
    image_url: str | None

    @classmethod
    def of(cls, product: Product, storage: ObjectStorage) -> ProductCardOut:
        main = product.images[0] if product.images else None
        return cls(
            id=product.id,
            brand_id=product.brand_id,
            brand_name=product.brand.name,
            name=product.name,
            category=product.category,
            status=product.status,
            price_min_fen=product.price_min_fen,
            price_max_fen=product.price_max_fen,
            image_url=storage.public_url(main.renditions[MAIN_IMAGE_WIDTH]) if main else None,
        )


class ProductOut(OutModel):
    id: int
    brand_id: int
    brand_name: str
    code: str
    name: str
    description: str
    category: str
    category_path: str
    status: ProductStatus
    price_min_fen: int | None
    price_max_fen: int | None
    skus: list[SkuOut]
    images: list[ImageOut]
    affiliate: OfferOut | None = Field(description="The open affiliate offer, if the product is in the marketplace")
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, product: Product, storage: ObjectStorage, offer: AffiliateOffer | None) -> ProductOut:
        leaf = categories.leaf(product.category)
        return cls(
            id=product.id,
            brand_id=product.brand_id,
            brand_name=product.brand.name,
            code=product.code,
            name=product.name,
            description=product.description,
            category=product.category,
            category_path=leaf.path_zh if leaf else product.category,
            status=product.status,
            price_min_fen=product.price_min_fen,
            price_max_fen=product.price_max_fen,
            skus=[SkuOut.model_validate(s) for s in product.skus],
            images=[ImageOut.of(i, storage) for i in product.images],
            affiliate=OfferOut.model_validate(offer) if offer else None,
            created_at=product.created_at,
            updated_at=product.updated_at,
        )


class ProductPage(OutModel):
    items: list[ProductOut]
    next_cursor: str | None


class PageQuery(QueryModel):
    cursor: str | None = Field(default=None, description="`next_cursor` of the previous page")
    limit: int = Field(default=20, ge=1, le=100)


class ProductsQuery(PageQuery):
    category: str | None = Field(default=None, description="A leaf or top-level category code")
    q: str | None = Field(default=None, max_length=100, description="Words in the name or code")


class PublicProductsQuery(ProductsQuery):
    brand_id: int | None = None


class BrandProductsQuery(ProductsQuery):
    status: Status | None = None


class ImageOrderIn(ApiModel):
    image_ids: list[int] = Field(max_length=50)


class ImportQuery(QueryModel):
    dry_run: bool = Field(default=False, description="Check the file and report what would change, without saving")


class ImportOut(OutModel):
    products_created: int
    products_updated: int
    products_unchanged: int = Field(description="In the file exactly as stored: skipped")
    skus_created: int
    skus_updated: int
    skus_unchanged: int = Field(description="In the file exactly as stored: skipped")
    dry_run: bool


def product_out(product: Product) -> ProductOut:
    return ProductOut.of(product, extensions.storage(), products.current_offer(extensions.session(), product.id))


def product_page(items: list[Product], next_cursor: str | None) -> ProductPage:
    offers = products.current_offers(extensions.session(), [p.id for p in items])
    storage = extensions.storage()
    return ProductPage(items=[ProductOut.of(p, storage, offers.get(p.id)) for p in items], next_cursor=next_cursor)


def read_upload(file: FileStorage, max_bytes: int, code: str) -> bytes:
    """The uploaded bytes, refusing more than `max_bytes` without reading the rest."""
    data = file.stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge(code, max_mb=f"{max_bytes / 1024 / 1024:g}")
    return data


# -- views ------------------------------------------------------------------------------------------


@bp.get("/catalog/categories")
@endpoint(summary="The product category tree", tags=TAGS, response=list[CategoryOut])
def list_categories() -> list[CategoryOut]:
    """Products sit in a leaf (two levels: 美妆/护肤 is `beauty.skincare`)."""
    return [
        CategoryOut(
            code=root.code,
            name_zh=root.name_zh,
            name_en=root.name_en,
            children=[CategoryOut(code=c.code, name_zh=c.name_zh, name_en=c.name_en) for c in root.children],
        )
        for root in categories.ROOTS
    ]


@bp.get("/products")
@endpoint(summary="Products on sale", tags=TAGS, query=PublicProductsQuery, response=ProductPage, errors=[400])
def list_products(query: PublicProductsQuery) -> ProductPage:
    items, cursor = products.list_active_products(
        extensions.session(),
        brand_id=query.brand_id,
        category=query.category,
        q=query.q,
        cursor=query.cursor,
        limit=query.limit,
    )
    return product_page(items, cursor)


@bp.post("/brands/<int:brand_id>/products")
@endpoint(
    summary="Create a product (brand members)",
    tags=TAGS,
    body=ProductIn,
    response=ProductOut,
    status=201,
    auth="required",
    errors=[403, 409],
)
def create_product(brand_id: int, body: ProductIn) -> ProductOut:
    """SKUs may be created with the product; an `active` product needs at least one."""
    product = products.create_product(
        extensions.session(),
        require_current_user(),
        brand_id,
        name=body.name,
        category=body.category,
        description=body.description,
        code=body.code,
        status=ProductStatus(body.status),
        skus=[s.spec() for s in body.skus],
        limits=limits(),
    )
    return product_out(product)


@bp.get("/brands/<int:brand_id>/products")
@endpoint(
    summary="A brand's products, drafts and archived included (members)",
    tags=TAGS,
    query=BrandProductsQuery,
    response=ProductPage,
    auth="required",
    errors=[400, 403],
)
def list_brand_products(brand_id: int, query: BrandProductsQuery) -> ProductPage:
    items, cursor = products.list_brand_products(
        extensions.session(),
        require_current_user(),
        brand_id,
        status=ProductStatus(query.status) if query.status else None,
        category=query.category,
        q=query.q,
        cursor=query.cursor,
        limit=query.limit,
    )
    return product_page(items, cursor)


@bp.get("/products/<int:product_id>")
@endpoint(summary="A product", tags=TAGS, response=ProductOut, auth="optional", errors=[404])
def get_product(product_id: int) -> ProductOut:
    """Active products are public; drafts and archived products only to their brand."""
    return product_out(products.visible_product(extensions.session(), current_user(), product_id))


@bp.patch("/products/<int:product_id>")
@endpoint(
    summary="Edit a product (brand members)",
    tags=TAGS,
    body=ProductPatch,
    response=ProductOut,
    auth="required",
    errors=[403, 404, 409],
)
def patch_product(product_id: int, body: ProductPatch) -> ProductOut:
    """Archiving a product also closes its affiliate offer."""
    product = products.update_product(
        extensions.session(),
        require_current_user(),
        product_id,
        name=body.name,
        description=body.description,
        category=body.category,
        code=body.code,
        status=ProductStatus(body.status) if body.status else None,
    )
    return product_out(product)


@bp.post("/products/<int:product_id>/skus")
@endpoint(
    summary="Add a SKU (brand members)",
    tags=TAGS,
    body=SkuIn,
    response=SkuOut,
    status=201,
    auth="required",
    errors=[403, 404, 409],
)
def add_sku(product_id: int, body: SkuIn) -> SkuOut:
    sku = products.add_sku(extensions.session(), require_current_user(), product_id, body.spec(), limits=limits())
    return SkuOut.model_validate(sku)


@bp.patch("/products/<int:product_id>/skus/<int:sku_id>")
@endpoint(
    summary="Edit a SKU: price, stock, attributes (brand members)",
    tags=TAGS,
    body=SkuPatch,
    response=SkuOut,
    auth="required",
    errors=[403, 404, 409],
)
def patch_sku(product_id: int, sku_id: int, body: SkuPatch) -> SkuOut:
    sku: Sku = products.update_sku(
        extensions.session(),
        require_current_user(),
        product_id,
        sku_id,
        price_fen=body.price_fen,
        stock=body.stock,
        attributes=body.attributes,
        code=body.code,
        is_active=body.is_active,
        list_price_fen=body.list_price_fen if "list_price_fen" in body.model_fields_set else products.UNSET,
        limits=limits(),
    )
    return SkuOut.model_validate(sku)


@bp.delete("/products/<int:product_id>/skus/<int:sku_id>")
@endpoint(summary="Stop selling a SKU (brand members)", tags=TAGS, status=204, auth="required", errors=[403, 404])
def delete_sku(product_id: int, sku_id: int) -> tuple[None, int]:
    """The SKU is deactivated, not erased: orders and video cards that name it keep working."""
    products.deactivate_sku(extensions.session(), require_current_user(), product_id, sku_id)
    return None, 204


@bp.post("/products/<int:product_id>/images")
@endpoint(
    summary="Upload a product image (brand members)",
    tags=TAGS,
    upload="file",
    response=ImageOut,
    status=201,
    auth="required",
    errors=[403, 404, 413],
)
def upload_image(product_id: int, file: FileStorage) -> ImageOut:
    """JPEG, PNG, WebP or GIF. The original is kept privately; resized JPEG renditions without EXIF are public."""
    lim = limits()
    data = read_upload(file, lim.image_max_bytes, "image_too_large")
    image = images.add_image(
        extensions.session(), require_current_user(), product_id, data, storage=extensions.storage(), limits=lim
    )
    return ImageOut.of(image, extensions.storage())


@bp.delete("/products/<int:product_id>/images/<int:image_id>")
@endpoint(summary="Delete a product image (brand members)", tags=TAGS, status=204, auth="required", errors=[403, 404])
def delete_image(product_id: int, image_id: int) -> tuple[None, int]:
    images.delete_image(
        extensions.session(), require_current_user(), product_id, image_id, storage=extensions.storage()
    )
    return None, 204


@bp.put("/products/<int:product_id>/images/order")
@endpoint(
    summary="Reorder a product's images (brand members)",
    tags=TAGS,
    body=ImageOrderIn,
    response=list[ImageOut],
    auth="required",
    errors=[403, 404],
)
def reorder_images(product_id: int, body: ImageOrderIn) -> list[ImageOut]:
    """The first image is the product's main picture."""
    ordered = images.reorder_images(extensions.session(), require_current_user(), product_id, body.image_ids)
    return [ImageOut.of(i, extensions.storage()) for i in ordered]


@bp.post("/brands/<int:brand_id>/catalog/import")
@endpoint(
    summary="Import a catalog CSV (brand members)",
    tags=TAGS,
    upload="file",
    query=ImportQuery,
    response=ImportOut,
    auth="required",
    errors=[403, 413],
)
def import_catalog(brand_id: int, file: FileStorage, query: ImportQuery) -> ImportOut:
    """One row per SKU: product_code, name, category, status, description, sku_code, attributes (颜色:红;尺码:M),
    price and list_price in yuan (129.00), stock. All or nothing: every bad cell of every row is reported (field
    `rows.<row>.<column>`, with `row`, `column` and a sentence; the header is row 1) and nothing is imported; an
    unknown category adds the valid codes as the problem's `detail`. Chinese headers and GBK files from Excel are
    accepted."""
    lim = limits()
    data = read_upload(file, lim.import_max_bytes, "csv_too_large")
    summary = csv_io.import_catalog(
        extensions.session(), require_current_user(), brand_id, data, limits=lim, dry_run=query.dry_run
    )
    return ImportOut.model_validate(summary)


@bp.get("/brands/<int:brand_id>/catalog/export")
@endpoint(
    summary="Export the catalog as CSV (brand members)",
    tags=TAGS,
    produces="text/csv",
    auth="required",
    errors=[403],
)
def export_catalog(brand_id: int) -> Response:
    """The import format, so an edited export imports back."""
    text = csv_io.export_catalog(extensions.session(), require_current_user(), brand_id)
    return Response(
        text.encode(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="catalog-{brand_id}.csv"'},
    )

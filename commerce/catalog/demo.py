"""Demo catalog for `make run`: a brand's products with SKUs, generated pictures and affiliate offers.

Everything goes through the real services, so the demo exercises the same checks,
renditions and outbox events as production.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageDraw
from sqlalchemy.orm import Session

from commerce.catalog import affiliate, images, products, showcase
from commerce.catalog.limits import CatalogLimits
from commerce.catalog.models import Product, ProductStatus
from commerce.catalog.products import SkuSpec
from core import clock
from core.accounts.models import BrandQualification, QualificationKind, QualificationStatus, User
from core.storage import ObjectStorage


@dataclass(frozen=True)
class DemoProduct:
    code: str
    name: str
    category: str
    description: str
    colour: tuple[int, int, int]
    skus: list[SkuSpec]
    artist_rate_bp: int | None = None
    sharer_rate_bp: int = 0


DEMO_PRODUCTS = [
    DemoProduct(
        "HXZ-POWDER",
        "空气蜜粉 控油定妆散粉",
        "beauty.makeup",
        "轻薄透气，持久控油定妆，适合油皮与混油皮。Loose setting powder, oil control.",
        (236, 200, 190),
        [
            SkuSpec(price_fen=14900, list_price_fen=19900, stock=500, attributes={"色号": "01 自然色"}, code="HXZ-P01"),
            SkuSpec(price_fen=14900, list_price_fen=19900, stock=320, attributes={"色号": "02 象牙白"}, code="HXZ-P02"),
        ],
        artist_rate_bp=2000,
        sharer_rate_bp=500,
    ),
    DemoProduct(
        "HXZ-SUN",
        "清透防晒霜 SPF50+ PA++++",
        "beauty.skincare",
        "高倍防晒不油腻，海边度假与日常通勤都适用。Lightweight sunscreen SPF50+.",
        (250, 214, 120),
        [SkuSpec(price_fen=12900, list_price_fen=15900, stock=800, attributes={"规格": "50ml"}, code="HXZ-SUN50")],
        artist_rate_bp=2500,
    ),
    DemoProduct(
        "HXZ-DRESS",
        "法式碎花连衣裙 夏季显瘦",
        "apparel.women",
        "雪纺面料，V 领收腰设计，夏季约会通勤都好看。Floral summer dress.",
        (170, 200, 240),
        [
            SkuSpec(price_fen=25900, stock=60, attributes={"颜色": "雾霾蓝", "尺码": "S"}, code="HXZ-DR-BS"),
            SkuSpec(price_fen=25900, stock=80, attributes={"颜色": "雾霾蓝", "尺码": "M"}, code="HXZ-DR-BM"),
            SkuSpec(price_fen=25900, stock=40, attributes={"颜色": "奶油白", "尺码": "M"}, code="HXZ-DR-WM"),
        ],
        artist_rate_bp=1500,
    ),
    DemoProduct(
        "HXZ-BUDS",
        "降噪蓝牙耳机 Pro",
        "digital.audio",
        "主动降噪，30 小时续航，通勤运动都能用。Wireless noise-cancelling earbuds.",
        (60, 70, 90),
        [SkuSpec(price_fen=39900, list_price_fen=49900, stock=200, attributes={"颜色": "曜石黑"}, code="HXZ-BUDS-K")],
    ),
    DemoProduct(
        "HXZ-CASE",
        "磁吸手机壳 防摔透明",
        "digital.phone_accessories",
        "支持磁吸充电，四角气囊防摔。Clear magnetic phone case.",
        (200, 230, 220),
        [
            SkuSpec(price_fen=5900, stock=1000, attributes={"型号": "iPhone 15"}, code="HXZ-CASE-15"),
            SkuSpec(price_fen=5900, stock=1000, attributes={"型号": "iPhone 15 Pro"}, code="HXZ-CASE-15P"),
        ],
        artist_rate_bp=3000,
    ),
]


def product_picture(colour: tuple[int, int, int], size: int = 800) -> bytes:
    """A simple generated product shot: a soft gradient with a lit object, as a JPEG."""
    img = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(img)
    r, g, b = colour
    for y in range(size):
        t = y / size
        draw.line(
            [(0, y), (size, y)],
            fill=(int(255 - (255 - r) * t * 0.6), int(255 - (255 - g) * t * 0.6), int(255 - (255 - b) * t * 0.6)),
        )
    pad = size // 4
    draw.rounded_rectangle(
        [pad, pad, size - pad, size - pad], radius=size // 10, fill=colour, outline=(255, 255, 255), width=6
    )
    draw.ellipse([pad + 40, pad + 40, pad + 140, pad + 140], fill=(255, 255, 255))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=88)
    return out.getvalue()


def _demo_papers(session: Session, brand_id: int) -> None:
    """The demo brand's licence and category papers, on record as checked: without them its cosmetics and food
    could not go on sale. Real brands submit theirs for review (moderation.qualifications)."""
    for kind in QualificationKind:
        session.add(BrandQualification(brand_id=brand_id, kind=kind, licence_number=f"DEMO-{kind.value}",
                                       document_key="", content_type="", status=QualificationStatus.APPROVED,
                                       review_note="demo brand", decided_at=clock.now()))  # fmt: skip
    session.flush()


def seed_demo_catalog(
    session: Session,
    storage: ObjectStorage,
    *,
    brand_id: int,
    owner: User,
    artist: User | None = None,
    limits: CatalogLimits | None = None,
) -> list[str]:
    """Create the demo products for `brand_id`; the artist (if given) carries the ones open for affiliation."""
    limits = limits or CatalogLimits()
    _demo_papers(session, brand_id)
    created: list[Product] = []
    for demo in DEMO_PRODUCTS:
        product = products.create_product(
            session,
            owner,
            brand_id,
            code=demo.code,
            name=demo.name,
            category=demo.category,
            description=demo.description,
            status=ProductStatus.ACTIVE,
            skus=demo.skus,
            limits=limits,
        )
        images.add_image(session, owner, product.id, product_picture(demo.colour), storage=storage, limits=limits)
        if demo.artist_rate_bp is not None:
            affiliate.set_offer(
                session,
                owner,
                product.id,
                artist_rate_bp=demo.artist_rate_bp,
                sharer_rate_bp=demo.sharer_rate_bp,
                limits=limits,
            )
            if artist is not None:
                showcase.add(session, artist, product.id)
        created.append(product)
    open_count = sum(1 for d in DEMO_PRODUCTS if d.artist_rate_bp is not None)
    return [f"demo catalog: {len(created)} products ({open_count} open for affiliation) for brand {brand_id}"]

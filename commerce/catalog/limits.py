"""Platform limits for the catalog, read from settings once and handed to services as plain values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.settings import Settings


@dataclass(frozen=True)
class CatalogLimits:
    image_max_bytes: int = 10 * 1024 * 1024
    image_max_pixels: int = 40_000_000
    max_images: int = 9
    max_skus: int = 200
    import_max_bytes: int = 5 * 1024 * 1024
    import_max_rows: int = 5000
    rate_min_bp: int = 100
    rate_max_bp: int = 5000
    video_max_products: int = 6
    # Prices above this are typos (a million yuan), not products.
    price_max_fen: int = 100_000_000
    # Regulated categories (cosmetics, food, health food) need the brand's approved papers to go on sale.
    require_qualifications: bool = True

    @classmethod
    def from_settings(cls, s: Settings) -> CatalogLimits:
        return cls(
            image_max_bytes=s.product_image_max_bytes,
            image_max_pixels=s.product_image_max_pixels,
            max_images=s.product_max_images,
            max_skus=s.product_max_skus,
            import_max_bytes=s.catalog_import_max_bytes,
            import_max_rows=s.catalog_import_max_rows,
            rate_min_bp=s.affiliate_rate_min_bp,
            rate_max_bp=s.affiliate_rate_max_bp,
            video_max_products=s.video_max_products,
            require_qualifications=s.qualifications_required,
        )

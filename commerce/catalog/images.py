"""Product images: validate the upload, keep the original privately, publish EXIF-free resized JPEGs.

The file is identified by its bytes (never its name or declared type). Its pixel
count is checked from the header before any pixel is decoded, so a small file that
would expand into gigabytes (a decompression bomb) is refused without being inflated.
Renditions are re-encoded from decoded pixels with no EXIF, so camera details and GPS
positions in the original never reach the public copies.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import Session

from commerce.catalog.limits import CatalogLimits
from commerce.catalog.models import ProductImage
from commerce.catalog.products import changed, product_for_member
from commerce.catalog.tx import unit_of_work
from core import ids
from core.accounts.models import User
from core.errors import NotFound, PayloadTooLarge, ValidationFailed, register_messages
from core.storage import ObjectStorage, StorageError

log = logging.getLogger(__name__)

register_messages(
    {
        "not_an_image": (
            "文件不是可识别的图片（支持 JPEG、PNG、WebP、GIF）",
            "Not a readable image (JPEG, PNG, WebP or GIF)",
        ),
        "image_too_large": ("图片不能超过 {max_mb} MB", "Images must be at most {max_mb} MB"),
        "image_too_many_pixels": (
            "图片尺寸过大（最多 {max_mp} 百万像素）",
            "The image has too many pixels (at most {max_mp} megapixels)",
        ),
        "too_many_images": ("每个商品最多 {max} 张图片", "A product has at most {max} images"),
        "image_order_mismatch": (
            "排序必须恰好包含该商品的全部图片",
            "The order must list every image of the product once",
        ),
    }
)

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
RENDITION_WIDTHS = (1080, 540, 240)
JPEG_QUALITY = 85
_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}


@dataclass(frozen=True)
class Rendered:
    width: int
    height: int
    format: str
    renditions: dict[int, bytes]  # target width -> JPEG bytes

    @property
    def mime(self) -> str:
        return _MIME[self.format]


def _flatten(img: Image.Image) -> Image.Image:
    """RGB pixels; transparency goes onto white, as product photos are shown on white."""
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return img.convert("RGB")


def render(data: bytes, *, max_bytes: int, max_pixels: int, widths: Sequence[int] = RENDITION_WIDTHS) -> Rendered:
    """Check an uploaded image and make its renditions; raises a clear error for anything else."""
    if len(data) > max_bytes:
        raise PayloadTooLarge("image_too_large", max_mb=f"{max_bytes / 1024 / 1024:g}")
    try:
        with warnings.catch_warnings():
            # Pillow only warns below twice its own bomb threshold; our limit is checked next anyway.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            fmt = str(img.format)
            width, height = img.size
            if width * height > max_pixels:
                raise ValidationFailed.one("file", "image_too_many_pixels", max_mp=f"{max_pixels / 1e6:g}")
            img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValidationFailed.one("file", "image_too_many_pixels", max_mp=f"{max_pixels / 1e6:g}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ValidationFailed.one("file", "not_an_image") from exc
    # Camera orientation lives in EXIF, which the renditions drop: turn the pixels upright first.
    upright = _flatten(ImageOps.exif_transpose(img))
    width, height = upright.size
    renditions = {}
    for target in widths:
        w = min(target, width)
        frame = (
            upright if w == width else upright.resize((w, max(1, round(height * w / width))), Image.Resampling.LANCZOS)
        )
        out = io.BytesIO()
        # No `exif=` argument: the JPEG is written without EXIF (camera, time, GPS).
        frame.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
        renditions[target] = out.getvalue()
    return Rendered(width=width, height=height, format=fmt, renditions=renditions)


def add_image(
    session: Session, user: User | None, product_id: int, data: bytes, *, storage: ObjectStorage, limits: CatalogLimits
) -> ProductImage:
    product = product_for_member(session, user, product_id)
    if len(product.images) >= limits.max_images:
        raise ValidationFailed.one("file", "too_many_images", max=limits.max_images)
    # End the read transaction before the slow part: on SQLite it holds the database write lock.
    session.commit()
    rendered = render(data, max_bytes=limits.image_max_bytes, max_pixels=limits.image_max_pixels)
    token = ids.short_id(nbytes=8)
    original_key = f"products/{product_id}/{token}/original"
    keys = {str(w): f"public/products/{product_id}/{token}/{w}.jpg" for w in rendered.renditions}
    written: list[str] = []
    try:
        storage.put(original_key, data, content_type=rendered.mime)
        written.append(original_key)
        for w, jpeg in rendered.renditions.items():
            storage.put(keys[str(w)], jpeg, content_type="image/jpeg")
            written.append(keys[str(w)])
        with unit_of_work(session):
            product = product_for_member(session, user, product_id, lock=True)
            if len(product.images) >= limits.max_images:  # another upload filled the last slot meanwhile
                raise ValidationFailed.one("file", "too_many_images", max=limits.max_images)
            image = ProductImage(
                position=max((i.position for i in product.images), default=-1) + 1,
                original_key=original_key,
                renditions=keys,
                width=rendered.width,
                height=rendered.height,
                format=rendered.format,
                bytes=len(data),
            )
            product.images.append(image)
            session.flush()
            changed(session, product)
    except BaseException:
        delete_objects(storage, written)
        raise
    return image


def delete_objects(storage: ObjectStorage, keys: Sequence[str]) -> None:
    """Best effort: a key that cannot be deleted is logged and left behind."""
    for key in keys:
        try:
            storage.delete(key)
        except StorageError:  # an orphan object costs storage, not correctness
            log.warning("could not delete %s", key, exc_info=True)


def store_renditions(storage: ObjectStorage, rendered: Rendered, prefix: str) -> dict[int, str]:
    """Write each rendition as `<prefix>/<width>.jpg`; a failure part-way deletes what was written. Returns the keys
    by width (the caller deletes them if what records them fails)."""
    keys = {width: f"{prefix}/{width}.jpg" for width in rendered.renditions}
    written: list[str] = []
    try:
        for width, key in keys.items():
            storage.put(key, rendered.renditions[width], content_type="image/jpeg")
            written.append(key)
    except BaseException:
        delete_objects(storage, written)
        raise
    return keys


def delete_image(
    session: Session, user: User | None, product_id: int, image_id: int, *, storage: ObjectStorage
) -> None:
    with unit_of_work(session):
        product = product_for_member(session, user, product_id, lock=True)
        image = next((i for i in product.images if i.id == image_id), None)
        if image is None:
            raise NotFound("image")
        keys = [image.original_key, *image.renditions.values()]
        product.images.remove(image)
        for position, other in enumerate(product.images):
            other.position = position
        changed(session, product)
    delete_objects(storage, keys)


def reorder_images(
    session: Session, user: User | None, product_id: int, image_ids: Sequence[int]
) -> list[ProductImage]:
    """Put the images in this order; the first is the product's main picture."""
    with unit_of_work(session):
        product = product_for_member(session, user, product_id, lock=True)
        by_id = {i.id: i for i in product.images}
        if sorted(image_ids) != sorted(by_id):
            raise ValidationFailed.one("image_ids", "image_order_mismatch")
        for position, image_id in enumerate(image_ids):
            by_id[image_id].position = position
        changed(session, product)
    product.images.sort(key=lambda i: i.position)
    return product.images

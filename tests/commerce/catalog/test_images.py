"""Product images: EXIF (and GPS) stripped from the public renditions, bad uploads refused with clear errors."""

from __future__ import annotations

import io
import struct
import zlib
from urllib.parse import urlparse

import pytest
from flask.testing import FlaskClient
from PIL import ExifTags, Image
from sqlalchemy.orm import Session

from commerce.catalog import images
from commerce.catalog.limits import CatalogLimits
from core.errors import PayloadTooLarge, ValidationFailed
from core.storage.s3 import S3Storage
from tests import factories
from tests.commerce.catalog.conftest import Shop
from tests.commerce.catalog.helpers import bearer, events_since, outbox_mark

LIMITS = CatalogLimits(require_qualifications=False)  # papers: tests/moderation/test_qualifications.py
GPS_IFD = ExifTags.IFD.GPSInfo


def camera_jpeg(size: tuple[int, int] = (1600, 1200), orientation: int = 6) -> bytes:
    """A JPEG as a phone writes it: maker, model, a GPS position and a rotation flag in EXIF."""
    img = Image.new("RGB", size, (200, 80, 40))
    img.paste((30, 120, 220), (0, 0, size[0] // 2, size[1] // 4))  # a marker in the top-left corner
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Canon"
    exif[ExifTags.Base.Model] = "EOS R5"
    exif[ExifTags.Base.Orientation] = orientation
    exif[GPS_IFD] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (39.0, 54.0, 20.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (116.0, 23.0, 29.0),
    }
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width`×`height` pixels (a decompression bomb's calling card)."""
    out = io.BytesIO()
    Image.new("L", (1, 1)).save(out, "PNG")
    data = bytearray(out.getvalue())
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def assert_no_exif(jpeg: bytes) -> None:
    img = Image.open(io.BytesIO(jpeg))
    assert img.format == "JPEG"
    exif = img.getexif()
    assert len(exif) == 0, dict(exif)
    assert exif.get_ifd(GPS_IFD) == {}
    assert b"Exif\x00\x00" not in jpeg
    assert b"Canon" not in jpeg


def test_original_has_gps_but_renditions_on_s3_have_no_exif(db_session: Session, shop: Shop, s3_endpoint: str) -> None:
    store = S3Storage(bucket="xl-catalog-images", prefix="test", endpoint_url=s3_endpoint)
    store.ensure_bucket()
    product = factories.product(db_session, brand=shop.brand_a)
    db_session.commit()
    upload = camera_jpeg()
    assert Image.open(io.BytesIO(upload)).getexif().get_ifd(GPS_IFD)  # the input really carries a position
    mark = outbox_mark(db_session)

    image = images.add_image(db_session, shop.member_a, product.id, upload, storage=store, limits=LIMITS)

    assert not image.original_key.startswith("public/")
    assert store.get(image.original_key) == upload  # the original is kept as received, privately
    assert set(image.renditions) == {"1080", "540", "240"}
    # Orientation 6 means "turn 90°": the stored pixels are upright, so width and height swap.
    assert (image.width, image.height) == (1200, 1600)
    for width, key in image.renditions.items():
        assert key.startswith(f"public/products/{product.id}/")
        jpeg = store.get(key)
        assert_no_exif(jpeg)
        rendition = Image.open(io.BytesIO(jpeg))
        assert rendition.size == (int(width), int(width) * 4 // 3)
        # The marker (top-left of the sensor) is now at the top-right after the rotation.
        assert rendition.convert("RGB").getpixel((int(width) - 3, 3))[2] > 150
    assert events_since(db_session, mark) == [("product", str(product.id))]


def test_upload_over_http_serves_public_renditions(client: FlaskClient, db_session: Session, shop: Shop) -> None:
    product = factories.product(db_session, brand=shop.brand_a)
    db_session.commit()
    h = bearer(client, shop.owner_a)
    r = client.post(
        f"/api/v1/products/{product.id}/images",
        data={"file": (io.BytesIO(camera_jpeg((800, 600), orientation=1)), "IMG_0001.JPG")},
        headers=h,
        content_type="multipart/form-data",
    )
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert (body["width"], body["height"]) == (800, 600)
    served = client.get(urlparse(body["urls"]["540"]).path)
    assert served.status_code == 200
    assert_no_exif(served.data)
    assert Image.open(io.BytesIO(served.data)).size == (540, 405)
    # A picture narrower than a rendition width is not blown up.
    assert Image.open(io.BytesIO(client.get(urlparse(body["urls"]["1080"]).path).data)).size == (800, 600)
    card = client.get(f"/api/v1/products/{product.id}").get_json()
    assert card["images"][0]["urls"] == body["urls"]


@pytest.mark.parametrize(
    ("payload", "filename"),
    [
        (b"this is plain text, not a picture", "photo.jpg"),
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj", "scan.png"),
        (camera_jpeg((400, 300))[:600], "truncated.jpg"),
        (b"", "empty.jpg"),
    ],
)
def test_non_images_are_rejected_with_a_clear_error(
    client: FlaskClient, db_session: Session, shop: Shop, payload: bytes, filename: str
) -> None:
    product = factories.product(db_session, brand=shop.brand_a)
    db_session.commit()
    r = client.post(
        f"/api/v1/products/{product.id}/images",
        data={"file": (io.BytesIO(payload), filename, "image/jpeg")},
        headers={**bearer(client, shop.owner_a), "Accept-Language": "en"},
        content_type="multipart/form-data",
    )
    assert r.status_code == 422
    (error,) = r.get_json()["errors"]
    assert (error["field"], error["code"]) == ("file", "not_an_image")
    assert "JPEG, PNG, WebP or GIF" in error["message"]
    assert product.images == []


def test_oversize_image_is_rejected_before_decoding(client: FlaskClient, db_session: Session, shop: Shop) -> None:
    product = factories.product(db_session, brand=shop.brand_a)
    db_session.commit()
    too_big = camera_jpeg((64, 64)) + b"\0" * LIMITS.image_max_bytes
    r = client.post(
        f"/api/v1/products/{product.id}/images",
        data={"file": (io.BytesIO(too_big), "huge.jpg")},
        headers=bearer(client, shop.owner_a),
        content_type="multipart/form-data",
    )
    assert r.status_code == 413
    assert r.get_json()["code"] == "image_too_large"
    assert r.get_json()["title"] == "图片不能超过 10 MB"


@pytest.mark.parametrize("dimensions", [(8000, 8000), (60000, 60000)])
def test_decompression_bombs_are_refused_from_the_header(dimensions: tuple[int, int]) -> None:
    bomb = png_claiming(*dimensions)
    assert len(bomb) < 200
    with pytest.raises(ValidationFailed) as err:
        images.render(bomb, max_bytes=LIMITS.image_max_bytes, max_pixels=LIMITS.image_max_pixels)
    assert err.value.fields[0].code == "image_too_many_pixels"


def test_render_limits_and_transparency() -> None:
    with pytest.raises(PayloadTooLarge):
        images.render(camera_jpeg((32, 32)), max_bytes=100, max_pixels=10**6)
    rgba = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    buf = io.BytesIO()
    rgba.save(buf, "PNG")
    rendered = images.render(buf.getvalue(), max_bytes=10**6, max_pixels=10**6, widths=(240,))
    assert rendered.format == "PNG"
    # Transparent areas become white, not black, on the JPEG.
    assert Image.open(io.BytesIO(rendered.renditions[240])).convert("RGB").getpixel((5, 5)) >= (250, 250, 250)


def test_image_count_limit_order_and_delete(db_session: Session, shop: Shop, app) -> None:  # type: ignore[no-untyped-def]
    store = app.extensions["storage"]
    product = factories.product(db_session, brand=shop.brand_a)
    db_session.commit()
    limits = CatalogLimits(max_images=2)
    small = camera_jpeg((300, 300), orientation=1)
    first = images.add_image(db_session, shop.owner_a, product.id, small, storage=store, limits=limits)
    second = images.add_image(db_session, shop.owner_a, product.id, small, storage=store, limits=limits)
    with pytest.raises(ValidationFailed) as err:
        images.add_image(db_session, shop.owner_a, product.id, small, storage=store, limits=limits)
    assert err.value.fields[0].code == "too_many_images"
    mark = outbox_mark(db_session)
    ordered = images.reorder_images(db_session, shop.owner_a, product.id, [second.id, first.id])
    assert [i.id for i in ordered] == [second.id, first.id]
    assert events_since(db_session, mark) == [("product", str(product.id))]  # the feed's card image changes
    with pytest.raises(ValidationFailed):
        images.reorder_images(db_session, shop.owner_a, product.id, [second.id])
    keys = [first.original_key, *first.renditions.values()]
    assert all(store.exists(k) for k in keys)
    mark = outbox_mark(db_session)
    images.delete_image(db_session, shop.owner_a, product.id, first.id, storage=store)
    assert events_since(db_session, mark) == [("product", str(product.id))]
    assert not any(store.exists(k) for k in keys)
    assert [i.id for i in product.images] == [second.id]
    assert product.images[0].position == 0

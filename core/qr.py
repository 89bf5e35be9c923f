"""QR codes as SVG documents (the pinned `qrcode` package): share links, distributor invites."""

from __future__ import annotations

import io


def svg(text: str) -> bytes:
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    buf = io.BytesIO()
    image.save(buf)
    return buf.getvalue()

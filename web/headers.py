"""Security headers on every response: a Content-Security-Policy without inline script, no framing, no sniffing,
a referrer that stays on our origin, no powerful browser features, and HSTS when the request came over https.

Pages run only scripts served from our own origin (`web/static`, Swagger UI's bundle): data reaches them through
`data-` attributes or `<script type="application/json">` blocks, which are not executed. Media, images, XHR and
uploads may also go to the object store's origins (`ObjectStorage.browser_origins()`: presigned S3 URLs, a CDN, the
local store's `/storage`), and hls.js may play from `blob:` (Media Source) and run its worker from one. Objects
served by the local store get a sandboxing policy of their own: an uploaded file opened directly runs nothing.
"""

from __future__ import annotations

from flask import Flask, Response, g, request

from core import extensions
from core.urls import origin_of

HSTS = "max-age=31536000"
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
# WeChat's JS-SDK (share cards) is loaded from here, and only by the video and product pages: `allow_wechat_sdk()`.
WECHAT_SDK_ORIGIN = "https://res.wx.qq.com"
STORAGE_POLICY = (
    "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'"
)


def content_security_policy(storage_origins: list[str], public_origin: str | None, *, wechat_sdk: bool = False) -> str:
    store = " ".join(storage_origins)
    scripts = f"'self' {WECHAT_SDK_ORIGIN}" if wechat_sdk else "'self'"
    forms = " ".join(o for o in [public_origin] if o)  # payment pages send the buyer back to PUBLIC_BASE_URL
    directives = {
        "default-src": "'self'",
        "script-src": scripts,
        # Inline styles stay allowed: they cannot run script, and templates size bars with `style="width: …"`.
        "style-src": "'self' 'unsafe-inline'",
        "img-src": f"'self' data: blob: {store}",
        "media-src": f"'self' blob: {store}",
        "connect-src": f"'self' {store}",
        "worker-src": "'self' blob:",
        "font-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": f"'self' {forms}",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {' '.join(value.split())}" for name, value in directives.items())


def allow_wechat_sdk() -> None:
    """This response's page may run WeChat's JS-SDK script (its share script loads it inside WeChat only)."""
    g.wechat_sdk = True


def _policy() -> str:
    settings = extensions.settings()
    return content_security_policy(extensions.storage().browser_origins(), origin_of(settings.public_base_url),
                                   wechat_sdk=bool(g.get("wechat_sdk")))  # fmt: skip


def _secure(response: Response) -> Response:
    headers = response.headers
    if request.path.startswith("/storage/"):
        headers.setdefault("Content-Security-Policy", STORAGE_POLICY)
    else:
        headers.setdefault("Content-Security-Policy", _policy())
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    app.after_request(_secure)

"""Which language to answer in: ?lang=, then the `lang` cookie, then Accept-Language; zh-CN by default."""

from __future__ import annotations

from flask import current_app, has_request_context, request

SUPPORTED = ("zh-CN", "en")


def get_locale() -> str:
    default: str = current_app.config["SETTINGS"].default_locale
    if not has_request_context():
        return default
    for candidate in (request.args.get("lang"), request.cookies.get("lang")):
        if candidate:
            return "en" if candidate.lower().startswith("en") else "zh-CN"
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    if best is None:
        return default
    return "en" if best.startswith("en") else "zh-CN"

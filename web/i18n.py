"""Which language to answer in: ?lang=, then the `lang` cookie, then Accept-Language; zh-CN by default.

Pages carry both languages inline (`_('中文', 'English')`): the product has two languages and short strings, so a
catalogue file per language would only move each string away from where it is read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, has_request_context, request

from core.money import format_yuan

BEIJING = ZoneInfo("Asia/Shanghai")  # pages show times as people here read them

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


def t(zh: str, en: str) -> str:
    return en if get_locale() == "en" else zh


def pick(table: dict[str, tuple[str, str]], key: object) -> str:
    """A (zh, en) name table read in the request's language; an unknown key is shown as it is."""
    zh, en = table.get(str(key), (str(key), str(key)))
    return t(zh, en)


def when(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(BEIJING).strftime(fmt) if value else ""


def template_helpers() -> dict[str, Any]:
    locale = get_locale()
    return {
        "locale": locale,
        "_": t,
        "yuan": format_yuan,
        "when": when,
        "lang_q": "?lang=en" if locale == "en" else "",
        "lang_amp": "&lang=en" if locale == "en" else "",
    }


def init_app(app: Flask) -> None:
    app.context_processor(template_helpers)

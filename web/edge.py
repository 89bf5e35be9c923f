"""What reaches no view: path ids beyond 64 bits and NUL characters anywhere in the URL or a form.

Request bodies are checked by the API models (`web.api.endpoint`); this covers
what Flask hands to views before any model sees it, on pages and API alike.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from werkzeug.routing import IntegerConverter, Map

from core.db import INT64_MAX, INT64_MIN
from core.errors import BadRequest, register_messages

register_messages({"nul_in_request": ("请求中含有空字符（\\0）", "The request contains a NUL (\\0) character")})


class Int64Converter(IntegerConverter):
    """`<int:...>` that matches only what a BIGINT holds: a larger id is a path that does not exist (404)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs["max"] = min(kwargs.get("max") or INT64_MAX, INT64_MAX)
        super().__init__(map, *args, **kwargs)


def int64(raw: str) -> int:
    """`type=` for a number in a query string (`request.args.get("campaign", type=int64)`): `int`, except that a
    value no BIGINT holds is no number either (ValueError, so the default is used). With `type=int` the view hands
    10**20 to a query, and PostgreSQL's refusal is a 500."""
    value = int(raw)
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(raw)
    return value


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _refuse_nul() -> None:
    stores = [request.args]
    # Only a form body is parsed here: any other body (a presigned PUT, a video upload) stays an
    # unread stream for its view. A urlencoded body is cached first, because parsing the form
    # would otherwise consume it and the API's parser (which answers it with 400) would see nothing.
    if request.mimetype in _FORM_TYPES:
        if request.mimetype == _FORM_TYPES[0]:
            request.get_data(cache=True)
        stores.append(request.form)
    fields = [(k or "") + (v or "") for store in stores for k, v in store.items(multi=True)]
    if "\x00" in request.path or any("\x00" in text for text in fields):
        raise BadRequest("nul_in_request")


def init_app(app: Flask) -> None:
    """Before any blueprint is registered: the converter is looked up when routes are added."""
    app.url_map.converters["int"] = Int64Converter
    app.before_request(_refuse_nul)

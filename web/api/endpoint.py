"""The `endpoint` decorator: parse and validate input, call the view, serialise output.

The same metadata drives the OpenAPI document, so what the docs say is what
the code checks.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, get_args, get_origin

from flask import Response, request
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

from core import extensions
from core.db import INT64_MAX, INT64_MIN
from core.errors import (
    BadRequest,
    Conflict,
    DomainError,
    FieldError,
    PayloadTooLarge,
    ValidationFailed,
    problem_from_error,
    register_field_labels,
    register_messages,
)
from core.idempotency import IdempotencyRecord
from web.auth import client_ip_hash, current_user, require_current_user
from web.i18n import get_locale
from web.problems import PROBLEM_JSON, problem_response

# A header, not a form field: clients that forget it hear what it is, not "this field".
register_field_labels({"Idempotency-Key": ("请求的 Idempotency-Key 请求头", "The Idempotency-Key header")})

register_messages(
    {
        "idempotency_in_progress": (
            "相同 Idempotency-Key 的请求仍在处理中",
            "A request with this Idempotency-Key is still being processed",
        ),
        "unsupported_media_type": ("请求体必须是 JSON", "The request body must be JSON"),
        "multipart_required": (
            "请以 multipart/form-data 上传，文件放在 {field} 字段",
            "Send multipart/form-data with the file in the {field} field",
        ),
    }
)

JSON_BODY_LIMIT = 1024 * 1024
Auth = Literal["none", "optional", "required"]
F = TypeVar("F", bound=Callable[..., Any])


def _refuse_unstorable(value: Any) -> Any:
    """What no column can hold is refused here, once for every field of every request: integers outside 64 bits
    and text with NUL characters (PostgreSQL refuses both, as an error the caller never caused)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        raise PydanticCustomError("int64_range", "Must be between -2**63 and 2**63-1")
    if isinstance(value, str):
        if "\x00" in value:
            raise PydanticCustomError("nul_character", "Must not contain NUL characters")
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _refuse_unstorable(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_unstorable(key)
            _refuse_unstorable(item)
    return value


def _int64_bounds(schema: dict[str, Any]) -> None:
    """The documented schema says what the edge enforces: every integer is a signed 64-bit one."""
    if schema.get("type") == "integer":
        schema.setdefault("format", "int64")
        schema.setdefault("minimum", INT64_MIN)
        schema.setdefault("maximum", INT64_MAX)
    for value in schema.values():
        for sub in value if isinstance(value, list) else [value]:
            if isinstance(sub, dict):
                _int64_bounds(sub)


class _EdgeModel(BaseModel):
    # After parsing: a number that arrived as text (a query string) is checked as the number it became.
    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return _refuse_unstorable(value)


class ApiModel(_EdgeModel):
    """Request bodies: unknown fields and silently coerced types are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True, json_schema_extra=_int64_bounds)


class QueryModel(_EdgeModel):
    """Query strings: unknown parameters are errors; values arrive as text, so numbers are parsed from it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra=_int64_bounds)


class OutModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


@dataclass
class EndpointMeta:
    summary: str
    tags: list[str]
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: Any
    status: int
    auth: Auth
    idempotent: bool
    errors: list[int] = field(default_factory=list)
    description: str = ""
    upload: str | None = None  # multipart/form-data file field the view receives as `file`
    produces: str | None = None  # media type of a non-JSON response (e.g. text/csv)


def _field_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    """One entry per problem, each rendered later as a sentence naming the field by its registered label."""
    out = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        kind = str(err["type"])
        params: dict[str, Any] = {"fallback": err["msg"]}
        if "min_length" in err.get("ctx", {}):
            params["min_length"] = err["ctx"]["min_length"]
        # An unknown field has no label: it is named as the caller sent it.
        label = (str(err["loc"][-1]),) * 2 if kind == "extra_forbidden" and err["loc"] else None
        out.append(FieldError(prefix + loc, kind, params=params, label=label))
    return out


def parse_body(model: type[BaseModel]) -> BaseModel:
    if request.content_length is not None and request.content_length > JSON_BODY_LIMIT:
        raise PayloadTooLarge()
    raw = request.get_data(cache=True)
    if not request.is_json and raw:
        raise BadRequest("unsupported_media_type")
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise BadRequest("malformed_json") from exc
        raise ValidationFailed(fields=_field_errors(exc)) from exc


def parse_upload(name: str) -> FileStorage:
    """The file sent as multipart/form-data field `name`."""
    if not request.mimetype.startswith("multipart/form-data"):
        raise BadRequest("multipart_required", field=name)
    file = request.files.get(name)
    if file is None:
        raise ValidationFailed.one(name, "missing")
    return file


def parse_query(model: type[BaseModel]) -> BaseModel:
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key not in request.args:
            continue
        origin = get_origin(info.annotation)
        is_list = origin is list or any(get_origin(a) is list for a in get_args(info.annotation))
        data[key] = request.args.getlist(key) if is_list else request.args.get(key)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(fields=_field_errors(exc, "query.")) from exc


def to_json(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


def json_response(payload: Any, status: int = 200) -> Response:
    body = json.dumps(to_json(payload), ensure_ascii=False, separators=(",", ":"))
    return Response(body, status=status, mimetype="application/json")


def _render(result: Any, meta: EndpointMeta) -> Response:
    if isinstance(result, Response):
        return result
    status = meta.status
    if isinstance(result, tuple):
        result, status = result
    if result is None and status == 204:
        return Response(status=204)
    if meta.response is not None and not isinstance(result, BaseModel | list | dict):
        adapter_model = meta.response
        if isinstance(adapter_model, type) and issubclass(adapter_model, BaseModel):
            result = adapter_model.model_validate(result, from_attributes=True)
    return json_response(result, status)


def _idempotent_call(view: Callable[[], Response]) -> Response:
    """Replay the first response for a repeated Idempotency-Key; refuse a reuse with other input."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        raise ValidationFailed.one("Idempotency-Key", "missing")
    if len(key) > 200:
        raise ValidationFailed.one("Idempotency-Key", "string_too_long")
    user = current_user()
    scope = f"user:{user.id}" if user else f"anon:{client_ip_hash()}"
    fingerprint = hashlib.sha256(
        f"{request.method} {request.path}\n".encode() + request.get_data(cache=True)
    ).hexdigest()
    session = extensions.session()
    record = IdempotencyRecord(scope=scope, key=key, request_hash=fingerprint)
    session.add(record)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        existing = session.scalar(
            select(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
        )
        if existing is None:  # pragma: no cover - deleted between insert and read
            raise Conflict("idempotency_in_progress") from None
        if existing.request_hash != fingerprint:
            raise ValidationFailed.one("Idempotency-Key", "idempotency_mismatch") from None
        if existing.status_code is None:
            raise Conflict("idempotency_in_progress") from None
        # Only successes and problems are stored (a 5xx is forgotten), so the status says which it was.
        mimetype = PROBLEM_JSON if existing.status_code >= 400 else "application/json"
        resp = Response(existing.response_body, status=existing.status_code, mimetype=mimetype)
        resp.headers["Idempotent-Replayed"] = "true"
        return resp
    record_id = record.id
    try:
        response = view()
    except DomainError as err:
        response = problem_response(problem_from_error(err, get_locale()), err.headers)
    except BaseException:
        _forget(record_id)
        raise
    if response.status_code >= 500:
        _forget(record_id)
        return response
    session.rollback()  # whatever the view left open is not ours to commit
    stored = session.get(IdempotencyRecord, record_id)
    if stored is not None:
        stored.status_code = response.status_code
        stored.response_body = response.get_data(as_text=True)
        session.commit()
    return response


def _forget(record_id: int) -> None:
    session = extensions.session()
    session.rollback()
    stored = session.get(IdempotencyRecord, record_id)
    if stored is not None:
        session.delete(stored)
        session.commit()


def endpoint(
    *,
    summary: str,
    tags: list[str] | None = None,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: Any = None,
    status: int = 200,
    auth: Auth = "none",
    idempotent: bool = False,
    errors: list[int] | None = None,
    upload: str | None = None,
    produces: str | None = None,
) -> Callable[[F], F]:
    """Declare an API view.

    The view receives path parameters plus `body=` and/or `query=` (validated
    models), and `file=` (a werkzeug FileStorage) when `upload` names the
    multipart field carrying a file; it returns a model, a list, a dict,
    `(value, status)` or a Response.
    """

    meta = EndpointMeta(
        summary=summary,
        tags=tags or [],
        body=body,
        query=query,
        response=response,
        status=status,
        auth=auth,
        idempotent=idempotent,
        errors=errors or [],
        upload=upload,
        produces=produces,
    )

    def decorate(fn: F) -> F:
        meta.description = (fn.__doc__ or "").strip()

        @functools.wraps(fn)
        def wrapper(**path: Any) -> Response:
            if auth == "required":
                require_current_user()
            elif auth == "optional":
                current_user()
            kwargs = dict(path)
            if query is not None:
                kwargs["query"] = parse_query(query)
            if body is not None:
                kwargs["body"] = parse_body(body)
            if upload is not None:
                kwargs["file"] = parse_upload(upload)

            def call() -> Response:
                return _render(fn(**kwargs), meta)

            return _idempotent_call(call) if idempotent else call()

        wrapper._endpoint_meta = meta  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate

"""Typed domain errors with stable codes and zh-CN / English messages.

Services raise these; the API turns them into `application/problem+json`
(RFC 9457) with the `code`, a human message in the caller's language and,
for validation errors, one entry per offending field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

# code -> (zh-CN, en). Packages add their own with `register_messages`.
_MESSAGES: dict[str, tuple[str, str]] = {
    "bad_request": ("请求无效", "The request is invalid"),
    "malformed_json": ("请求体不是有效的 JSON", "The request body is not valid JSON"),
    "validation_failed": ("提交的数据有误", "Some fields are invalid"),
    "not_found": ("找不到{what}", "{what} not found"),
    "path_not_found": ("这个地址没有内容：{what}", "Nothing is at {what}"),
    "not_authenticated": ("请先登录", "Please sign in first"),
    "permission_denied": ("没有权限执行此操作", "You are not allowed to do this"),
    "conflict": ("操作与当前状态冲突", "This conflicts with the current state"),
    "rate_limited": ("尝试次数过多，请 {retry_after} 秒后再试", "Too many attempts; try again in {retry_after} s"),
    "csrf_failed": ("安全校验失败，请刷新页面后重试", "Security check failed; reload the page and retry"),
    "invalid_credentials": ("邮箱或密码错误", "Wrong e-mail or password"),
    "email_taken": ("该邮箱已注册", "This e-mail is already registered"),
    "account_disabled": ("账号已停用", "This account is disabled"),
    "idempotency_mismatch": (
        "同一个 Idempotency-Key 不能用于不同的请求",
        "This Idempotency-Key was already used for a different request",
    ),
    "internal_error": ("服务器开小差了，请稍后再试", "Something went wrong on our side"),
    "method_not_allowed": ("不支持该请求方法", "Method not allowed"),
    "payload_too_large": ("请求体过大", "The request body is too large"),
}

# Field-level sentences for the generic validation error types (pydantic's names); `{label}` is the field's
# human name (see `register_field_labels`), so a client can show the message as it is, next to the field.
_FIELD_MESSAGES: dict[str, tuple[str, str]] = {
    "missing": ("请填写{label}", "{label} is required"),
    "int_parsing": ("{label}应为整数", "{label} must be a whole number"),
    "int_type": ("{label}应为整数", "{label} must be a whole number"),
    "float_parsing": ("{label}应为数字", "{label} must be a number"),
    "string_type": ("{label}应为文字", "{label} must be text"),
    "bool_parsing": ("{label}应为“是”或“否”", "{label} must be true or false"),
    **dict.fromkeys(
        ("date_parsing", "date_type", "date_from_datetime_parsing", "date_from_datetime_inexact"),
        ("{label}应为日期，如 2026-01-31", "{label} must be a date such as 2026-01-31"),
    ),
    "string_too_short": ("{label}太短", "{label} is too short"),
    "string_too_long": ("{label}太长", "{label} is too long"),
    "string_pattern_mismatch": ("{label}的格式不正确", "{label} is not in the right format"),
    "greater_than_equal": ("{label}太小", "{label} is too small"),
    "less_than_equal": ("{label}太大", "{label} is too large"),
    "greater_than": ("{label}太小", "{label} is too small"),
    "less_than": ("{label}太大", "{label} is too large"),
    "literal_error": ("{label}不是允许的取值", "{label} is not one of the allowed values"),
    "enum": ("{label}不是允许的取值", "{label} is not one of the allowed values"),
    "extra_forbidden": ("不认识的字段：{label}", "Unknown field: {label}"),
    "value_error": ("{label}无效", "{label} is invalid"),
    "list_type": ("{label}应为列表", "{label} must be a list"),
    "dict_type": ("{label}应为对象", "{label} must be an object"),
    "model_type": ("{label}应为对象", "{label} must be an object"),
    "too_long": ("{label}的条目太多", "{label} has too many items"),
    "too_short": ("{label}的条目太少", "{label} has too few items"),
    "int64_range": ("{label}超出了可以处理的范围", "{label} is too large a number to handle"),
    "nul_character": ("{label}不能包含空字符（\\0）", "{label} must not contain a NUL (\\0) character"),
}
# A text that has to be there and is blank reads as "fill it in", not "too short".
_BLANK_MEANS_MISSING = {"string_too_short": 1, "too_short": 1}

# Field path pattern -> (zh-CN, en) label. Patterns are dotted paths with `*` for a list index; `{0}`, `{1}`
# in a label are those indexes counted from 1 ("items.*.quantity" -> "第 {0} 件商品的数量"). A path without
# a label of its own falls back to its last name's label ("skus.0.stock" -> "stock").
_FIELD_LABELS: dict[str, tuple[str, str]] = {
    # Names many requests share; a package registers its own fields (and more specific paths) next to them.
    "body": ("请求内容", "The request"),
    "name": ("名称", "The name"),
    "title": ("标题", "The title"),
    "description": ("描述", "The description"),
    "category": ("类目", "The category"),
    "status": ("状态", "The status"),
    "code": ("编码", "The code"),
    "quantity": ("数量", "The quantity"),
    "price_fen": ("价格", "The price"),
    "list_price_fen": ("划线价", "The list price"),
    "stock": ("库存", "The stock"),
    "attributes": ("规格属性", "The attributes"),
    "file": ("文件", "The file"),
    "email": ("邮箱", "The e-mail address"),
    "password": ("密码", "The password"),
    "display_name": ("昵称", "The display name"),
    "sku_id": ("商品规格", "The SKU"),
    "phone": ("手机号", "The phone number"),
    "reason": ("原因", "The reason"),
    "note": ("备注", "The note"),
    "cursor": ("翻页位置", "The page cursor"),
    "limit": ("每页数量", "The page size"),
}
_UNLABELLED = ("此项", "This field")


def register_messages(messages: dict[str, tuple[str, str]]) -> None:
    clash = {k for k in messages if k in _MESSAGES and _MESSAGES[k] != messages[k]}
    if clash:
        raise ValueError(f"error codes registered twice with different text: {sorted(clash)}")
    _MESSAGES.update(messages)


def is_registered(code: str) -> bool:
    """Whether `code` has messages (so text that happens to look like a code is not mistaken for one)."""
    return code in _MESSAGES


def register_field_labels(labels: dict[str, tuple[str, str]]) -> None:
    """Human names for request fields, in Chinese and English, by path pattern (see `_FIELD_LABELS`)."""
    clash = {k for k in labels if k in _FIELD_LABELS and _FIELD_LABELS[k] != labels[k]}
    if clash:
        raise ValueError(f"field labels registered twice with different text: {sorted(clash)}")
    _FIELD_LABELS.update(labels)


def _pick(pair: tuple[str, str], locale: str) -> str:
    return pair[1] if locale.startswith("en") else pair[0]


def translate(code: str, locale: str, params: dict[str, Any] | None = None) -> str:
    template = _pick(_MESSAGES.get(code, _MESSAGES["bad_request"]), locale)
    try:
        return template.format(**(params or {}))
    except (KeyError, IndexError):
        return template


def field_label(path: str, locale: str) -> str:
    """The human name of the field at `path` ("address.name" -> "收货人姓名" / "Recipient's name")."""
    parts = path.split(".")
    indexes = [int(p) + 1 for p in parts if p.isdigit()]
    pattern = ".".join("*" if p.isdigit() else p for p in parts)
    names = [p for p in parts if not p.isdigit()]
    for key in (pattern, *(".".join(names[i:]) for i in range(1, len(names)))):
        pair = _FIELD_LABELS.get(key)
        if pair is not None:
            try:
                return _pick(pair, locale).format(*indexes)
            except IndexError:
                return _pick(pair, locale)
    return _pick(_UNLABELLED, locale)


def field_message(kind: str, locale: str, label: str, fallback: str | None = None) -> str:
    """The sentence for a generic validation error about the field called `label`."""
    pair = _FIELD_MESSAGES.get(kind)
    if pair is None:
        reason = fallback or _pick(_MESSAGES["validation_failed"], locale)
        return f"{label}: {reason}" if locale.startswith("en") else f"{label}：{reason}"
    return _pick(pair, locale).format(label=label)


@dataclass
class FieldError:
    """One field's problem, rendered as a sentence naming the field by its label. `label` overrides the registered
    label; `where` (zh-CN, en) goes before the sentence (a CSV row: "第 3 行："); `extra` is added to the rendered
    entry (e.g. the row and column)."""

    field: str
    code: str
    message: str | None = None  # explicit message (already in the right language or both)
    params: dict[str, Any] | None = None
    label: tuple[str, str] | None = None
    where: tuple[str, str] | None = None
    extra: dict[str, Any] | None = None
    says: str | None = None  # the message's code, when it is not `code` (a more specific sentence)

    def render(self, locale: str) -> dict[str, Any]:
        label = _pick(self.label, locale) if self.label else field_label(self.field, locale)
        params = {**(self.params or {}), "label": label}
        code = self.says or self.code
        if code in _BLANK_MEANS_MISSING and params.get("min_length") == _BLANK_MEANS_MISSING[code]:
            code = "missing"
        if self.message is not None:
            text = self.message
        elif code in _FIELD_MESSAGES:
            text = field_message(code, locale, label)
        elif code in _MESSAGES:
            text = translate(code, locale, params)
        else:
            text = field_message(code, locale, label, fallback=(self.params or {}).get("fallback"))
        if self.where:
            text = _pick(self.where, locale) + text
        return {"field": self.field, "code": self.code, "label": label, "message": text, **(self.extra or {})}


class DomainError(Exception):
    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"

    def __init__(
        self,
        code: str | None = None,
        *,
        fields: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        detail: str | None = None,
        **params: Any,
    ) -> None:
        self.code = code or self.default_code
        self.params = params
        self.fields = fields or []
        self.headers = headers or {}
        self.detail = detail  # a message code for the problem's `detail`, formatted with the same params
        super().__init__(translate(self.code, "en", params))

    def message(self, locale: str) -> str:
        return translate(self.code, locale, self.params)

    def detail_message(self, locale: str) -> str | None:
        return translate(self.detail, locale, self.params) if self.detail else None


class BadRequest(DomainError):
    status = 400


class ValidationFailed(DomainError):
    status = 422
    default_code = "validation_failed"

    @classmethod
    def one(cls, field_name: str, code: str, **params: Any) -> ValidationFailed:
        return cls(fields=[FieldError(field_name, code, params=params)])


class NotAuthenticated(DomainError):
    status = 401
    default_code = "not_authenticated"


class PermissionDenied(DomainError):
    status = 403
    default_code = "permission_denied"


class NotFound(DomainError):
    status = 404
    default_code = "not_found"

    def __init__(self, what: str = "resource", **kw: Any) -> None:
        super().__init__(what=what, **kw)


class Conflict(DomainError):
    status = 409
    default_code = "conflict"


class PayloadTooLarge(DomainError):
    status = 413
    default_code = "payload_too_large"


class RateLimited(DomainError):
    status = 429
    default_code = "rate_limited"

    def __init__(self, retry_after: int, code: str | None = None) -> None:
        super().__init__(code, retry_after=retry_after, headers={"Retry-After": str(retry_after)})


@dataclass
class Problem:
    """An RFC 9457 problem document."""

    status: int
    code: str
    title: str
    detail: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": f"https://xinglian.dev/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "code": self.code,
        }
        if self.detail:
            doc["detail"] = self.detail
        if self.errors:
            doc["errors"] = self.errors
        doc.update(self.extra)
        return doc


def problem_from_error(err: DomainError, locale: str) -> Problem:
    return Problem(
        status=err.status,
        code=err.code,
        title=err.message(locale),
        detail=err.detail_message(locale),
        errors=[f.render(locale) for f in err.fields],
    )

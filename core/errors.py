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

# Field-level messages for the generic validation error types (pydantic's names).
_FIELD_MESSAGES: dict[str, tuple[str, str]] = {
    "missing": ("必填", "Field required"),
    "int_parsing": ("应为整数", "Must be an integer"),
    "int_type": ("应为整数", "Must be an integer"),
    "float_parsing": ("应为数字", "Must be a number"),
    "string_type": ("应为字符串", "Must be a string"),
    "bool_parsing": ("应为布尔值", "Must be true or false"),
    "string_too_short": ("太短", "Too short"),
    "string_too_long": ("太长", "Too long"),
    "string_pattern_mismatch": ("格式不正确", "Not in the right format"),
    "greater_than_equal": ("数值太小", "Too small"),
    "less_than_equal": ("数值太大", "Too large"),
    "greater_than": ("数值太小", "Too small"),
    "less_than": ("数值太大", "Too large"),
    "literal_error": ("不是允许的取值", "Not one of the allowed values"),
    "enum": ("不是允许的取值", "Not one of the allowed values"),
    "extra_forbidden": ("不认识的字段", "Unknown field"),
    "value_error": ("取值无效", "Invalid value"),
    "list_type": ("应为列表", "Must be a list"),
    "dict_type": ("应为对象", "Must be an object"),
    "model_type": ("应为对象", "Must be an object"),
    "too_long": ("条目太多", "Too many items"),
    "too_short": ("条目太少", "Too few items"),
    "int64_range": ("数字超出了可以处理的范围", "This number is too large to handle"),
    "nul_character": ("不能包含空字符（\\0）", "Must not contain a NUL (\\0) character"),
}


def register_messages(messages: dict[str, tuple[str, str]]) -> None:
    clash = {k for k in messages if k in _MESSAGES and _MESSAGES[k] != messages[k]}
    if clash:
        raise ValueError(f"error codes registered twice with different text: {sorted(clash)}")
    _MESSAGES.update(messages)


def translate(code: str, locale: str, params: dict[str, Any] | None = None) -> str:
    zh, en = _MESSAGES.get(code, _MESSAGES["bad_request"])
    template = en if locale.startswith("en") else zh
    try:
        return template.format(**(params or {}))
    except (KeyError, IndexError):
        return template


def field_message(kind: str, locale: str, fallback: str) -> str:
    pair = _FIELD_MESSAGES.get(kind)
    if pair is None:
        return fallback
    return pair[1] if locale.startswith("en") else pair[0]


@dataclass
class FieldError:
    field: str
    code: str
    message: str | None = None  # explicit message (already in the right language or both)
    params: dict[str, Any] | None = None

    def render(self, locale: str) -> dict[str, str]:
        if self.message is not None:
            text = self.message
        elif self.code in _MESSAGES:
            text = translate(self.code, locale, self.params)
        else:
            text = field_message(self.code, locale, self.code)
        return {"field": self.field, "code": self.code, "message": text}


class DomainError(Exception):
    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"

    def __init__(
        self,
        code: str | None = None,
        *,
        fields: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        **params: Any,
    ) -> None:
        self.code = code or self.default_code
        self.params = params
        self.fields = fields or []
        self.headers = headers or {}
        super().__init__(translate(self.code, "en", params))

    def message(self, locale: str) -> str:
        return translate(self.code, locale, self.params)


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
    errors: list[dict[str, str]] = field(default_factory=list)
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
        errors=[f.render(locale) for f in err.fields],
    )

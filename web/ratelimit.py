"""Rate limits on the operations worth abusing: Flask-Limiter, counting in memory or in Redis.

A view declares its limit with `@rate_limited("checkout")`, naming a `rate_limit_<kind>` setting; `init_app`
gives each app its own Limiter (its storage is per instance) and wraps the marked views once every blueprint
is registered. A breach is a `RateLimited` problem like any other, with the real wait in `Retry-After`.
Sign-in is not here: its throttle (core.accounts) looks at accounts and sources, not just a count.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded

from core import extensions
from core.errors import RateLimited

F = TypeVar("F", bound=Callable[..., Any])
Key = Literal["caller", "address"]
_MARK = "_rate_limit"


@dataclass(frozen=True)
class Rule:
    kind: str  # the setting `rate_limit_<kind>` holds the limit string
    key: Key
    failures_only: bool
    code: str | None = None  # the registered sentence of a breach (None: the generic "rate_limited")
    shared: bool = False  # one count over every view of the kind (else one per view)


def rate_limited(
    kind: str, *, key: Key = "caller", failures_only: bool = False, code: str | None = None, shared: bool = False
) -> Callable[[F], F]:
    """Mark a view for a limit. `caller` counts per signed-in account (per address when signed out);
    `failures_only` counts only the requests that were refused (a 4xx), so honest traffic never runs out; `code`
    names the sentence a breach shows (it gets `{retry_after}`); `shared` counts every view of the kind together."""

    def mark(view: F) -> F:
        setattr(view, _MARK, Rule(kind, key, failures_only, code, shared))
        meta = getattr(view, "_endpoint_meta", None)
        if meta is not None and 429 not in meta.errors:
            meta.errors.append(429)  # documented in the OpenAPI document
        return view

    return mark


def client_address() -> str:
    # remote_addr is the proxy's X-Forwarded-For only when settings.proxy_fix_hops trusts that many proxies.
    return request.remote_addr or "unknown"


def _caller() -> str:
    from web.auth import current_user

    user = current_user()
    return f"user:{user.id}" if user is not None else f"addr:{client_address()}"


def _address() -> str:
    return f"addr:{client_address()}"


def _refused(response: Response) -> bool:
    return 400 <= response.status_code < 500 and response.status_code != 429


def _limit_string(kind: str) -> Callable[[], str]:
    return lambda: str(getattr(extensions.settings(), f"rate_limit_{kind}"))


def init_app(app: Flask) -> None:
    """Call after every blueprint is registered: it wraps the views that `rate_limited` marked."""
    settings = app.config["SETTINGS"]
    app.config.update(
        RATELIMIT_ENABLED=settings.rate_limits_enabled,
        RATELIMIT_STORAGE_URI=settings.rate_limit_storage_url,
        RATELIMIT_KEY_PREFIX=settings.rate_limit_key_prefix,
        RATELIMIT_STRATEGY="moving-window",
        # Off: its Retry-After, recomputed after ours, could differ by a second from the wait the message states.
        RATELIMIT_HEADERS_ENABLED=False,
    )
    limiter = Limiter(key_func=_caller)
    limiter.init_app(app)
    app.extensions["rate_limiter"] = limiter
    for endpoint, view in list(app.view_functions.items()):
        rule: Rule | None = getattr(view, _MARK, None)
        if rule is None:
            continue
        options: dict[str, Any] = {
            "key_func": _caller if rule.key == "caller" else _address,
            "deduct_when": _refused if rule.failures_only else None,
            "error_message": rule.code,
        }
        if rule.shared:  # one count over every view of the kind
            limit = limiter.shared_limit(_limit_string(rule.kind), rule.kind, **options)
        else:
            limit = limiter.limit(_limit_string(rule.kind), scope=rule.kind, **options)
        app.view_functions[endpoint] = limit(view)

    @app.errorhandler(RateLimitExceeded)
    def breached(err: RateLimitExceeded) -> Any:
        from web.problems import handle_domain_error

        current = limiter.current_limit
        wait = max(1, int(current.reset_at - time.time())) if current is not None else 60
        code = err.limit.error_message if isinstance(err.limit.error_message, str) else None
        return handle_domain_error(RateLimited(retry_after=wait, code=code))

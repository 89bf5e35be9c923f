"""Every error leaves the API as application/problem+json (RFC 9457)."""

from __future__ import annotations

import logging

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

from commerce.payments.provider import ProviderUnavailable
from core.errors import DomainError, Problem, problem_from_error, translate
from web.i18n import get_locale

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "path_not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    429: "rate_limited",
}


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(problem.to_dict(), ensure_ascii=False)
    resp = Response(body, status=problem.status, mimetype=PROBLEM_JSON)
    resp.headers["Content-Language"] = get_locale()
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _wants_html() -> bool:
    # Files and machine endpoints answer machines (curl sends */*, which would otherwise pick the HTML page).
    if request.path.startswith(("/api/", "/healthz", "/storage/", "/static/")):
        return False
    best = request.accept_mimetypes.best_match(["text/html", "application/json", PROBLEM_JSON])
    return best == "text/html"


def handle_domain_error(err: DomainError) -> Response | tuple[str, int]:
    locale = get_locale()
    if _wants_html():
        from flask import render_template

        page = render_template("error.html", status=err.status, message=err.message(locale))
        return Response(page, status=err.status, headers=err.headers, mimetype="text/html")
    return problem_response(problem_from_error(err, locale), err.headers)


def handle_http_error(err: HTTPException) -> Response | tuple[str, int] | HTTPException:
    status = err.code or 500
    code = _HTTP_CODES.get(status, "bad_request")
    locale = get_locale()
    params = {"what": request.path if status == 404 else "", "retry_after": "?"}
    if _wants_html():
        from flask import render_template

        return render_template("error.html", status=status, message=translate(code, locale, params)), status
    return problem_response(Problem(status=status, code=code, title=translate(code, locale, params)))


class PaymentProviderUnavailable(DomainError):
    status = 503
    default_code = "payment_provider_unavailable"


def handle_provider_unavailable(err: ProviderUnavailable) -> Response | tuple[str, int]:
    """WeChat Pay or Alipay could not be reached (or answered unverifiably): nothing was kept; try again."""
    log.warning("payment provider unavailable on %s %s: %s", request.method, request.path, err)
    return handle_domain_error(PaymentProviderUnavailable(headers={"Retry-After": "30"}))


def handle_unexpected(err: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    locale = get_locale()
    return problem_response(Problem(status=500, code="internal_error", title=translate("internal_error", locale)))


def init_app(app: Flask) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(ProviderUnavailable, handle_provider_unavailable)
    app.register_error_handler(Exception, handle_unexpected)

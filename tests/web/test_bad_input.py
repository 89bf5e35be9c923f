"""Bad input gets a clear problem+json with field-level messages, never a 500."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PROBLEM = "application/problem+json"


def problem(r) -> dict:  # type: ignore[no-untyped-def]
    assert r.headers["Content-Type"].startswith(PROBLEM), r.data
    body = r.get_json(force=True)
    assert {"type", "title", "status", "code"} <= body.keys()
    assert body["status"] == r.status_code
    return body  # type: ignore[no-any-return]


@pytest.mark.parametrize("raw", ["{bad", '{"email": "a@b.cn",', "[1, 2", '"unterminated', "{'single': 'quotes'}"])
def test_malformed_json_is_400(client: FlaskClient, raw: str) -> None:
    r = client.post("/api/v1/auth/register", data=raw, content_type="application/json")
    assert r.status_code == 400
    assert problem(r)["code"] == "malformed_json"


def test_missing_fields_are_422_with_one_entry_per_field(client: FlaskClient) -> None:
    r = client.post("/api/v1/auth/register", json={"email": "a@b.cn"})
    assert r.status_code == 422
    body = problem(r)
    assert body["code"] == "validation_failed"
    fields = {e["field"]: e for e in body["errors"]}
    assert set(fields) == {"password", "display_name"}
    assert fields["password"]["code"] == "missing"
    assert fields["password"]["message"] == "请填写密码"  # a sentence naming the field, not its path
    assert fields["password"]["label"] == "密码"


def test_wrong_types_are_422_and_not_coerced(client: FlaskClient) -> None:
    r = client.post(
        "/api/v1/auth/register",
        json={"email": 12, "password": ["x"], "display_name": True, "role": "emperor"},
        headers={"Accept-Language": "en"},
    )
    assert r.status_code == 422
    fields = {e["field"]: e for e in problem(r)["errors"]}
    assert fields["email"]["message"] == "The e-mail address must be text"
    assert fields["password"]["code"] == "string_type"
    assert fields["display_name"]["code"] == "string_type"
    assert fields["role"]["code"] == "literal_error"


def test_unknown_fields_are_rejected(client: FlaskClient) -> None:
    r = client.post("/api/v1/auth/login", json={"email": "a@b.cn", "password": "x", "is_admin": True})
    assert r.status_code == 422
    assert [e["field"] for e in problem(r)["errors"]] == ["is_admin"]


def test_non_json_body_is_400(client: FlaskClient) -> None:
    r = client.post("/api/v1/auth/login", data="email=a", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 400
    assert problem(r)["code"] == "unsupported_media_type"


def test_oversize_json_is_413(client: FlaskClient) -> None:
    big = json.dumps({"email": "a@b.cn", "password": "x" * (2 * 1024 * 1024)})
    r = client.post("/api/v1/auth/login", data=big, content_type="application/json")
    assert r.status_code == 413
    problem(r)


def test_unknown_route_and_wrong_method_are_problems(client: FlaskClient) -> None:
    assert problem(client.get("/api/v1/nope"))["code"] == "path_not_found"
    r = client.get("/api/v1/auth/login")
    assert r.status_code == 405
    assert problem(r)["code"] == "method_not_allowed"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(["/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/auth/tokens"]),
    body=st.one_of(
        json_values,
        st.fixed_dictionaries(
            {},
            optional={"email": json_values, "password": json_values, "display_name": json_values, "role": json_values},
        ),
    ),
)
def test_arbitrary_json_never_causes_a_500(client: FlaskClient, path: str, body: object) -> None:
    r = client.post(path, data=json.dumps(body), content_type="application/json")
    assert r.status_code < 500, r.data
    if r.status_code >= 400:
        problem(r)


def test_every_field_of_the_creator_and_brand_requests_has_a_label() -> None:
    """No field of the forms' requests falls back to "This field": each has a name people know, in both languages."""
    import web.api  # noqa: F401 - registers every module's labels
    from core.errors import field_label
    from web.api.artists import ProfileIn
    from web.api.campaigns import CampaignIn
    from web.api.catalog import ProductIn, SkuIn, SkuPatch
    from web.api.orders import AddressIn, CheckoutIn
    from web.api.videos import UploadStartIn, VideoPatch

    prefixes = {AddressIn: "address.", SkuIn: "skus.0."}
    for model in (ProfileIn, CampaignIn, ProductIn, SkuIn, SkuPatch, AddressIn, CheckoutIn, UploadStartIn, VideoPatch):
        prefix = prefixes.get(model, "")
        for name in model.model_fields:
            for locale, unlabelled in (("zh-CN", "此项"), ("en", "This field")):
                assert field_label(prefix + name, locale) != unlabelled, (model.__name__, prefix + name, locale)
    assert field_label("rates.s60plus", "zh-CN") == "60 秒以上视频的报价"
    assert field_label("items.2.quantity", "en") == "Quantity of item 3"

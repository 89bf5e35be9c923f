"""What no column can hold never reaches the database: NUL characters and integers past 64 bits, in bodies,
query strings, paths and forms, on every operation of the OpenAPI document (PostgreSQL when it answers: it is the
database that refuses them)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from core.accounts import service as accounts
from tests import factories
from tests.web.test_bad_input import problem

TOO_BIG = [2**63, 10**30, -(2**63) - 1]
NUL = "名字\x00"


@pytest.fixture
def world(db_session: Session) -> dict[str, Any]:
    """A brand owner who is also an artist and an admin (so that most operations get past authorization), with a
    product, a video and a token; and a brand they are not a member of (where they act only as an admin)."""
    owner = factories.user(db_session, artist=True, admin=True)
    brand = factories.brand(db_session, owner=owner)
    other_brand = factories.brand(db_session, owner=factories.user(db_session))
    product = factories.product(db_session, brand=brand, name="防晒霜", prices=(1999,))
    video = factories.video(db_session, uploader=owner)
    db_session.commit()
    token = accounts.issue_token(db_session, owner)
    return {"headers": {"Authorization": f"Bearer {token}"}, "brand": brand, "product": product, "video": video,
            "sku": product.skus[0], "owner": owner, "token": token, "other_brand": other_brand}  # fmt: skip


def _signed_in(session: Session, world: dict[str, Any]) -> dict[str, str]:
    """The owner's headers, signed in again if an earlier example signed them out (DELETE /auth/tokens/current
    revokes the token, PATCH /admin/users/{id} with the owner's id disables them): otherwise every later example
    stops at 401 and reaches nothing (with seed 3, 234 of the 400 requests did)."""
    if accounts.user_for_token(session, world["token"]) is None:
        owner = world["owner"]
        session.refresh(owner)
        owner.is_active = True
        world["token"] = accounts.issue_token(session, owner)  # commits
        world["headers"] = {"Authorization": f"Bearer {world['token']}"}
    return world["headers"]  # type: ignore[no-any-return]


def _no_crash(r: Any) -> None:
    assert r.status_code < 500, r.get_data(as_text=True)[:500]
    if r.status_code >= 400:
        problem(r)


@pytest.mark.parametrize("big", TOO_BIG)
def test_integers_past_64_bits_in_bodies_are_422_with_a_human_message(
    client: FlaskClient, world: dict[str, Any], big: int
) -> None:
    h, brand, product, video, sku = (world[k] for k in ("headers", "brand", "product", "video", "sku"))
    cases = [
        ("/api/v1/cart/items", {"sku_id": big}, "sku_id"),
        ("/api/v1/cart/items", {"sku_id": sku.id, "source_video_id": big}, "source_video_id"),
        (f"/api/v1/products/{product.id}/skus", {"attributes": {"规格": "大"}, "price_fen": 100, "stock": big},
         "stock"),
        (f"/api/v1/products/{product.id}/skus", {"attributes": {"规格": "中"}, "price_fen": 100, "list_price_fen": big},
         "list_price_fen"),
        (f"/api/v1/brands/{brand.id}/coupons", {"code": "BIG1", "kind": "amount", "value": big}, "value"),
        ("/api/v1/engagement/events", {"events": [{"kind": "view", "video_id": big}]}, "events.0.video_id"),
    ]  # fmt: skip
    del video
    for path, body, field in cases:
        headers = {**h, "Idempotency-Key": f"k-{abs(big) % 997}-{field}", "Accept-Language": "en"}
        r = client.post(path, data=json.dumps(body), content_type="application/json", headers=headers)
        assert r.status_code == 422, (path, r.get_json())
        error = {e["field"]: e for e in problem(r)["errors"]}[field]
        if big > 0 or error["code"] == "int64_range":
            assert error["code"] == "int64_range", path
            assert error["message"].endswith(" is too large a number to handle"), path
        else:  # a field that must be positive says so first
            assert error["message"].endswith(" is too small"), path


def test_nul_characters_in_text_are_refused_before_postgresql_sees_them(
    client: FlaskClient, world: dict[str, Any]
) -> None:
    h, brand, video = world["headers"], world["brand"], world["video"]
    cases = [
        (f"/api/v1/videos/{video.id}/comments", {"body": NUL}, "body"),
        (f"/api/v1/brands/{brand.id}/products", {"name": NUL, "category": "beauty"}, "name"),
        ("/api/v1/auth/login", {"email": "a\x00@example.com", "password": "x"}, "email"),
    ]
    for path, body, field in cases:
        r = client.post(path, json=body, headers={**h, "Idempotency-Key": f"nul-{field}"})
        assert r.status_code == 422, (path, r.get_json())
        errors = {e["field"]: e for e in problem(r)["errors"]}
        assert errors[field]["code"] == "nul_character"
        assert "空字符" in errors[field]["message"]
    # In a query string, a path or a page's form it is refused before any view.
    for r in (client.get("/api/v1/search?q=%E5%A5%BD%00"), client.get("/tag/%E5%A5%BD%00"),
              client.post("/login", data={"email": "a\x00@example.com", "password": "x"})):  # fmt: skip
        assert r.status_code == 400
        assert r.status_code != 500


@pytest.mark.parametrize("raw", [str(2**63), str(10**30)])
def test_ids_past_64_bits_in_paths_and_queries_are_4xx(client: FlaskClient, world: dict[str, Any], raw: str) -> None:
    h = world["headers"]
    paths = [("GET", f"/api/v1/videos/{raw}"), ("GET", f"/api/v1/orders/{raw}"), ("GET", f"/v/{raw}"),
             ("POST", f"/api/v1/creators/{raw}/follow"), ("GET", f"/p/{raw}")]  # fmt: skip
    for method, path in paths:
        r = client.open(path, method=method, headers=h)
        assert r.status_code == 404, (path, r.status_code)
    r = client.get(f"/api/v1/orders?brand_id={raw}", headers=h)
    assert r.status_code == 422
    assert problem(r)["errors"][0]["code"] == "int64_range"


def test_the_documented_schema_states_the_bounds(client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    param = next(p for p in doc["paths"]["/api/v1/videos/{video_id}"]["get"]["parameters"] if p["in"] == "path")
    assert param["schema"] == {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**63 - 1}
    cart = json.dumps(doc["components"]["schemas"]["CartItemIn"])
    assert '"maximum": 9223372036854775807' in cart


@pytest.mark.parametrize("field", ["categories", "tags"])
def test_null_lists_in_the_artist_profile_leave_them_as_they_are(
    client: FlaskClient, world: dict[str, Any], field: str
) -> None:
    h = world["headers"]
    first = client.patch("/api/v1/me/artist-profile", json={field: ["beauty"]}, headers=h)
    assert first.status_code == 200, first.get_json()
    r = client.patch("/api/v1/me/artist-profile", json={field: None}, headers=h)
    assert r.status_code == 200, r.get_json()
    kept = r.get_json()[field]
    assert [x.get("code", x) if isinstance(x, dict) else x for x in kept] == [
        x.get("code", x) if isinstance(x, dict) else x for x in first.get_json()[field]
    ]


# -- every operation, driven from the OpenAPI document -------------------------------------------------------

_PARAM = re.compile(r"\{(\w+)\}")


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, item in doc["paths"].items() for method, op in item.items()
            if method in ("get", "post", "put", "patch", "delete")]  # fmt: skip


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _evil(doc: dict[str, Any], schema: dict[str, Any], draw: Any, depth: int = 0) -> Any:
    """A value shaped like `schema` whose leaves are what no column holds (or null)."""
    schema = _resolve(doc, schema)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return _evil(doc, draw(st.sampled_from(options)), draw, depth)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 3:
            return {}
        props = schema.get("properties", {})
        return {name: _evil(doc, sub, draw, depth + 1) for name, sub in props.items() if draw(st.booleans())} or {
            "k": NUL
        }
    if kind == "array":
        return [_evil(doc, schema.get("items", {}), draw, depth + 1)]
    leaves = {
        "integer": [*TOO_BIG, 2**63 - 1, -1, 0],
        "number": [*TOO_BIG, 1e308, -1],
        "boolean": [True, None, "\x00"],
    }
    return draw(st.sampled_from(leaves.get(kind, [NUL, "\x00", "a" * 5000, None, 2**63])))


@pytest.fixture
def openapi(client: FlaskClient) -> dict[str, Any]:
    return client.get("/api/v1/openapi.json").get_json()  # type: ignore[no-any-return]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_operation_answers_500_to_values_no_column_holds(
    client: FlaskClient, db_session: Session, world: dict[str, Any], openapi: dict[str, Any], data: st.DataObject
) -> None:
    method, template, op = data.draw(st.sampled_from(_operations(openapi)))
    if template.startswith("/api/v1/payments/webhooks"):
        template = template.replace("{provider}", "sandbox")
    real_ids = [world[k].id for k in ("brand", "product", "video", "sku", "other_brand")]
    # 2**63 - 1: the largest id a path takes, so it reaches the services (which must not find it)
    path = _PARAM.sub(lambda m: str(data.draw(st.sampled_from([*TOO_BIG[:2], 0, 2**63 - 1, *real_ids]))), template)
    query = {
        p["name"]: _evil(openapi, p.get("schema", {}), data.draw)
        for p in op.get("parameters", [])
        if p["in"] == "query" and data.draw(st.booleans())
    }
    query = {k: ("" if v is None else v if isinstance(v, str) else json.dumps(v)) for k, v in query.items()}
    headers = {**_signed_in(db_session, world), "Idempotency-Key": "fuzz-1"}
    kwargs: dict[str, Any] = {"query_string": query, "headers": headers}
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None:
        kwargs["data"] = json.dumps(_evil(openapi, body["schema"], data.draw))
        kwargs["content_type"] = "application/json"
    _no_crash(client.open(path, method=method, **kwargs))


def test_no_two_operations_share_a_method_and_path(app: Flask) -> None:
    """Flask routes a duplicate rule to whichever was added first, silently hiding the other operation."""
    seen: dict[tuple[str, str], str] = {}
    for rule in app.url_map.iter_rules():
        for method in rule.methods or ():
            if method in ("HEAD", "OPTIONS"):
                continue
            key = (method, rule.rule)
            assert key not in seen, f"{method} {rule.rule}: {seen[key]} and {rule.endpoint}"
            seen[key] = rule.endpoint

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.settings import Settings
from tests.conftest import AMQP_URL, REDIS_URL, make_settings


def test_healthz_all_green_on_embedded_defaults(tmp_path, database_url: str) -> None:  # type: ignore[no-untyped-def]
    from web import create_app

    app = create_app(
        make_settings(
            tmp_path,
            database_url=f"sqlite:///{tmp_path / 'h.sqlite3'}",
            celery_broker_url=f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}",
        )
    )
    r = app.test_client().get("/healthz")
    body = r.get_json()
    assert r.status_code == 200, body
    assert body["status"] == "ok"
    assert body["down"] == []
    assert {k: v["backend"] for k, v in body["checks"].items()} == {
        "database": "sqlite",
        "storage": "file",
        "search": "embedded",
        "broker": "sqla",
    }


@pytest.fixture(params=["redis", "amqp"])
def scale_out_app(request, tmp_path, database_url: str, s3_endpoint: str) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    from core.storage.s3 import S3Storage
    from web import create_app

    S3Storage(bucket="xl-health", endpoint_url=s3_endpoint).ensure_bucket()
    settings: Settings = make_settings(
        tmp_path,
        database_url=database_url,
        storage_url="s3://xl-health/media",
        s3_endpoint_url=s3_endpoint,
        celery_broker_url=REDIS_URL if request.param == "redis" else AMQP_URL,
    )
    app = create_app(settings)
    yield app
    app.extensions["db"].dispose()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.rabbitmq
def test_healthz_all_green_on_postgres_s3_and_redis_or_rabbitmq(scale_out_app: Flask) -> None:
    r = scale_out_app.test_client().get("/healthz")
    body = r.get_json()
    assert r.status_code == 200, body
    assert body["checks"]["database"]["backend"] == "postgresql"
    assert body["checks"]["storage"]["backend"] == "s3"
    assert body["checks"]["broker"]["backend"] in ("redis", "amqp")


def test_healthz_names_the_system_that_is_down(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from web import create_app

    app = create_app(
        make_settings(
            tmp_path,
            database_url=f"sqlite:///{tmp_path / 'h.sqlite3'}",
            celery_broker_url="redis://127.0.0.1:1/0",  # nothing listens on port 1
        )
    )
    r = app.test_client().get("/healthz")
    body = r.get_json()
    assert r.status_code == 503
    assert body["down"] == ["broker"]
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["broker"]["error"]


def test_docs_page_and_openapi_document(client: FlaskClient) -> None:
    from openapi_spec_validator import validate

    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc = r.get_json()
    validate(doc)
    register = doc["paths"]["/api/v1/auth/register"]["post"]
    assert register["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RegisterIn"
    }
    assert {"201", "400", "422", "409"} <= set(register["responses"])
    assert doc["paths"]["/api/v1/brands/{brand_id}"]["patch"]["security"]
    assert "RegisterIn" in doc["components"]["schemas"]
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    assert b"swagger-ui" in page.data
    assert client.get("/api/v1/docs/static/swagger-ui-bundle.js").status_code == 200

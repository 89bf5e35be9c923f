"""Operator commands (`flask --app web <command>`)."""

from __future__ import annotations

from pathlib import Path

import boto3

from tests.conftest import make_settings


def test_storage_cors_opens_the_bucket_to_the_site(tmp_path: Path, s3_endpoint: str) -> None:
    from web import create_app

    settings = make_settings(
        tmp_path,
        storage_url="s3://xl-cli-cors/prod",
        s3_endpoint_url=s3_endpoint,
        public_base_url="https://m.xinglian.example/",
    )
    app = create_app(settings)
    app.extensions["storage"].ensure_bucket()
    result = app.test_cli_runner().invoke(args=["storage-cors"])
    assert result.exit_code == 0, result.output
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    assert s3.get_bucket_cors(Bucket="xl-cli-cors")["CORSRules"][0]["AllowedOrigins"] == ["https://m.xinglian.example"]


def test_storage_cors_refuses_the_embedded_store(tmp_path: Path) -> None:
    from web import create_app

    result = create_app(make_settings(tmp_path)).test_cli_runner().invoke(args=["storage-cors"])
    assert result.exit_code != 0
    assert "STORAGE_URL" in result.output

"""Settings come from the environment when `Settings()` is built — never when a module is imported — and an
explicit value beats the environment."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from core.settings import DEVELOPMENT_SECRET_KEY, PROJECT_ROOT, InsecureSettings, Settings

PACKAGES = ("core", "media", "search", "commerce", "web", "workers")
# Process entry points: like gunicorn's `web:create_app()`, they build settings at import on purpose.
ENTRY_POINTS = {"workers.main"}


def test_values_come_from_the_environment_when_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://db.internal/xinglian")
    monkeypatch.setenv("UPLOAD_MAX_BYTES", "1048576")
    built = Settings()
    assert built.database_url == "postgresql+psycopg://db.internal/xinglian"
    assert built.upload_max_bytes == 1_048_576
    assert Settings(database_url="sqlite:///x.sqlite3").database_url == "sqlite:///x.sqlite3"
    monkeypatch.setenv("UPLOAD_MAX_BYTES", "a lot")
    with pytest.raises(ValidationError):  # a bad value is refused with its name, not silently defaulted
        Settings()


def test_importing_any_module_reads_no_settings() -> None:
    """Every module imports cleanly in a process whose environment holds settings that cannot be built."""
    script = f"""
import importlib, pkgutil
names = []
for package in {PACKAGES!r}:
    module = importlib.import_module(package)
    names.append(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        if info.name in {ENTRY_POINTS!r} or info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)
        names.append(info.name)
print(len(names))
"""
    env = {**os.environ, "UPLOAD_MAX_BYTES": "a lot", "SECRET_KEY": "short"}
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.strip()) > 100  # every module of the six packages was imported


PRODUCTION_SECRETS = ("SECRET_KEY", "LINK_SIGNING_KEYS", "SANDBOX_WEBHOOK_SECRETS")


def test_production_refuses_the_development_secrets_naming_each_setting() -> None:
    with pytest.raises(InsecureSettings) as refused:
        Settings(env="production")
    message = str(refused.value)
    assert message.startswith("ENV=production refuses to start with development secrets")
    for name in PRODUCTION_SECRETS:
        assert f"  {name}: " in message, message
    assert DEVELOPMENT_SECRET_KEY not in message  # it names the settings, it does not print secrets


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"link_signing_keys": f"k1:{DEVELOPMENT_SECRET_KEY}"}, "LINK_SIGNING_KEYS"),
        ({"link_signing_keys": f"k2:a-real-one-0123456789,k1:{DEVELOPMENT_SECRET_KEY}"}, "LINK_SIGNING_KEYS"),
        ({"sandbox_webhook_secrets": f"sandbox:{DEVELOPMENT_SECRET_KEY}"}, "SANDBOX_WEBHOOK_SECRETS"),
        ({"sandbox_webhook_secrets": f"new-secret-0123456789,{DEVELOPMENT_SECRET_KEY}"}, "SANDBOX_WEBHOOK_SECRETS"),
    ],
)
def test_production_refuses_a_development_secret_set_explicitly(overrides: dict[str, str], named: str) -> None:
    with pytest.raises(InsecureSettings) as refused:
        Settings(env="production", secret_key="a-long-random-production-secret", **overrides)  # type: ignore[arg-type]
    lines = [line.strip().split(":")[0] for line in str(refused.value).splitlines()[1:]]
    assert lines == [named]


def test_production_starts_with_its_own_secrets_and_development_with_none() -> None:
    real = Settings(env="production", secret_key="a-long-random-production-secret")
    assert real.development_secrets() == {}  # the derived link and webhook secrets come from a real key
    explicit = Settings(env="production", secret_key="another-long-random-secret", link_signing_keys="k1:s3cr3t-value",
                        sandbox_webhook_secrets="whsec-0123456789")  # fmt: skip
    assert explicit.signing_keys() == [("k1", b"s3cr3t-value")]
    assert set(Settings(env="development").development_secrets()) == set(PRODUCTION_SECRETS)  # development: allowed


@pytest.mark.parametrize("entry", ["from web import create_app; create_app()", "import workers.main"])
def test_the_web_app_and_the_worker_do_not_start_in_production_with_the_development_key(entry: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_SECRETS}
    env["ENV"] = "production"
    done = subprocess.run([sys.executable, "-c", entry], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode != 0
    assert "InsecureSettings: ENV=production refuses to start with development secrets" in done.stderr
    for name in PRODUCTION_SECRETS:
        assert f"  {name}: " in done.stderr

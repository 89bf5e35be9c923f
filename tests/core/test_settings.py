"""Settings come from the environment when `Settings()` is built — never when a module is imported — and an
explicit value beats the environment."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from core.settings import PROJECT_ROOT, Settings

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

"""The Dockerfile and compose file describe the scale-out shape, and agree with the Procfile and the settings.

No Docker engine runs here (only the client), so the images are not built in the suite; these checks read
the files the way `docker compose` would and hold them to what the code expects.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest
import yaml
from honcho.environ import parse_procfile

from core.settings import PROJECT_ROOT, Settings

COMPOSE = PROJECT_ROOT / "deploy" / "compose.yaml"
APP_SERVICES = ("migrate", "web", "worker-media", "worker-default", "worker-search", "beat")
_REQUIRED = re.compile(r"\$\{(\w+):\?[^}]*\}")
_DEFAULTED = re.compile(r"\$\{(\w+):-([^}]*)\}")


def _interpolate(text: str, env: dict[str, str]) -> str:
    text = _REQUIRED.sub(lambda m: env[m.group(1)], text)  # a KeyError is compose refusing to start
    return _DEFAULTED.sub(lambda m: env.get(m.group(1), m.group(2)), text)


def _services(env: dict[str, str]) -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(_interpolate(COMPOSE.read_text(), env))["services"]
    return services


SECRETS = {"SECRET_KEY": "s" * 40, "LINK_SIGNING_KEYS": "k1:" + "l" * 40, "SANDBOX_WEBHOOK_SECRETS": "w" * 40}


def test_compose_refuses_to_start_without_the_production_secrets() -> None:
    for missing in SECRETS:
        with pytest.raises(KeyError):
            _services({k: v for k, v in SECRETS.items() if k != missing})


def test_compose_runs_the_engines_migrations_web_every_queue_and_beat() -> None:
    services = _services(SECRETS)
    assert {"postgres", "redis", "minio", "storage-setup", "opensearch", *APP_SERVICES} <= set(services)
    for name in APP_SERVICES:
        assert services[name]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert services[name]["image"] == "xinglian:latest"
    assert "alembic upgrade head" in " ".join(services["migrate"]["command"])
    for name in ("web", "worker-media", "worker-default", "worker-search", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    queues = set()
    for name in ("worker-media", "worker-default", "worker-search"):
        cmd = services[name]["command"]
        queues |= set(cmd[cmd.index("-Q") + 1].split(","))
    procfile = parse_procfile((PROJECT_ROOT / "Procfile").read_text()).processes
    procfile_queues = {
        q for cmd in procfile.values() if " -Q " in cmd for q in cmd.split(" -Q ")[1].split()[0].split(",")
    }
    assert queues == procfile_queues == {"media", "default", "search"}


def test_the_web_service_runs_gunicorn_as_make_run_does() -> None:
    web = _services(SECRETS)["web"]["command"]
    procfile = shlex.split(parse_procfile((PROJECT_ROOT / "Procfile").read_text()).processes["web"])
    assert web[0] == "gunicorn"
    assert procfile[1].endswith("/gunicorn")
    assert web[web.index("-c") + 1] == procfile[procfile.index("-c") + 1] == "python:web.gunicorn_conf"
    assert web[-1] == procfile[-1] == "web:create_app()"


def test_the_app_environment_is_a_valid_production_configuration_on_the_distributed_engines() -> None:
    env = {k: str(v) for k, v in _services(SECRETS)["web"]["environment"].items()}
    settings = Settings(**{k.lower(): v for k, v in env.items() if not k.startswith("AWS_")})
    assert settings.env == "production"  # constructing it ran the refusal of development secrets
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.celery_broker_url.startswith("redis://")
    assert settings.rate_limit_storage_url.startswith("redis://")
    assert settings.storage_url.startswith("s3://")
    assert settings.s3_endpoint_url == "http://minio:9000"
    assert settings.search_is_remote


def test_the_image_is_multi_stage_non_root_with_ffmpeg_and_the_pinned_requirements() -> None:
    lines = [ln.strip() for ln in (PROJECT_ROOT / "deploy" / "Dockerfile").read_text().splitlines()]
    stages = [i for i, ln in enumerate(lines) if ln.startswith("FROM ")]
    assert len(stages) >= 2
    final = "\n".join(lines[stages[-1] :])
    assert re.search(r"apt-get install .*\bffmpeg\b", final)
    users = re.findall(r"^USER (\S+)$", final, re.MULTILINE)
    assert users
    assert users[-1] not in ("root", "0")
    assert "pip install -r /src/requirements.txt" in "\n".join(lines)
    assert "COPY --from=build /opt/venv /opt/venv" in final
    assert '"python:web.gunicorn_conf"' in final
    ignored = (PROJECT_ROOT / ".dockerignore").read_text().split()  # at the build context's root
    assert {".git", ".venv", "var"} <= set(ignored)

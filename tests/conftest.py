"""Test harness.

Database tests run on PostgreSQL when it answers (a fresh database per test
session, migrated with Alembic) and on a SQLite file otherwise. Each test runs
inside a transaction that is rolled back at the end; code under test that
commits only releases a SAVEPOINT. Tests that need real commits seen by other
connections or processes use `committed_db`, which empties the tables after.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.orm import Session

from core.db import Database, make_engine
from core.settings import PROJECT_ROOT, Settings
from core.tasks import SENDER, RecordingSender

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
# As migration 0018_moderation creates it.
SQLITE_NO_DELETE_TRIGGER = """CREATE TRIGGER moderation_actions_no_delete BEFORE DELETE ON moderation_actions
           BEGIN SELECT RAISE(ABORT, 'moderation_actions is append-only'); END"""
TEST_SECRET = "test-secret-key-0123456789abcdef"

# The property tests check properties, not speed: on a loaded 2-core CI machine one example can stall past
# Hypothesis's default 200 ms deadline and fail a correct run.
hypothesis_settings.register_profile("suite", deadline=None)
hypothesis_settings.load_profile("suite")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def postgres_available() -> bool:
    if os.environ.get("TEST_DATABASE") == "sqlite":
        return False
    return _reachable("127.0.0.1", 5432)


def redis_available() -> bool:
    return _reachable("127.0.0.1", 6379)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def migrate(url: str) -> None:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.attributes["url"] = url
    command.upgrade(cfg, "head")


def create_pg_database(prefix: str = "xl_test") -> tuple[str, Engine]:
    """A new, empty PostgreSQL database; returns its URL and an admin engine to drop it with."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", admin


def drop_pg_database(url: str, admin: Engine) -> None:
    name = url.rsplit("/", 1)[1]
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if postgres_available():
        url, admin = create_pg_database()
        migrate(url)
        yield url
        drop_pg_database(url, admin)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        migrate(url)
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


RATE_LIMITED = (
    *("signup", "share_links", "checkout", "withdrawals", "uploads", "webhook_errors"),
    *("sms", "password_reset", "support_messages"),
)


def make_settings(var_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "secret_key": TEST_SECRET,
        "database_url": f"sqlite:///{var_dir / 'unused.sqlite3'}",
        "storage_url": f"file://{var_dir / 'storage'}",
        "search_url": str(var_dir / "search"),
        "celery_broker_url": "memory://",
        "media_work_dir": str(var_dir / "media-work"),
        "celery_beat_schedule": str(var_dir / "celerybeat-schedule"),
        "password_hash_memory_kib": 1024,
        "password_hash_time_cost": 1,
    }
    # The limiter stays on, so every test goes through it; but one app serves the whole session from one
    # address, so its limits are out of reach here (tests/web/test_rate_limits.py tries the real ones).
    values.update({f"rate_limit_{kind}": "100000 per minute" for kind in RATE_LIMITED})
    # Uploads go public at once, as journeys other than review expect; tests/moderation and the console's
    # browser test run the default policy (new accounts wait for a reviewer).
    values["review_mode"] = "nobody"
    # Likewise products in regulated categories go on sale without papers, but in tests/moderation/test_qualifications.
    values["qualifications_required"] = False
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def settings(var_dir: Path, database_url: str) -> Settings:
    return make_settings(var_dir, database_url=database_url)


@pytest.fixture(scope="session")
def app(settings: Settings) -> Iterator[Flask]:
    from web import create_app

    application = create_app(settings)
    yield application
    application.extensions["db"].dispose()


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@contextlib.contextmanager
def rolled_back_session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back at the end; its commits only release a SAVEPOINT."""
    connection = engine.connect()
    transaction = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()


@pytest.fixture
def db_session(engine: Engine, sender: RecordingSender) -> Iterator[Session]:
    with rolled_back_session(engine) as session:
        session.info[SENDER] = sender
        yield session


@pytest.fixture
def app_ctx(app: Flask, db_session: Session) -> Iterator[Flask]:
    """The app, with every request in this test using the test's session.

    No app context stays pushed: Flask reuses a pushed context for requests,
    which would carry `g` (and the signed-in user) from one request to the next.
    """
    database: Database = app.extensions["db"]
    database.session_factory, database.owns_sessions = (lambda: db_session), False
    yield app
    database.session_factory, database.owns_sessions = database._maker, True


@pytest.fixture
def client(app_ctx: Flask) -> FlaskClient:
    return app_ctx.test_client()


@pytest.fixture
def committed_db(database_url: str) -> Iterator[Database]:
    """A Database whose commits are real; every table is emptied afterwards."""
    db = Database(database_url)
    yield db
    tables = [t for t in inspect(db.engine).get_table_names() if t != "alembic_version"]
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
            # The audit log refuses deletes (PostgreSQL's TRUNCATE does not fire row triggers; SQLite's DELETE does).
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS moderation_actions_no_delete")
            for t in tables:
                conn.execute(text(f'DELETE FROM "{t}"'))
            conn.exec_driver_sql(SQLITE_NO_DELETE_TRIGGER)
    db.dispose()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 HTTP endpoint (moto's server) on a free port."""
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_pg = pytest.mark.skip(reason="PostgreSQL is not reachable on 127.0.0.1:5432")
    skip_redis = pytest.mark.skip(reason="Redis is not reachable on 127.0.0.1:6379")
    skip_rabbit = pytest.mark.skip(reason="RabbitMQ is not reachable on 127.0.0.1:5672")
    pg, redis, rabbit = postgres_available(), redis_available(), _reachable("127.0.0.1", 5672)
    for item in items:
        if "rabbitmq" in item.keywords and not rabbit:
            item.add_marker(skip_rabbit)
        if "postgres" in item.keywords and not pg:
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not redis:
            item.add_marker(skip_redis)

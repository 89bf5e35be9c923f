"""Alembic environment: one migration history for SQLite and PostgreSQL.

The database URL comes from `core.settings` unless the caller hands in a
connection (`config.attributes["connection"]`, used by the test harness).
"""

from __future__ import annotations

import importlib
from logging.config import fileConfig

from alembic import context

from core.db import Base, make_engine
from core.settings import Settings

# Every module that defines tables, so autogenerate sees the whole schema.
MODEL_MODULES = (
    "core.accounts.models",
    "core.idempotency",
    "core.outbox",
    "media.models",
    "commerce.catalog.models",
    "search.models",
    "commerce.ledger.models",
    "commerce.payments.models",
    "commerce.payments.sandbox",
    "commerce.attribution.models",
    "commerce.payouts.models",
    "commerce.orders.models",
    "commerce.marketing.models",
    "commerce.distribution.models",
    "commerce.support.models",
    "commerce.artists.models",
    "commerce.booking.models",
    "commerce.notifications.models",
    "moderation.models",
)

config = context.config
if config.config_file_name is not None and not config.attributes.get("connection"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

for _module in MODEL_MODULES:
    importlib.import_module(_module)
target_metadata = Base.metadata


def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.attributes.get("url") or Settings().database_url)
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")
run_migrations_online()

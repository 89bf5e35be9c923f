"""`python -m search`: rebuild indexes without downtime, reconcile them with the database.

    python -m search reindex                  # every entity
    python -m search reindex --entity videos  # one entity
    python -m search reconcile
    python -m search status

Settings come from the environment like the app's. With the embedded engine,
events the search worker receives during a rebuild wait in the outbox (the
new index's writer lock is held here) and are applied right after the swap;
nothing is lost, and searches keep using the old index until then.
"""

from __future__ import annotations

import sys

import click
from sqlalchemy import select

from core.db import Database
from core.settings import Settings
from search.documents import ENTITIES
from search.engine import open_engine


def _entities(name: str) -> list[str]:
    return list(ENTITIES) if name == "all" else [name]


@click.group()
def cli() -> None:
    """Search index maintenance."""


@cli.command()
@click.option("--entity", type=click.Choice(["all", *ENTITIES]), default="all", show_default=True)
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=1000, show_default=True)
def reindex(entity: str, batch_size: int) -> None:
    """Build a fresh index from the database and swap the alias to it."""
    from search.maintenance import reindex as rebuild

    settings = Settings()
    db, engine = Database(settings.database_url), open_engine(settings)
    try:
        for name in _entities(entity):
            with click.progressbar(length=1, label=f"reindex {name}", show_pos=True, show_eta=True) as bar:

                def progress(done: int, total: int, bar: click._termui_impl.ProgressBar[int] = bar) -> None:
                    bar.length = total
                    bar.update(done - bar.pos)

                report = rebuild(db, engine, ENTITIES[name], batch_size=batch_size, progress=progress)
            click.echo(
                f"{report.alias}: {report.documents} documents into {report.index} in {report.seconds:.1f} s"
                + (f", {report.errors} refused (see the log)" if report.errors else "")
            )
    finally:
        engine.close()
        db.dispose()


@cli.command()
@click.option("--entity", type=click.Choice(["all", *ENTITIES]), default="all", show_default=True)
def reconcile(entity: str) -> None:
    """Compare the index with the database and queue repairs through the outbox."""
    from search.maintenance import reconcile as check

    settings = Settings()
    db, engine = Database(settings.database_url), open_engine(settings)
    try:
        for name in _entities(entity):
            r = check(db, engine, ENTITIES[name])
            click.echo(
                f"{r.alias}: checked {r.checked}, missing {len(r.missing)}, different {len(r.different)}, "
                f"superfluous {len(r.superfluous)}"
            )
    finally:
        engine.close()
        db.dispose()


@cli.command()
def status() -> None:
    """Where each alias points, its document count, and recent rebuilds."""
    from search.models import IndexBuild

    settings = Settings()
    db, engine = Database(settings.database_url), open_engine(settings)
    try:
        for name, entity in ENTITIES.items():
            target = engine.resolve_alias(entity.alias)
            count = engine.count(entity.alias) if target else 0
            click.echo(f"{name}: alias -> {target or '(none)'}, {count} documents")
        with db.session() as s:
            for b in s.scalars(select(IndexBuild).order_by(IndexBuild.id.desc()).limit(5)):
                click.echo(f"  build {b.index_name}: {b.status.value} {b.done}/{b.total} {b.error or ''}")
    finally:
        engine.close()
        db.dispose()


if __name__ == "__main__":
    sys.exit(cli())

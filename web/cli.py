"""Flask CLI commands: `flask --app web <command>`."""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import func, select

from core import extensions


def init_app(app: Flask) -> None:
    @app.cli.command("seed-demo")
    @click.option("--force", is_flag=True, help="Seed even when the database already has users.")
    def seed_demo(force: bool) -> None:
        """Load demo accounts and content when the database is empty."""
        from core.accounts.models import User
        from web.demo import seed

        with extensions.database().session() as session:
            if not force and (session.scalar(select(func.count()).select_from(User)) or 0) > 0:
                click.echo("database already has data; demo seed skipped")
                return
            summary = seed(session)
        for line in summary:
            click.echo(line)

    @app.cli.command("create-admin")
    @click.argument("email")
    @click.password_option()
    def create_admin(email: str, password: str) -> None:
        """Create an admin account."""
        from core.accounts import service as accounts

        with extensions.database().session() as session:
            user = accounts.register(session, email=email, password=password, display_name="admin")
            user.is_admin = True
            session.commit()
        click.echo(f"admin {email} created")

    @app.cli.command("storage-cors")
    @click.argument("origins", nargs=-1)
    def storage_cors(origins: tuple[str, ...]) -> None:
        """Allow the site's origin (PUBLIC_BASE_URL, or ORIGINS) to upload to and play from the S3 bucket."""
        from core.storage.s3 import S3Storage

        store = extensions.storage()
        if not isinstance(store, S3Storage):
            raise click.ClickException("STORAGE_URL is not s3://…; the embedded store is served by the app itself")
        allowed = list(origins) or [extensions.settings().public_base_url.rstrip("/")]
        store.allow_browser_origin(allowed)
        click.echo(f"bucket {store.bucket} accepts browser uploads and playback from {', '.join(allowed)}")

    @app.cli.command("reprocess-outdated")
    @click.option("--limit", type=click.IntRange(min=1), default=None, help="Queue at most this many, oldest first.")
    @click.option("--retry-abandoned", is_flag=True, help="Also queue videos whose last upgrade gave up.")
    def reprocess_outdated(limit: int | None, retry_abandoned: bool) -> None:
        """Re-make ready videos an older pipeline version made; each keeps playing until its new version is in."""
        from media import processing

        with extensions.database().session() as session:
            counts = processing.queue_outdated(session, limit=limit, retry_abandoned=retry_abandoned)
        click.echo(f"queued {counts['queued']} videos for pipeline v{counts['version']}")
        if counts["abandoned"]:
            click.echo(f"{counts['abandoned']} whose last upgrade gave up were left out (--retry-abandoned)")

    @app.cli.command("relay-outbox")
    def relay_outbox() -> None:
        """Drain the outbox once, in this process (the worker does this continuously)."""
        with extensions.database().session() as session:
            n = extensions.outbox_relay().drain(session)
        click.echo(f"delivered {n} events")

"""Helpers for catalog tests: sign-in, outbox inspection, problem fields."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.outbox import OutboxEvent
from tests import factories


def bearer(client: FlaskClient, user: User) -> dict[str, str]:
    r = client.post("/api/v1/auth/tokens", json={"email": user.email, "password": factories.PASSWORD})
    assert r.status_code == 201, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


def outbox_mark(session: Session) -> int:
    return session.scalar(select(func.max(OutboxEvent.id))) or 0


def events_since(session: Session, mark: int) -> list[tuple[str, str]]:
    rows = session.execute(
        select(OutboxEvent.topic, OutboxEvent.entity_id).where(OutboxEvent.id > mark).order_by(OutboxEvent.id)
    )
    return [(topic, entity_id) for topic, entity_id in rows]


def problem_fields(r) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    """The field errors of a problem+json response, by field."""
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.data
    return {e["field"]: e for e in r.get_json().get("errors", [])}

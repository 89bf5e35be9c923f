"""Payments: the provider interface, the built-in sandbox provider, and applying notifications exactly once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import NotFound

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from commerce.payments.provider import PaymentProvider
    from core.settings import Settings

WEBHOOK_PATH = "/api/v1/payments/webhooks/{provider}"
PROVIDERS = frozenset({"sandbox"})  # what `open_provider` knows


def notify_url(settings: Settings, provider: str) -> str:
    return settings.public_base_url.rstrip("/") + WEBHOOK_PATH.format(provider=provider)


def open_provider(settings: Settings, session: Session, name: str | None = None) -> PaymentProvider:
    """The provider called `name` (default: the configured one), bound to `session` where it needs one."""
    name = name or settings.payment_provider
    if name == "sandbox":  # keep PROVIDERS in step
        from commerce.payments.sandbox import SandboxProvider

        return SandboxProvider(
            session,
            secrets=settings.sandbox_secrets(),
            base_url=settings.public_base_url,
            fee_bp=settings.sandbox_fee_bp,
            tolerance_seconds=settings.webhook_tolerance_seconds,
        )
    raise NotFound("payment provider")

"""Messages to people outside the app: SMS codes and e-mails, each behind a small provider interface.

`open_sms_provider` / `open_mailer` pick the configured implementation (settings `sms_provider`,
`mail_provider`). The built-in sandbox keeps what it "delivers" in `sandbox_messages` and writes it to the log,
so development and tests read codes and reset links from `/sandbox/sms` and `/sandbox/mail` instead of a phone.
A real provider (Aliyun SMS, Tencent Cloud SMS, an SMTP relay) is one more class with the same method.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select

from core.accounts.models import SandboxMessage
from core.errors import DomainError, NotFound, register_messages

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.settings import Settings

log = logging.getLogger(__name__)

register_messages(
    {
        "delivery_failed": (
            "短信或邮件暂时发不出去，请稍后再试",
            "The text message or e-mail could not be sent right now; please try again later",
        ),
    }
)

SMS_PROVIDERS = frozenset({"sandbox"})  # what `open_sms_provider` knows
MAILERS = frozenset({"sandbox"})


class DeliveryFailed(DomainError):
    """The provider refused or could not be reached; nothing was delivered."""

    status = 503
    default_code = "delivery_failed"


class SmsProvider(Protocol):
    def send_sms(self, phone: str, text: str) -> None:
        """Deliver `text` to `phone` (E.164), or raise DeliveryFailed."""


class Mailer(Protocol):
    def send_mail(self, to: str, subject: str, body: str) -> None:
        """Deliver a plain-text e-mail, or raise DeliveryFailed."""


class SandboxOutbox:
    """Both sandbox channels: each message becomes a `sandbox_messages` row (committed) and a log line."""

    def __init__(self, session: Session, *, log_bodies: bool = True) -> None:
        self.session = session
        self.log_bodies = log_bodies  # never in production: a code in a log is a key to someone's account

    def _keep(self, channel: str, recipient: str, subject: str, body: str) -> None:
        self.session.add(SandboxMessage(channel=channel, recipient=recipient, subject=subject, body=body))
        self.session.commit()
        if self.log_bodies:
            log.info("sandbox %s to %s: %s %s", channel, recipient, subject, body)
        else:
            log.warning("sandbox %s provider in production: a message to %s went nowhere", channel, recipient)

    def send_sms(self, phone: str, text: str) -> None:
        self._keep("sms", phone, "", text)

    def send_mail(self, to: str, subject: str, body: str) -> None:
        self._keep("email", to, subject, body)

    def latest(self, channel: str, limit: int = 20) -> list[SandboxMessage]:
        stmt = select(SandboxMessage).where(SandboxMessage.channel == channel).order_by(SandboxMessage.id.desc())
        return list(self.session.scalars(stmt.limit(limit)))


def open_sms_provider(settings: Settings, session: Session) -> SmsProvider:
    if settings.sms_provider == "sandbox":  # keep SMS_PROVIDERS in step
        return SandboxOutbox(session, log_bodies=settings.env != "production")
    raise NotFound("sms provider")


def open_mailer(settings: Settings, session: Session) -> Mailer:
    if settings.mail_provider == "sandbox":  # keep MAILERS in step
        return SandboxOutbox(session, log_bodies=settings.env != "production")
    raise NotFound("mailer")

"""Payments: the provider interface, the built-in sandbox provider, and applying notifications exactly once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import NotFound

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from commerce.payments.provider import PaymentProvider, WebhookReply
    from core.settings import Settings

WEBHOOK_PATH = "/api/v1/payments/webhooks/{provider}"
PROVIDERS = frozenset({"sandbox", "wechatpay", "alipay"})  # what `open_provider` knows


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
    if name == "wechatpay" and settings.wechatpay_mchid:
        from commerce.payments.keys import read_pem, verifying_key
        from commerce.payments.wechatpay import WeChatPayProvider

        return WeChatPayProvider(
            mchid=settings.wechatpay_mchid,
            appid=settings.wechatpay_appid,
            merchant_serial_no=settings.wechatpay_merchant_serial_no,
            private_key=read_pem(settings.wechatpay_private_key),
            apiv3_key=settings.wechatpay_apiv3_key,
            platform_key=verifying_key(read_pem(settings.wechatpay_platform_key), settings.wechatpay_platform_key_id),
            base_url=settings.wechatpay_base_url,
            tolerance_seconds=settings.webhook_tolerance_seconds,
        )
    if name == "alipay" and settings.alipay_app_id:
        from commerce.payments.alipay import AlipayProvider
        from commerce.payments.keys import read_pem

        return AlipayProvider(
            app_id=settings.alipay_app_id,
            private_key=read_pem(settings.alipay_private_key),
            alipay_public_key=read_pem(settings.alipay_public_key),
            seller_id=settings.alipay_seller_id,
            gateway_url=settings.alipay_gateway_url,
            tolerance_seconds=settings.webhook_tolerance_seconds,
        )
    raise NotFound("payment provider")


def webhook_reply(name: str, *, accepted: bool, code: str, status: int) -> WebhookReply | None:
    """The answer provider `name` expects to a notification, in its format; None: the sandbox's JSON/problem."""
    if name == "wechatpay":
        from commerce.payments import wechatpay

        return wechatpay.reply(accepted=accepted, code=code, status=status)
    if name == "alipay":
        from commerce.payments import alipay

        return alipay.reply(accepted=accepted, code=code, status=status)
    return None

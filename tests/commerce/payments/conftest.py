"""The provider simulator over HTTP, keys generated here, and the adapters pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from commerce.payments.alipay import AlipayProvider
from commerce.payments.keys import verifying_key
from commerce.payments.wechatpay import WeChatPayProvider
from core.settings import Settings
from tests.commerce.payments.simulator import (
    AlipaySim,
    Simulator,
    WeChatPaySim,
    certificate,
    new_key,
    private_pem,
    public_pem,
)

MCHID, APPID, MERCHANT_SERIAL = "1900000109", "wxd678efh567hg6787", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
PLATFORM_SERIAL = 0x3775B6A45ACD588826D15E583A95F5DD
APIV3_KEY = "0123456789abcdef0123456789ABCDEF"
ALIPAY_APP_ID, ALIPAY_SELLER = "2021000122671234", "2088102177296610"


@dataclass(frozen=True)
class Keys:
    merchant: rsa.RSAPrivateKey  # WeChat merchant API key
    platform: rsa.RSAPrivateKey  # WeChat Pay platform key (in a certificate)
    app: rsa.RSAPrivateKey  # Alipay app key
    alipay: rsa.RSAPrivateKey  # Alipay's own key

    @property
    def platform_cert(self) -> str:
        return certificate(self.platform, PLATFORM_SERIAL)


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys(new_key(), new_key(), new_key(), new_key())


@pytest.fixture
def simulator(keys: Keys) -> Iterator[Simulator]:
    wechat = WeChatPaySim(
        mchid=MCHID, appid=APPID, merchant_key=keys.merchant, merchant_serial_no=MERCHANT_SERIAL,
        platform_key=keys.platform, platform_serial=format(PLATFORM_SERIAL, "X"), apiv3_key=APIV3_KEY,
    )  # fmt: skip
    alipay = AlipaySim(app_id=ALIPAY_APP_ID, seller_id=ALIPAY_SELLER, app_key=keys.app, alipay_key=keys.alipay)
    with Simulator(wechat, alipay) as sim:
        yield sim


def provider_settings(keys: Keys, simulator: Simulator) -> dict[str, str]:
    """The settings that point both adapters at the simulator (PEM text inline, as an environment holds it)."""
    return {
        "wechatpay_mchid": MCHID,
        "wechatpay_appid": APPID,
        "wechatpay_merchant_serial_no": MERCHANT_SERIAL,
        "wechatpay_private_key": private_pem(keys.merchant),
        "wechatpay_apiv3_key": APIV3_KEY,
        "wechatpay_platform_key": keys.platform_cert,
        "wechatpay_base_url": simulator.url,
        "alipay_app_id": ALIPAY_APP_ID,
        "alipay_private_key": private_pem(keys.app),
        "alipay_public_key": public_pem(keys.alipay),
        "alipay_seller_id": ALIPAY_SELLER,
        "alipay_gateway_url": simulator.url + "/gateway.do",
    }


@pytest.fixture
def configured(settings: Settings, keys: Keys, simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The app's settings, with both providers configured against the simulator for this test."""
    for name, value in provider_settings(keys, simulator).items():
        monkeypatch.setattr(settings, name, value)
    return settings


def wechat_provider(keys: Keys, simulator: Simulator) -> WeChatPayProvider:
    return WeChatPayProvider(
        mchid=MCHID, appid=APPID, merchant_serial_no=MERCHANT_SERIAL, private_key=private_pem(keys.merchant),
        apiv3_key=APIV3_KEY, platform_key=verifying_key(keys.platform_cert), base_url=simulator.url,
    )  # fmt: skip


def alipay_provider(keys: Keys, simulator: Simulator) -> AlipayProvider:
    return AlipayProvider(
        app_id=ALIPAY_APP_ID, private_key=private_pem(keys.app), alipay_public_key=public_pem(keys.alipay),
        seller_id=ALIPAY_SELLER, gateway_url=simulator.url + "/gateway.do",
    )  # fmt: skip

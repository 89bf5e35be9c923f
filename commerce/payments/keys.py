"""Keys and amounts shared by the WeChat Pay and Alipay adapters."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

CHINA = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")  # both providers speak Beijing time


def read_pem(value: str) -> str:
    """A PEM given inline (a setting holding the key itself) or as the path of a file holding it."""
    value = value.strip()
    if value.startswith("-----BEGIN"):
        return value + "\n"
    return Path(value).expanduser().read_text(encoding="ascii")


@dataclass(frozen=True)
class VerifyingKey:
    """The provider's key that signs what it sends us: a bare public key, or the one in a platform certificate."""

    key_id: str  # WeChat's `Wechatpay-Serial`: the certificate's serial (hex) or the public key's id
    public_key: RSAPublicKey
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None
    serial_number: int | None = None  # a certificate's

    def named_by(self, serial: str) -> bool:
        """Whether `Wechatpay-Serial` names this key (a certificate's serial compares as a number)."""
        if self.serial_number is None:
            return serial == self.key_id
        try:
            return int(serial, 16) == self.serial_number
        except ValueError:
            return False

    def valid_at(self, when: dt.datetime) -> bool:
        after_start = self.not_before is None or self.not_before <= when
        return after_start and (self.not_after is None or when <= self.not_after)

    def public_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()


def verifying_key(pem: str, key_id: str = "") -> VerifyingKey:
    """Load a certificate (its serial is its id, unless `key_id` spells it) or a public key (its id must be given)."""
    data = pem.encode()
    if b"CERTIFICATE" in data:
        cert = x509.load_pem_x509_certificate(data)
        key = cert.public_key()
        if not isinstance(key, RSAPublicKey):
            raise ValueError("the platform certificate must hold an RSA key")
        return VerifyingKey(key_id or format(cert.serial_number, "X"), key, cert.not_valid_before_utc,
                            cert.not_valid_after_utc, cert.serial_number)  # fmt: skip
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, RSAPublicKey):
        raise ValueError("the platform public key must be an RSA key")
    if not key_id:
        raise ValueError("a platform public key needs its id (PUB_KEY_ID_...)")
    return VerifyingKey(key_id, key)


_YUAN = re.compile(r"^(0|[1-9]\d{0,11})(\.\d{1,2})?$")


def yuan(fen: int) -> str:
    """Alipay's amounts: yuan with two decimals, as a string."""
    if fen < 0:
        raise ValueError("negative amount")
    return f"{fen // 100}.{fen % 100:02d}"


def fen(value: object) -> int:
    """Parse Alipay's yuan string exactly (never through a float); anything else is a ValueError."""
    if not isinstance(value, str) or not _YUAN.match(value):
        raise ValueError(f"not an amount in yuan: {value!r}")
    return int(Decimal(value) * 100)


def strict_int(value: object) -> int:
    """WeChat's amounts: integer fen; a float or a string is refused."""
    if type(value) is not int:
        raise ValueError(f"not an integer amount: {value!r}")
    return value

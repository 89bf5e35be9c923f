"""Object storage: one small interface, a local-directory and an S3 implementation.

`STORAGE_URL` picks the implementation: `file:///abs/dir` or `s3://bucket/prefix`.
Keys are '/'-separated relative paths such as `videos/42/v1/master.m3u8`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol
from urllib.parse import urlparse

if TYPE_CHECKING:
    from core.settings import Settings


class StorageError(Exception):
    pass


class ObjectMissing(StorageError, KeyError):
    pass


@dataclass(frozen=True)
class PartInfo:
    number: int
    etag: str
    size: int


class ObjectStorage(Protocol):
    """What the rest of the system may ask of object storage."""

    def put(self, key: str, data: bytes | BinaryIO, content_type: str | None = None) -> None: ...
    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None: ...
    def get(self, key: str) -> bytes: ...
    def download(self, key: str, dest: Path) -> None: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int: ...
    def list_keys(self, prefix: str) -> list[str]: ...
    def presigned_get_url(self, key: str, expires: int = 3600, filename: str | None = None) -> str: ...
    def presigned_put_url(self, key: str, expires: int = 3600, content_type: str | None = None) -> str: ...
    def public_url(self, key: str) -> str: ...
    def create_multipart(self, key: str, content_type: str | None = None) -> str: ...
    def presigned_part_url(self, key: str, upload_id: str, part_number: int, expires: int = 3600) -> str: ...
    def upload_part(self, key: str, upload_id: str, part_number: int, data: bytes) -> str: ...
    def list_parts(self, key: str, upload_id: str) -> list[PartInfo]: ...
    def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None: ...
    def abort_multipart(self, key: str, upload_id: str) -> None: ...
    def ping(self) -> None: ...
    def browser_origins(self) -> list[str]:
        """The origins browsers fetch from and upload to for this store (its presigned and public URLs): the
        Content-Security-Policy lets pages load media from, and send uploads to, exactly these."""
        ...


def check_key(key: str) -> str:
    """Refuse keys that could escape the store or confuse S3."""
    if not key or key.startswith("/") or "\\" in key or "\x00" in key:
        raise StorageError(f"invalid storage key {key!r}")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise StorageError(f"invalid storage key {key!r}")
    return key


MIN_PART_SIZE = 5 * 1024 * 1024  # S3's floor for every part but the last


def open_storage(settings: Settings) -> ObjectStorage:
    parsed = urlparse(settings.storage_url)
    if parsed.scheme == "file":
        from core.storage.local import LocalStorage

        return LocalStorage(
            Path(parsed.path),
            secret=settings.secret_key.encode(),
            base_url=settings.public_base_url,
        )
    if parsed.scheme == "s3":
        from core.storage.s3 import S3Storage

        return S3Storage(
            bucket=parsed.netloc,
            prefix=parsed.path.strip("/"),
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            public_base_url=settings.storage_public_url,
        )
    raise StorageError(f"unsupported STORAGE_URL scheme {parsed.scheme!r}")

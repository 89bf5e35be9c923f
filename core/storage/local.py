"""Object storage in a local directory, with HMAC-signed URLs served by the web app.

Presigned URLs point at `/storage/...` routes of this service (see
`web/storage_views.py`), which verify the signature and expiry and then read or
write through this class, so the same client code works as against S3.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlencode

from core.ids import short_id
from core.storage import ObjectMissing, PartInfo, StorageError, check_key
from core.urls import origin_of

_MULTIPART_DIR = ".multipart"
_COPY_CHUNK = 1024 * 1024


class LocalStorage:
    def __init__(self, root: Path, *, secret: bytes, base_url: str) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._secret = secret
        self.base_url = base_url.rstrip("/")

    # -- objects -----------------------------------------------------------
    def path_for(self, key: str) -> Path:
        check_key(key)
        if key.split("/", 1)[0] == _MULTIPART_DIR:
            raise StorageError("reserved key prefix")
        return self.root / key

    def _write_atomic(self, dest: Path, src: BinaryIO) -> None:
        # Readers must never see half an object: write beside it, then rename.
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(src, out, _COPY_CHUNK)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put(self, key: str, data: bytes | BinaryIO, content_type: str | None = None) -> None:
        import io

        src = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
        self._write_atomic(self.path_for(key), src)

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        with open(path, "rb") as fh:
            self._write_atomic(self.path_for(key), fh)

    def get(self, key: str) -> bytes:
        try:
            return self.path_for(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise ObjectMissing(key) from exc

    def download(self, key: str, dest: Path) -> None:
        src = self.path_for(key)
        if not src.is_file():
            raise ObjectMissing(key)
        shutil.copyfile(src, dest)

    def delete(self, key: str) -> None:
        self.path_for(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list_keys(prefix)
        for key in keys:
            self.delete(key)
        return len(keys)

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self.path_for(key).stat().st_size
        except FileNotFoundError as exc:
            raise ObjectMissing(key) from exc

    def list_keys(self, prefix: str) -> list[str]:
        prefix = prefix.strip("/")
        base = self.root / prefix if prefix else self.root
        if base.is_file():
            return [prefix]
        if not base.is_dir():
            return []
        out = []
        for p in base.rglob("*"):
            rel = p.relative_to(self.root).as_posix()
            if p.is_file() and not rel.startswith(_MULTIPART_DIR) and not p.name.startswith(".tmp-"):
                out.append(rel)
        return sorted(out)

    # -- signed URLs --------------------------------------------------------
    def sign(self, op: str, key: str, expires_at: int, extra: str = "") -> str:
        msg = f"{op}\n{key}\n{expires_at}\n{extra}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()

    def verify(self, op: str, key: str, expires_at: int, signature: str, extra: str = "") -> bool:
        if expires_at < time.time():
            return False
        return hmac.compare_digest(self.sign(op, key, expires_at, extra), signature)

    def _signed(self, route: str, op: str, key: str, expires: int, extra: str = "", **params: str) -> str:
        exp = int(time.time()) + expires
        query = {"exp": str(exp), "sig": self.sign(op, key, exp, extra), **params}
        return f"{self.base_url}/storage/{route}/{quote(key)}?{urlencode(query)}"

    def presigned_get_url(self, key: str, expires: int = 3600, filename: str | None = None) -> str:
        check_key(key)
        params = {"filename": filename} if filename else {}
        return self._signed("o", "get", key, expires, filename or "", **params)

    def presigned_put_url(self, key: str, expires: int = 3600, content_type: str | None = None) -> str:
        check_key(key)
        return self._signed("o", "put", key, expires)

    def public_url(self, key: str) -> str:
        check_key(key)
        return f"{self.base_url}/storage/public/{quote(key)}"

    # -- multipart ----------------------------------------------------------
    def _mp_dir(self, upload_id: str) -> Path:
        if not upload_id.isalnum():
            raise StorageError("invalid upload id")
        return self.root / _MULTIPART_DIR / upload_id

    def _mp_meta(self, key: str, upload_id: str) -> Path:
        d = self._mp_dir(upload_id)
        meta = d / "meta.json"
        if not meta.is_file() or json.loads(meta.read_text())["key"] != key:
            raise ObjectMissing(f"multipart upload {upload_id}")
        return d

    def create_multipart(self, key: str, content_type: str | None = None) -> str:
        check_key(key)
        upload_id = short_id("mp")
        d = self._mp_dir(upload_id)
        d.mkdir(parents=True)
        (d / "meta.json").write_text(json.dumps({"key": key, "content_type": content_type}))
        return upload_id

    def presigned_part_url(self, key: str, upload_id: str, part_number: int, expires: int = 3600) -> str:
        self._mp_meta(key, upload_id)
        return self._signed(
            "part",
            "part",
            key,
            expires,
            f"{upload_id}:{part_number}",
            upload_id=upload_id,
            part=str(part_number),
        )

    def upload_part(self, key: str, upload_id: str, part_number: int, data: bytes) -> str:
        if not 1 <= part_number <= 10_000:
            raise StorageError("part number out of range")
        d = self._mp_meta(key, upload_id)
        part = d / f"{part_number:05d}.part"
        import io

        self._write_atomic(part, io.BytesIO(data))
        return hashlib.md5(data, usedforsecurity=False).hexdigest()

    def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        d = self._mp_meta(key, upload_id)
        parts = []
        for p in sorted(d.glob("*.part")):
            data = p.read_bytes()
            parts.append(PartInfo(int(p.stem), hashlib.md5(data, usedforsecurity=False).hexdigest(), len(data)))
        return parts

    def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        d = self._mp_meta(key, upload_id)
        have = {p.number: p for p in self.list_parts(key, upload_id)}
        numbers = [n for n, _ in parts]
        if numbers != sorted(set(numbers)):
            raise StorageError("parts must be listed once each in ascending order")
        for n, etag in parts:
            if n not in have or have[n].etag != etag.strip('"'):
                raise StorageError(f"part {n} missing or its ETag does not match")
        dest = self.path_for(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                for n, _ in parts:
                    with open(d / f"{n:05d}.part", "rb") as src:
                        shutil.copyfileobj(src, out, _COPY_CHUNK)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        shutil.rmtree(d, ignore_errors=True)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            d = self._mp_meta(key, upload_id)
        except ObjectMissing:
            return
        shutil.rmtree(d, ignore_errors=True)

    def browser_origins(self) -> list[str]:
        origin = origin_of(self.base_url)
        return [origin] if origin else []

    def ping(self) -> None:
        probe = self.root / ".healthcheck"
        probe.write_bytes(b"ok")
        probe.unlink()

"""Object storage on any S3 API via boto3; uploads and downloads go straight to S3."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

import boto3
from botocore.client import Config
from botocore.exceptions import ClientError

from core.storage import ObjectMissing, PartInfo, StorageError, check_key
from core.urls import origin_of


class S3Storage:
    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        public_base_url: str | None = None,
        client: Any = None,
    ) -> None:
        if not bucket:
            raise StorageError("STORAGE_URL must name a bucket: s3://bucket/prefix")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            # Path-style keeps presigned URLs valid against MinIO, moto and on-prem S3.
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )
        self.public_base_url = (public_base_url or "").rstrip("/")

    def _k(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _unk(self, full: str) -> str:
        return full[len(self.prefix) + 1 :] if self.prefix else full

    def ensure_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def allow_browser_origin(self, origins: list[str], max_age: int = 3600) -> None:
        """Let the H5 pages talk to the bucket directly: phones PUT upload parts to presigned URLs and hls.js fetches
        playlists and segments with XHR, both cross-origin. ETag is exposed because a multipart part's ETag is
        what completes the upload. Replaces the bucket's CORS rules (this app owns the bucket)."""
        self.client.put_bucket_cors(
            Bucket=self.bucket,
            CORSConfiguration={
                "CORSRules": [
                    {
                        "AllowedOrigins": origins,
                        "AllowedMethods": ["GET", "HEAD", "PUT"],
                        "AllowedHeaders": ["*"],
                        "ExposeHeaders": ["ETag", "Content-Length", "Content-Range"],
                        "MaxAgeSeconds": max_age,
                    }
                ]
            },
        )

    def put(self, key: str, data: bytes | BinaryIO, content_type: str | None = None) -> None:
        extra = {"ContentType": content_type} if content_type else {}
        if isinstance(data, bytes | bytearray):
            self.client.put_object(Bucket=self.bucket, Key=self._k(key), Body=bytes(data), **extra)
        else:
            self.client.upload_fileobj(data, self.bucket, self._k(key), ExtraArgs=extra or None)

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        extra = {"ContentType": content_type} if content_type else None
        self.client.upload_file(str(path), self.bucket, self._k(key), ExtraArgs=extra)

    def get(self, key: str) -> bytes:
        try:
            return bytes(self.client.get_object(Bucket=self.bucket, Key=self._k(key))["Body"].read())
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                raise ObjectMissing(key) from exc
            raise

    def download(self, key: str, dest: Path) -> None:
        try:
            self.client.download_file(self.bucket, self._k(key), str(dest))
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                raise ObjectMissing(key) from exc
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._k(key))

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list_keys(prefix)
        for i in range(0, len(keys), 1000):
            chunk = keys[i : i + 1000]
            self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": self._k(k)} for k in chunk], "Quiet": True}
            )
        return len(keys)

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._k(key))
            return True
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def size(self, key: str) -> int:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=self._k(key))["ContentLength"])
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                raise ObjectMissing(key) from exc
            raise

    def list_keys(self, prefix: str) -> list[str]:
        # A prefix is a path, as in the local store: `videos/5` holds `videos/5/a`, never `videos/50/a`
        # (S3 matches raw text, so without the slash deleting video 5 would take videos 50-59 with it).
        prefix = prefix.strip("/")
        root = f"{self.prefix}/" if self.prefix else ""
        under = self._k(prefix) + "/" if prefix else root
        paginator = self.client.get_paginator("list_objects_v2")
        out: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=under):
            out.extend(self._unk(obj["Key"]) for obj in page.get("Contents", []))
        if prefix and not out and self.exists(prefix):
            return [prefix]  # the prefix names one object
        return sorted(out)

    def presigned_get_url(self, key: str, expires: int = 3600, filename: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._k(key)}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        return str(self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires))

    def presigned_put_url(self, key: str, expires: int = 3600, content_type: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._k(key)}
        if content_type:
            params["ContentType"] = content_type
        return str(self.client.generate_presigned_url("put_object", Params=params, ExpiresIn=expires))

    def public_url(self, key: str) -> str:
        if self.public_base_url:
            return f"{self.public_base_url}/{self._k(key)}"
        if self.endpoint_url:
            return f"{self.endpoint_url.rstrip('/')}/{self.bucket}/{self._k(key)}"
        return f"https://{self.bucket}.s3.amazonaws.com/{self._k(key)}"

    def create_multipart(self, key: str, content_type: str | None = None) -> str:
        extra = {"ContentType": content_type} if content_type else {}
        res = self.client.create_multipart_upload(Bucket=self.bucket, Key=self._k(key), **extra)
        return str(res["UploadId"])

    def presigned_part_url(self, key: str, upload_id: str, part_number: int, expires: int = 3600) -> str:
        return str(
            self.client.generate_presigned_url(
                "upload_part",
                Params={"Bucket": self.bucket, "Key": self._k(key), "UploadId": upload_id, "PartNumber": part_number},
                ExpiresIn=expires,
            )
        )

    def upload_part(self, key: str, upload_id: str, part_number: int, data: bytes) -> str:
        res = self.client.upload_part(
            Bucket=self.bucket, Key=self._k(key), UploadId=upload_id, PartNumber=part_number, Body=data
        )
        return str(res["ETag"]).strip('"')

    def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        out: list[PartInfo] = []
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self._k(key), "UploadId": upload_id}
        try:
            while True:
                res = self.client.list_parts(**kwargs)
                out.extend(
                    PartInfo(int(p["PartNumber"]), str(p["ETag"]).strip('"'), int(p["Size"]))
                    for p in res.get("Parts", [])
                )
                if not res.get("IsTruncated"):
                    return out
                kwargs["PartNumberMarker"] = res["NextPartNumberMarker"]
        except ClientError as exc:
            if _code(exc) == "NoSuchUpload":
                raise ObjectMissing(f"multipart upload {upload_id}") from exc
            raise

    def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        try:
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self._k(key),
                UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": f'"{e.strip(chr(34))}"'} for n, e in parts]},
            )
        except ClientError as exc:
            raise StorageError(f"completing multipart upload failed: {_code(exc)}") from exc

    def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self._k(key), UploadId=upload_id)
        except ClientError as exc:
            if _code(exc) != "NoSuchUpload":
                raise

    def browser_origins(self) -> list[str]:
        # Presigned URLs are path-style on the client's endpoint; public ones on the CDN, the endpoint or, on AWS
        # with neither, the bucket's virtual host (see `public_url`).
        urls = [str(self.client.meta.endpoint_url), self.public_url("k")]
        return sorted({o for o in map(origin_of, urls) if o})

    def ping(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))

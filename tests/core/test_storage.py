"""Storage conformance: the same tests against the local directory and a real S3 endpoint."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from core.storage import MIN_PART_SIZE, ObjectMissing, ObjectStorage, StorageError
from core.storage.local import LocalStorage
from core.storage.s3 import S3Storage
from tests.conftest import free_port, make_settings


@pytest.fixture(scope="module")
def local_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStorage]:
    """The local store behind a real HTTP server, so presigned URLs are exercised over the wire."""
    from web import create_app

    var = tmp_path_factory.mktemp("local-store")
    port = free_port()
    app = create_app(
        make_settings(var, database_url=f"sqlite:///{var / 'db.sqlite3'}", public_base_url=f"http://127.0.0.1:{port}")
    )
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    store = app.extensions["storage"]
    assert isinstance(store, LocalStorage)
    yield store
    server.shutdown()


@pytest.fixture(scope="module")
def s3_store(s3_endpoint: str) -> S3Storage:
    store = S3Storage(bucket="xl-conformance", prefix="env/test", endpoint_url=s3_endpoint)
    store.ensure_bucket()
    return store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> ObjectStorage:
    return request.getfixturevalue(f"{request.param}_store")  # type: ignore[no-any-return]


def test_put_get_exists_size_delete(store: ObjectStorage) -> None:
    store.put("a/b/hello.txt", "你好, storage".encode(), content_type="text/plain")
    assert store.exists("a/b/hello.txt")
    assert store.get("a/b/hello.txt") == "你好, storage".encode()
    assert store.size("a/b/hello.txt") == len("你好, storage".encode())
    store.put("a/b/stream.bin", io.BytesIO(b"x" * 1000))
    assert store.get("a/b/stream.bin") == b"x" * 1000
    assert store.list_keys("a/b") == ["a/b/hello.txt", "a/b/stream.bin"]
    store.delete("a/b/hello.txt")
    assert not store.exists("a/b/hello.txt")
    with pytest.raises(ObjectMissing):
        store.get("a/b/hello.txt")
    assert store.delete_prefix("a/") == 1
    assert store.list_keys("a") == []


def test_a_prefix_is_a_path_not_a_string_start(store: ObjectStorage) -> None:
    for key in ("sib/5/a.txt", "sib/5/b/c.txt", "sib/50/d.txt", "sib/5x.txt"):
        store.put(key, key.encode())
    assert store.list_keys("sib/5") == ["sib/5/a.txt", "sib/5/b/c.txt"]
    assert store.list_keys("sib/5/") == ["sib/5/a.txt", "sib/5/b/c.txt"]
    assert store.list_keys("sib/5x.txt") == ["sib/5x.txt"]  # one object named exactly
    assert store.list_keys("sib/5x") == []
    assert store.delete_prefix("sib/5") == 2
    assert store.list_keys("sib") == ["sib/50/d.txt", "sib/5x.txt"]  # the neighbours are untouched
    assert store.delete_prefix("sib") == 2


def test_put_file_and_download(store: ObjectStorage, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(bytes(range(256)) * 100)
    store.put_file("files/src.bin", src)
    dest = tmp_path / "dest.bin"
    store.download("files/src.bin", dest)
    assert dest.read_bytes() == src.read_bytes()
    with pytest.raises(ObjectMissing):
        store.download("files/missing.bin", tmp_path / "nope")


@pytest.mark.parametrize("key", ["../escape", "/abs", "a//b", "a/./b", ""])
def test_rejects_keys_that_escape(store: ObjectStorage, key: str) -> None:
    with pytest.raises(StorageError):
        store.put(key, b"x")


def test_presigned_put_then_get_over_http(store: ObjectStorage) -> None:
    put_url = store.presigned_put_url("signed/obj.bin", expires=300)
    body = b"\x00\x01 presigned body \xff" * 50
    r = requests.put(put_url, data=body, timeout=10)
    assert r.status_code == 200, r.text
    get_url = store.presigned_get_url("signed/obj.bin", expires=300)
    r = requests.get(get_url, timeout=10)
    assert r.status_code == 200
    assert r.content == body
    r = requests.get(get_url, headers={"Range": "bytes=0-3"}, timeout=10)
    assert r.status_code == 206
    assert r.content == body[:4]


def test_presigned_url_for_another_key_is_refused(store: ObjectStorage) -> None:
    store.put("signed/secret.txt", b"secret")
    url = store.presigned_get_url("signed/secret.txt", expires=300)
    tampered = url.replace("signed/secret.txt", "signed/secret.tx1")
    assert requests.get(tampered, timeout=10).status_code in (403, 404)


def test_local_presigned_url_with_tampered_signature_or_expiry_is_refused(local_store: LocalStorage) -> None:
    # Only for our own signer: moto's S3 server does not verify signatures unless IAM auth is enabled,
    # and real S3 checking its own signatures is not ours to test.
    local_store.put("signed/secret.txt", b"secret")
    url = local_store.presigned_get_url("signed/secret.txt", expires=300)
    assert requests.get(url, timeout=10).status_code == 200
    head, _, tail = url.partition("sig=")
    flipped = head + "sig=" + ("0" if tail[0] != "0" else "1") + tail[1:]
    assert requests.get(flipped, timeout=10).status_code == 403
    later = url.replace("exp=", "exp=9")
    assert requests.get(later, timeout=10).status_code == 403
    expired = local_store.presigned_get_url("signed/secret.txt", expires=-1)
    assert requests.get(expired, timeout=10).status_code == 403


def test_three_part_multipart_upload_through_presigned_parts(store: ObjectStorage) -> None:
    key = "uploads/big.bin"
    parts_data = [b"A" * MIN_PART_SIZE, b"B" * MIN_PART_SIZE, b"C" * 1234]
    upload_id = store.create_multipart(key, content_type="video/mp4")
    etags = []
    for n, data in enumerate(parts_data, start=1):
        url = store.presigned_part_url(key, upload_id, n, expires=300)
        r = requests.put(url, data=data, timeout=30)
        assert r.status_code == 200, r.text
        etags.append((n, r.headers["ETag"].strip('"')))
    listed = store.list_parts(key, upload_id)
    assert [(p.number, p.size) for p in listed] == [(1, MIN_PART_SIZE), (2, MIN_PART_SIZE), (3, 1234)]
    assert not store.exists(key)  # nothing visible before completion
    store.complete_multipart(key, upload_id, etags)
    assert store.size(key) == 2 * MIN_PART_SIZE + 1234
    data = store.get(key)
    assert data[:3] == b"AAA"
    assert data[MIN_PART_SIZE : MIN_PART_SIZE + 3] == b"BBB"
    assert data.endswith(b"C" * 1234)


def test_multipart_resume_lists_received_parts_and_abort_discards(store: ObjectStorage) -> None:
    key = "uploads/aborted.bin"
    upload_id = store.create_multipart(key)
    store.upload_part(key, upload_id, 1, b"Z" * MIN_PART_SIZE)
    # A client that lost its connection asks what arrived, then continues from there.
    assert [p.number for p in store.list_parts(key, upload_id)] == [1]
    store.abort_multipart(key, upload_id)
    with pytest.raises(ObjectMissing):
        store.list_parts(key, upload_id)
    assert not store.exists(key)


def test_complete_with_wrong_etag_fails(store: ObjectStorage) -> None:
    key = "uploads/wrong-etag.bin"
    upload_id = store.create_multipart(key)
    store.upload_part(key, upload_id, 1, b"only part")
    with pytest.raises(StorageError):
        store.complete_multipart(key, upload_id, [(1, "0" * 32)])
    store.abort_multipart(key, upload_id)


def test_ping(store: ObjectStorage) -> None:
    store.ping()


def test_local_public_url_serves_only_public_prefix(local_store: LocalStorage) -> None:
    local_store.put("public/videos/1/poster.jpg", b"jpeg")
    local_store.put("private/raw.mp4", b"raw")
    assert requests.get(local_store.public_url("public/videos/1/poster.jpg"), timeout=10).content == b"jpeg"
    assert requests.get(local_store.public_url("private/raw.mp4"), timeout=10).status_code == 404


def test_s3_bucket_lets_the_site_upload_and_play_from_the_browser(s3_store: S3Storage) -> None:
    # moto's server answers every preflight itself, so the stored rule is what is checked here.
    site = "https://m.xinglian.example"
    s3_store.allow_browser_origin([site])
    rule = s3_store.client.get_bucket_cors(Bucket=s3_store.bucket)["CORSRules"][0]
    assert rule["AllowedOrigins"] == [site]
    assert set(rule["AllowedMethods"]) == {"GET", "HEAD", "PUT"}
    assert "ETag" in rule["ExposeHeaders"]

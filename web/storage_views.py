"""HTTP face of the local-directory store: presigned GET/PUT and multipart parts, public objects.

Only registered when STORAGE_URL is a directory; on S3 clients talk to S3 directly.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, request, send_file

from core import extensions
from core.storage import StorageError
from core.storage.local import LocalStorage
from web.auth import signed_request

bp = Blueprint("storage", __name__, url_prefix="/storage")

PUBLIC_PREFIX = "public/"


def _store() -> LocalStorage:
    store = extensions.storage()
    assert isinstance(store, LocalStorage)
    return store


def _verified(op: str, key: str, extra: str = "") -> None:
    try:
        exp = int(request.args.get("exp", "0"))
    except ValueError:
        abort(403)
    if not _store().verify(op, key, exp, request.args.get("sig", ""), extra):
        abort(403)


def _serve(key: str, *, filename: str | None = None, max_age: int = 0) -> Response:
    try:
        path = _store().path_for(key)
    except StorageError:
        abort(404)
    if not path.is_file():
        abort(404)
    resp = send_file(path, conditional=True, download_name=filename, as_attachment=bool(filename), max_age=max_age)
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


@bp.get("/o/<path:key>")
def get_object(key: str) -> Response:
    filename = request.args.get("filename")
    _verified("get", key, filename or "")
    return _serve(key, filename=filename)


@bp.put("/o/<path:key>")
@signed_request
def put_object(key: str) -> Response:
    _verified("put", key)
    try:
        _store().put(key, request.stream)
    except StorageError:
        abort(400)
    return Response(status=200)


@bp.put("/part/<path:key>")
@signed_request
def put_part(key: str) -> Response:
    upload_id = request.args.get("upload_id", "")
    try:
        part = int(request.args.get("part", "0"))
    except ValueError:
        abort(400)
    _verified("part", key, f"{upload_id}:{part}")
    try:
        etag = _store().upload_part(key, upload_id, part, request.get_data())
    except (StorageError, KeyError):
        abort(404)
    resp = Response(status=200)
    resp.headers["ETag"] = f'"{etag}"'
    resp.headers["Access-Control-Expose-Headers"] = "ETag"
    return resp


@bp.get("/public/<path:key>")
def public_object(key: str) -> Response:
    # Renditions and posters are public content; everything else needs a signature.
    if not key.startswith(PUBLIC_PREFIX):
        abort(404)
    return _serve(key, max_age=3600)

"""Comments over HTTP: read signed out, write and remove signed in, clear errors (422, 401, 403, 404, 429 with
Retry-After), replays of one Idempotency-Key post once, and the endpoints in the OpenAPI document."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from media import comments
from media.models import Video
from tests import factories
from tests.web.test_auth import token_for


def test_comment_over_http(client: FlaskClient, db_session: Session) -> None:
    creator, fan, other = (factories.user(db_session, artist=True), factories.user(db_session),
                           factories.user(db_session))  # fmt: skip
    video = factories.video(db_session, uploader=creator)
    url = f"/api/v1/videos/{video.id}/comments"
    fan_h, other_h = token_for(client, fan), token_for(client, other)

    keys = iter(range(100))

    def post(body: str, headers: dict[str, str]) -> TestResponse:
        return client.post(url, json={"body": body}, headers={**headers, "Idempotency-Key": f"k{next(keys)}"})

    assert post("匿名", {}).status_code == 401
    blank = post("   ", fan_h)
    assert blank.status_code == 422
    assert blank.headers["Content-Type"] == "application/problem+json"
    assert [e["field"] for e in blank.get_json()["errors"]] == ["body"]
    assert post("长" * 301, fan_h).status_code == 422
    assert client.post(url, json={"body": "没有键"}, headers=fan_h).status_code == 422  # writes carry a key

    key = {**fan_h, "Idempotency-Key": "comment-1"}
    first = client.post(url, json={"body": "<img src=x onerror=alert(1)>好看"}, headers=key)
    assert first.status_code == 201, first.get_json()
    replay = client.post(url, json={"body": "<img src=x onerror=alert(1)>好看"}, headers=key)
    assert replay.get_json() == first.get_json()  # the retry of a flaky network posts once
    made = first.get_json()
    assert made["body"] == "<img src=x onerror=alert(1)>好看"
    assert made["removable"] is True
    assert db_session.get(Video, video.id).comment_count == 1  # type: ignore[union-attr]

    listed = client.get(url).get_json()  # signed out
    assert [(c["id"], c["author_id"], c["removable"]) for c in listed["items"]] == [(made["id"], fan.id, False)]
    assert listed["next_cursor"] is None
    assert client.get("/api/v1/videos/999999/comments").status_code == 404

    assert client.delete(f"/api/v1/comments/{made['id']}", headers=other_h).status_code == 403
    assert client.delete(f"/api/v1/comments/{made['id']}", headers=fan_h).status_code == 204
    assert client.get(url).get_json()["items"] == []
    assert client.delete("/api/v1/comments/999999", headers=fan_h).status_code == 404

    for i in range(comments.BURST):
        assert post(f"第{i}条", other_h).status_code == 201
    flood = post("刷屏", other_h)
    assert flood.status_code == 429
    assert flood.headers["Retry-After"] == "60"
    assert flood.get_json()["code"] == "comment_too_fast"


def test_comment_endpoints_are_documented(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert set(paths["/api/v1/videos/{video_id}/comments"]) == {"get", "post"}
    assert set(paths["/api/v1/comments/{comment_id}"]) == {"delete"}
    assert "429" in paths["/api/v1/videos/{video_id}/comments"]["post"]["responses"]

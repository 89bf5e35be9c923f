"""The review queue over HTTP: admins only, each decision in words, the creator's side of it."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from media.models import ReviewState
from moderation import review
from moderation.review import ReviewPolicy
from tests import factories
from tests.factories import bearer


def _held(db_session: Session) -> tuple[int, int, object]:
    creator = factories.user(db_session, artist=True)
    video = factories.video(db_session, uploader=creator, review_state=ReviewState.PENDING, title="夏日穿搭")
    review.screen(db_session, video.id, ReviewPolicy())
    items, _ = review.queue(db_session, factories.user(db_session, admin=True))
    return next(i.id for i in items if i.video_id == video.id), video.id, creator


def test_admins_see_the_queue_and_the_review_with_its_reason_in_words(client: FlaskClient, db_session: Session) -> None:
    item_id, video_id, _ = _held(db_session)
    admin = bearer(db_session, factories.user(db_session, admin=True))
    queue = client.get("/api/v1/admin/review-queue?lang=en", headers=admin).get_json()["items"]
    mine = next(i for i in queue if i["id"] == item_id)
    assert mine["reason"] == "new_uploader"
    assert mine["reason_text"] == "A new account's video, reviewed before it goes public"
    assert mine["public_while_reviewed"] is False
    detail = client.get(f"/api/v1/admin/review-queue/{item_id}", headers=admin).get_json()
    assert detail["video"]["id"] == video_id
    assert detail["review_state"] == "held"
    assert detail["owner"]["history"]["videos"] == 1
    assert [a["action"] for a in detail["actions"]] == ["screen_held"]


def test_nobody_else_reaches_the_queue_or_decides(client: FlaskClient, db_session: Session) -> None:
    item_id, _, creator = _held(db_session)
    for headers in ({}, bearer(db_session, factories.user(db_session)), bearer(db_session, creator)):  # type: ignore[arg-type]
        assert client.get("/api/v1/admin/review-queue", headers=headers).status_code in (401, 403)
        assert client.get(f"/api/v1/admin/review-queue/{item_id}", headers=headers).status_code in (401, 403)
        r = client.post(f"/api/v1/admin/review-queue/{item_id}/decision", json={"decision": "approve"}, headers=headers)
        assert r.status_code in (401, 403)
        assert client.get("/api/v1/admin/audit", headers=headers).status_code in (401, 403)
        hold = client.post("/api/v1/admin/holds/1/decision", json={"approve": True, "reason": "x"}, headers=headers)
        assert hold.status_code in (401, 403)
        ban = client.post(f"/api/v1/admin/users/{creator.id}/ban", json={"reason": "x"}, headers=headers)  # type: ignore[attr-defined]
        assert ban.status_code in (401, 403)


def test_a_rejection_needs_a_reason_and_the_creator_reads_it(client: FlaskClient, db_session: Session) -> None:
    item_id, video_id, creator = _held(db_session)
    admin = bearer(db_session, factories.user(db_session, admin=True))
    url = f"/api/v1/admin/review-queue/{item_id}/decision"
    missing = client.post(url, json={"decision": "reject"}, headers={**admin, "Accept-Language": "en"})
    assert missing.status_code == 422
    assert missing.get_json()["errors"][0]["message"] == "Say why when you reject or ask for changes"
    ok = client.post(url, json={"decision": "request_changes", "reason": "标题与内容不符"}, headers=admin)
    assert ok.status_code == 200
    assert ok.get_json()["decision"] == "request_changes"
    again = client.post(url, json={"decision": "approve"}, headers=admin)
    assert (again.status_code, again.get_json()["code"]) == (409, "review_decided")
    as_creator = bearer(db_session, creator)  # type: ignore[arg-type]
    mine = client.get(f"/api/v1/videos/{video_id}", headers=as_creator).get_json()
    assert (mine["review_state"], mine["review_note"], mine["is_live"]) == (
        "changes_requested",
        "标题与内容不符",
        False,
    )
    assert client.get(f"/api/v1/videos/{video_id}").status_code == 404  # not public
    resubmitted = client.post(f"/api/v1/videos/{video_id}/resubmit", headers=as_creator)
    assert resubmitted.get_json()["review_state"] == "held"
    audit = client.get(f"/api/v1/admin/audit?subject_type=video&subject_id={video_id}", headers=admin).get_json()
    assert [a["action"] for a in audit["items"]] == ["resubmit", "request_changes", "screen_held"]


def test_a_banned_account_can_no_longer_upload_comment_share_or_sign_in(
    client: FlaskClient, db_session: Session
) -> None:
    artist = factories.user(db_session, artist=True)
    video = factories.video(db_session, uploader=factories.user(db_session, artist=True))
    as_artist = bearer(db_session, artist)
    admin = bearer(db_session, factories.user(db_session, admin=True))
    comment = {"body": "好看"}
    first = client.post(
        f"/api/v1/videos/{video.id}/comments", json=comment, headers={**as_artist, "Idempotency-Key": "c1"}
    )
    assert first.status_code == 201, first.get_json()
    banned = client.post(f"/api/v1/admin/users/{artist.id}/ban", json={"reason": "刷单"}, headers=admin)
    assert banned.get_json()["is_active"] is False
    upload = {"size": 1000, "content_type": "video/mp4", "checksum_sha256": "0" * 64, "title": "t", "filename": "a.mp4"}
    share = {"target": "video", "target_id": video.id}
    for url, body in (("/api/v1/uploads", upload), (f"/api/v1/videos/{video.id}/comments", comment),
                      ("/api/v1/share-links", share)):  # fmt: skip
        r = client.post(url, json=body, headers={**as_artist, "Idempotency-Key": url})
        assert r.status_code == 401, (url, r.get_json())
    r = client.post("/api/v1/auth/login", json={"email": artist.email, "password": factories.PASSWORD})
    assert r.get_json()["code"] == "account_disabled"
    # The ban is in the log with its reason; an admin cannot be banned, not even by another admin.
    log = client.get(f"/api/v1/admin/audit?subject_type=user&subject_id={artist.id}", headers=admin).get_json()
    assert [(a["action"], a["reason"]) for a in log["items"]] == [("ban", "刷单")]
    other_admin = factories.user(db_session, admin=True)
    assert (
        client.post(f"/api/v1/admin/users/{other_admin.id}/ban", json={"reason": "x"}, headers=admin).status_code == 403
    )

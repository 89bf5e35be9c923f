"""Feed cards count comments from the video's row, so a new comment shows at once, before any re-index."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from media import comments
from search.backends.embedded import EmbeddedEngine
from tests import factories
from tests.search.test_feed import make_video


def test_feed_cards_show_the_exact_comment_count(
    db_session: Session, search_engine: EmbeddedEngine, index_now: Callable[[], None], client: FlaskClient
) -> None:
    creator, fan = factories.user(db_session, artist=True), factories.user(db_session)
    video = make_video(db_session, creator, title="有评论")
    quiet = make_video(db_session, factories.user(db_session, artist=True), title="没评论")
    index_now()

    def counts() -> dict[int, int]:
        return {v["id"]: v["comments"] for v in client.get("/api/v1/feed?limit=10").get_json()["items"]}

    assert counts() == {video.id: 0, quiet.id: 0}
    kept = comments.add_comment(db_session, fan, video.id, "第一")
    comments.add_comment(db_session, creator, video.id, "谢谢")
    assert counts() == {video.id: 2, quiet.id: 0}  # nothing re-indexed in between
    comments.remove_comment(db_session, fan, kept.comment.id)
    assert counts() == {video.id: 1, quiet.id: 0}

"""/search, /suggest and /hashtags over the API: Chinese, English and mixed queries, facets, highlight, filters."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.outbox import emit
from media.models import Video
from search.backends.embedded import EmbeddedEngine
from tests import factories


def publish(s: Session, creator: User, title: str, *, hashtags: list[str], views: int = 0, **kw: object) -> Video:
    v = factories.video(s, uploader=creator, title=title, hashtags=hashtags, **kw)
    if views:
        factories.video_stats(s, v, views=views)
    emit(s, "video", v.id)
    emit(s, "artist", creator.id)
    return v


@pytest.fixture
def catalog(db_session: Session, search_engine: EmbeddedEngine, index_now: Callable[[], None]) -> dict[str, Video]:
    lu = factories.user(db_session, artist=True, display_name="小鹿 Lulu")
    jie = factories.user(db_session, artist=True, display_name="阿杰")
    hua = factories.brand(db_session, name="花西子")
    li = factories.brand(db_session, name="李宁")
    videos = {
        "lipstick": publish(
            db_session, lu, "平价口红推荐 黄皮显白", hashtags=["口红", "美妆"], views=900, brand_id=hua.id
        ),
        "powder": publish(db_session, lu, "花西子散粉 <定妆> 测评", hashtags=["美妆"], views=300, brand_id=hua.id),
        "shoes": publish(
            db_session, jie, "Running shoes review 李宁跑鞋", hashtags=["跑步", "运动"], views=500, brand_id=li.id
        ),
        "hoodie": publish(db_session, jie, "Oversized hoodie outfit", hashtags=["穿搭"], views=50),
        "pocket": publish(db_session, jie, "红色口袋妖怪卡牌开箱", hashtags=["开箱"], views=5000),
    }
    index_now()
    return videos


def titles(body: dict[str, object]) -> list[str]:
    return [v["title"] for v in body["videos"]]  # type: ignore[index, union-attr]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("口红", ["lipstick"]),
        ("口红推荐", ["lipstick"]),
        ("running", ["shoes"]),
        ("shoe", ["shoes"]),
        ("李宁 running", ["shoes"]),
        ("HOODIE outfits", ["hoodie"]),
        ("美妆", ["lipstick", "powder"]),  # hashtags are searchable text too
        ("小鹿", ["lipstick", "powder"]),  # and the creator's name
    ],
)
def test_search_chinese_english_and_mixed(
    client: FlaskClient, catalog: dict[str, Video], q: str, expected: list[str]
) -> None:
    r = client.get("/api/v1/search", query_string={"q": q})
    body = r.get_json()
    assert r.status_code == 200, body
    assert sorted(v["id"] for v in body["videos"]) == sorted(catalog[k].id for k in expected)
    assert body["total"] == len(expected)


def test_search_highlights_matches_escaped(client: FlaskClient, catalog: dict[str, Video]) -> None:
    body = client.get("/api/v1/search", query_string={"q": "散粉"}).get_json()
    assert body["videos"][0]["highlight"]["title"] == "花西子<em>散粉</em> &lt;定妆&gt; 测评"
    assert body["videos"][0]["title"] == "花西子散粉 <定妆> 测评"  # the raw title stays raw


def test_search_facets_filters_and_sorts(client: FlaskClient, catalog: dict[str, Video]) -> None:
    everything = client.get("/api/v1/search", query_string={"sort": "popular"}).get_json()
    assert [v["id"] for v in everything["videos"]] == [
        catalog[k].id for k in ("pocket", "lipstick", "shoes", "powder", "hoodie")
    ]
    assert {b["key"]: b["count"] for b in everything["facets"]["brand"]} == {"花西子": 2, "李宁": 1}
    one_brand = client.get("/api/v1/search", query_string={"brand": "李宁"}).get_json()
    assert [v["id"] for v in one_brand["videos"]] == [catalog["shoes"].id]
    assert {b["key"]: b["count"] for b in one_brand["facets"]["brand"]} == {"花西子": 2, "李宁": 1}  # still all brands
    assert {b["key"] for b in one_brand["facets"]["hashtag"]} == {"跑步", "运动"}
    two = client.get("/api/v1/search", query_string=[("brand", "李宁"), ("brand", "花西子"), ("sort", "latest")])
    assert two.get_json()["total"] == 3
    tagged = client.get("/api/v1/search", query_string={"q": "测评", "hashtag": "美妆"}).get_json()
    assert [v["id"] for v in tagged["videos"]] == [catalog["powder"].id]
    paged = client.get("/api/v1/search", query_string={"sort": "popular", "limit": 2, "offset": 2}).get_json()
    assert [v["id"] for v in paged["videos"]] == [catalog["shoes"].id, catalog["powder"].id]
    assert paged["next_offset"] == 4


def test_search_artists(client: FlaskClient, catalog: dict[str, Video]) -> None:
    body = client.get("/api/v1/search", query_string={"q": "lulu", "type": "artists"}).get_json()
    assert [a["name"] for a in body["artists"]] == ["小鹿 Lulu"]
    assert body["artists"][0]["videos"] == 2
    assert body["artists"][0]["highlight"]["name"] == "小鹿 <em>Lulu</em>"


def test_suggest_completes_titles_hashtags_and_names(client: FlaskClient, catalog: dict[str, Video]) -> None:
    r = client.get("/api/v1/suggest", query_string={"q": "口"})
    assert [s["text"] for s in r.get_json()] == ["口红"]
    got = client.get("/api/v1/suggest", query_string={"q": "平价"}).get_json()
    assert got == [{"text": "平价口红推荐 黄皮显白", "kind": "video", "id": catalog["lipstick"].id}]
    assert client.get("/api/v1/suggest", query_string={"q": "小鹿"}).get_json()[0]["kind"] == "artist"
    assert (
        client.get("/api/v1/suggest", query_string={"q": "ru"}).get_json()[0]["text"] == "Running shoes review 李宁跑鞋"
    )
    assert client.get("/api/v1/suggest").status_code == 422


def test_hashtag_page(client: FlaskClient, catalog: dict[str, Video]) -> None:
    body = client.get("/api/v1/hashtags/美妆", query_string={"limit": 1}).get_json()
    assert body["tag"] == "美妆"
    assert body["total"] == 2
    assert [v["id"] for v in body["videos"]] == [catalog["lipstick"].id]  # most viewed first
    assert body["related"] == [{"key": "口红", "count": 1, "label": None}]
    more = client.get("/api/v1/hashtags/美妆", query_string={"limit": 1, "cursor": body["next_cursor"]}).get_json()
    assert [v["id"] for v in more["videos"]] == [catalog["powder"].id]
    latest = client.get("/api/v1/hashtags/%23美妆", query_string={"sort": "latest"}).get_json()
    assert [v["id"] for v in latest["videos"]] == [catalog["powder"].id, catalog["lipstick"].id]
    assert client.get("/api/v1/hashtags/无人问津").get_json()["total"] == 0


@pytest.mark.parametrize(
    "params",
    [
        {"q": "x" * 101},
        {"limit": 0},
        {"limit": 51},
        {"offset": -1},
        {"sort": "random"},
        {"type": "everything"},
    ],
)
def test_search_rejects_bad_parameters(
    client: FlaskClient, catalog: dict[str, Video], params: dict[str, object]
) -> None:
    r = client.get("/api/v1/search", query_string=params)
    assert r.status_code == 422, r.get_json()


def test_search_works_before_anything_was_indexed(client: FlaskClient, search_engine: EmbeddedEngine) -> None:
    for index in search_engine.indexes("videos"):
        search_engine.delete_index(index)
    body = client.get("/api/v1/search", query_string={"q": "口红"}).get_json()
    assert body["total"] == 0
    assert body["videos"] == []
    assert client.get("/api/v1/feed").get_json() == {"items": [], "next_cursor": None}

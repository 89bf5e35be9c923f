"""The booking API end to end over HTTP: briefs, matches, invitations, steps with Idempotency-Key, inboxes,
notifications, profiles with self-declared numbers labelled, and clear errors for bad input."""

from __future__ import annotations

import datetime as dt
import itertools

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from core import clock
from tests.commerce.booking.conftest import Market
from tests.commerce.catalog.helpers import bearer, problem_fields

_keys = itertools.count(1)


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"k-{next(_keys)}"}


def brief(market: Market, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "title": "秋冬底妆种草",
        "category": "beauty.makeup",
        "product_ids": [p.id for p in market.products],
        "budget_min_fen": 100_000,
        "budget_max_fen": 300_000,
        "deadline": (clock.now() + dt.timedelta(days=10)).isoformat(),
        "audience_ages": ["18-23"],
        "must_hashtags": ["秋冬底妆"],
        "status": "open",
    }
    body.update(overrides)
    return body


def test_brief_to_agreed_fee_over_http(client: FlaskClient, db_session: Session, market: Market) -> None:
    brand, artist = bearer(client, market.owner), bearer(client, market.artist)
    assert client.patch("/api/v1/me/artist-profile", json={"tags": ["底妆"]}, headers=artist).status_code == 200
    r = client.post(f"/api/v1/brands/{market.brand.id}/campaigns", json=brief(market), headers=brand)
    assert r.status_code == 201, r.get_json()
    campaign = r.get_json()
    r = client.get(f"/api/v1/campaigns/{campaign['id']}/matches", headers=brand)
    assert r.status_code == 200, r.get_json()
    page = r.get_json()
    assert page["total"] == 2
    top = page["items"][0]
    assert [p["key"] for p in top["parts"]] == ["content", "audience", "price", "sales", "reliability"]
    assert round(sum(p["points"] for p in top["parts"]), 1) == top["score"]
    assert all(p["explanation"] for p in top["parts"])
    assert top["artist"]["id"] == market.artist.id  # within budget; the other artist's ¥3500 is over ¥3000
    assert top["artist"]["tags"] == ["底妆"]
    r = client.post(f"/api/v1/campaigns/{campaign['id']}/invitations", json={"artist_id": market.artist.id},
                    headers={**brand, **key()})  # fmt: skip
    assert r.status_code == 201, r.get_json()
    booking = r.get_json()
    assert (booking["state"], booking["fee_fen"], booking["turn"]) == ("invited", 200_000, "artist")
    assert booking["your_actions"] == ["cancel"]

    inbox = client.get("/api/v1/bookings?side=artist&my_turn=true", headers=artist).get_json()
    assert [b["id"] for b in inbox["items"]] == [booking["id"]]
    assert inbox["items"][0]["your_actions"] == ["quote", "accept", "decline"]
    notes = client.get("/api/v1/notifications", headers=artist).get_json()
    assert notes["unread"] == 1
    assert notes["items"][0]["text"] == "花西子 邀请你参与「秋冬底妆种草」，出价 ¥2000.00"
    en = client.get("/api/v1/notifications?lang=en", headers=artist).get_json()
    assert en["items"][0]["text"] == "花西子 invited you to “秋冬底妆种草” for ¥2000.00"

    url = f"/api/v1/bookings/{booking['id']}"
    r = client.post(f"{url}/quote", json={"fee_fen": 250_000, "expected_version": 1}, headers={**artist, **key()})
    assert r.status_code == 200, r.get_json()
    stale = client.post(f"{url}/accept", json={"expected_version": 1}, headers={**brand, **key()})
    assert stale.status_code == 409
    assert stale.get_json()["code"] == "booking_changed"
    k = key()
    r = client.post(f"{url}/accept", json={"expected_version": 2}, headers={**brand, **k})
    assert r.status_code == 200, r.get_json()
    replay = client.post(f"{url}/accept", json={"expected_version": 2}, headers={**brand, **k})
    assert replay.headers.get("Idempotent-Replayed") == "true"
    detail = client.get(url, headers=artist).get_json()
    assert detail["state"] == "accepted"
    assert [(e["action"], e["party"], e["fee_fen"]) for e in detail["timeline"]] == [
        ("invite", "brand", 200_000),
        ("quote", "artist", 250_000),
        ("accept", "brand", None),
    ]
    assert client.post("/api/v1/notifications/read", json={}, headers=artist).get_json()["unread"] == 0


def test_steps_need_the_right_party_and_an_idempotency_key(client: FlaskClient, market: Market) -> None:
    brand, artist2 = bearer(client, market.owner), bearer(client, market.artist2)
    c = client.post(f"/api/v1/brands/{market.brand.id}/campaigns", json=brief(market), headers=brand).get_json()
    b = client.post(f"/api/v1/campaigns/{c['id']}/invitations", json={"artist_id": market.artist.id},
                    headers={**brand, **key()}).get_json()  # fmt: skip
    url = f"/api/v1/bookings/{b['id']}"
    assert client.post(f"{url}/accept", json={}, headers=brand).status_code == 422  # no Idempotency-Key
    r = client.post(f"{url}/accept", json={}, headers={**brand, **key()})
    assert (r.status_code, r.get_json()["code"]) == (403, "booking_not_your_move")
    assert client.post(f"{url}/accept", json={}, headers={**artist2, **key()}).status_code == 404
    assert client.get(url, headers=artist2).status_code == 404
    assert client.post(f"{url}/pay", json={}, headers={**brand, **key()}).status_code == 404  # not a person's step
    r = client.post(f"{url}/approve", json={}, headers={**brand, **key()})
    assert (r.status_code, r.get_json()["code"]) == (409, "booking_bad_state")


def test_bad_briefs_get_one_error_per_field(client: FlaskClient, market: Market) -> None:
    brand = bearer(client, market.owner)
    r = client.post(
        f"/api/v1/brands/{market.brand.id}/campaigns",
        json=brief(market, budget_min_fen=500_000, audience_regions=["火星"], deadline="2020-01-01T00:00:00Z"),
        headers=brand,
    )
    assert r.status_code == 422
    assert {f: e["code"] for f, e in problem_fields(r).items()} == {
        "budget_max_fen": "budget_inverted",
        "audience_regions.0": "unknown_region",
        "deadline": "deadline_in_past",
    }
    r = client.post(f"/api/v1/brands/{market.brand.id}/campaigns", json={"title": 5}, headers=brand)
    assert r.status_code == 422
    assert {"title", "category", "budget_min_fen", "deadline"} <= set(problem_fields(r))


def test_profiles_label_self_declared_numbers_apart_from_measured_ones(client: FlaskClient, market: Market) -> None:
    artist = bearer(client, market.artist)
    r = client.patch(
        "/api/v1/me/artist-profile",
        json={"bio": "底妆测评", "declared_followers": 5_000_000, "rates": {"s20": 120_000, "s60plus": None},
              "region": "CN-GD", "tags": ["#测评"]},
        headers=artist,
    )  # fmt: skip
    assert r.status_code == 200, r.get_json()
    body = client.get(f"/api/v1/artists/{market.artist.id}").get_json()
    assert body["self_declared"] == {"label": "自报", "followers": 5_000_000, "avg_views": None, "note": ""}
    assert body["measured"] is None  # nothing measured until the metrics job ran
    assert body["rates"] == {"s20": 120_000, "s60": 200_000}
    assert body["tags"] == ["测评"]
    assert client.get(f"/api/v1/artists/{market.artist.id}?lang=en").get_json()["self_declared"]["label"] == (
        "self-declared"
    )
    r = client.patch("/api/v1/me/artist-profile", json={"rates": {"s20": 1}, "region": "XX"}, headers=artist)
    assert r.status_code == 422
    assert set(problem_fields(r)) == {"rates.s20", "region"}
    viewer = bearer(client, market.viewer)
    assert client.patch("/api/v1/me/artist-profile", json={"bio": "x"}, headers=viewer).status_code == 403
    assert client.get(f"/api/v1/artists/{market.viewer.id}").status_code == 404


def test_viewers_share_and_withdraw_their_traits(client: FlaskClient, market: Market) -> None:
    viewer = bearer(client, market.viewer)
    r = client.put("/api/v1/me/audience-traits", json={"age_band": "24-30", "region": "CN-SH"}, headers=viewer)
    assert r.get_json()["age_band"] == "24-30"
    assert client.put("/api/v1/me/audience-traits", json={"region": "CN-ZZ"}, headers=viewer).status_code == 422
    assert client.delete("/api/v1/me/audience-traits", headers=viewer).status_code == 204
    assert client.get("/api/v1/me/audience-traits", headers=viewer).get_json()["age_band"] is None


def test_booking_endpoints_are_documented(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path, method in [
        ("/api/v1/brands/{brand_id}/campaigns", "post"),
        ("/api/v1/campaigns/{campaign_id}/matches", "get"),
        ("/api/v1/campaigns/{campaign_id}/invitations", "post"),
        ("/api/v1/campaigns/{campaign_id}/applications", "post"),
        ("/api/v1/bookings", "get"),
        ("/api/v1/bookings/{booking_id}/{action}", "post"),
        ("/api/v1/artists/{artist_id}", "get"),
        ("/api/v1/artists/{artist_id}/similar", "get"),
        ("/api/v1/me/artist-profile", "patch"),
        ("/api/v1/notifications", "get"),
        ("/api/v1/booking/options", "get"),
    ]:
        assert method in paths.get(path, {}), (path, method)
    step = paths["/api/v1/bookings/{booking_id}/{action}"]["post"]
    action = next(p for p in step["parameters"] if p["name"] == "action")
    assert "fund" in action["schema"]["enum"]
    assert "pay" not in action["schema"]["enum"]

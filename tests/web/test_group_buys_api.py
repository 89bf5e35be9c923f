"""拼团 over HTTP: the brand offers, a buyer opens, a friend follows the share link to the group and joins; every
refusal in both languages; bad input is a 4xx with sentences, never a 500."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.commerce.conftest import START
from tests.commerce.money import Market
from tests.factories import bearer
from tests.web.test_money_api import ADDRESS


def offer_body(m: Market, **kw: Any) -> dict[str, Any]:
    body = {"sku_id": m.sku.id, "price_fen": 6_000, "group_size": 2, "window_hours": 24,
            "starts_at": START.isoformat(), "ends_at": (START + dt.timedelta(days=3)).isoformat()}  # fmt: skip
    body.update(kw)
    return body


def create(m: Market, client: FlaskClient, lang: str = "zh-CN", **kw: Any) -> Any:
    return client.post(f"/api/v1/brands/{m.brand.id}/group-buys", json=offer_body(m, **kw),
                       headers={**bearer(m.session, m.owner), "Accept-Language": lang})  # fmt: skip


def as_user(m: Market, user: Any, lang: str = "zh-CN") -> dict[str, str]:
    return {**bearer(m.session, user), "Accept-Language": lang}


def test_a_group_from_offer_to_share_link_to_join_over_http(m: Market, client: FlaskClient) -> None:
    r = create(m, client, member_limit=2)
    assert r.status_code == 201, r.get_json()
    offer = r.get_json()
    assert (offer["price_fen"], offer["group_size"], offer["window_seconds"], offer["member_limit"]) == (
        6_000, 2, 86_400, 2)  # fmt: skip
    listed = client.get(f"/api/v1/products/{m.product.id}/group-buys").get_json()  # what the product sheet asks
    assert [(x["id"], x["phase"], x["open_groups"]) for x in listed] == [(offer["id"], "live", [])]
    assert [x["id"] for x in client.get(f"/api/v1/videos/{m.video.id}/group-buys").get_json()] == [offer["id"]]
    mine = client.get(f"/api/v1/brands/{m.brand.id}/group-buys", headers=bearer(m.session, m.owner)).get_json()
    assert [x["id"] for x in mine] == [offer["id"]]

    opened = client.post(f"/api/v1/group-buys/{offer['id']}/groups", headers=as_user(m, m.sharer))
    assert opened.status_code == 201, opened.get_json()
    seat = opened.get_json()
    assert (seat["is_leader"], seat["status"], seat["price_fen"]) == (True, "seated", 6_000)
    group_id = seat["group_id"]
    status = client.get(f"/api/v1/group-buys/groups/{group_id}").get_json()  # anyone may look
    assert (status["members"], status["size"], status["paid"], status["phase"], status["seat"]) == (
        1, 2, 0, "open", None)  # fmt: skip
    listed = client.get(f"/api/v1/products/{m.product.id}/group-buys").get_json()
    assert [g["id"] for g in listed[0]["open_groups"]] == [group_id]

    # The leader's share link is the product's signed link with g=<group>: following it lands on the group page.
    link = client.post(f"/api/v1/group-buys/groups/{group_id}/share-link", headers=as_user(m, m.sharer))
    assert link.status_code == 201, link.get_json()
    url = link.get_json()["url"]
    assert url.endswith(f"?g={group_id}")
    assert "/s/" in url
    path = url[url.index("/s/") :]
    followed = client.get(path, headers=bearer(m.session, m.buyer))
    assert followed.status_code == 302
    assert followed.headers["Location"].startswith(f"/group/{group_id}?click=")
    page = client.get(followed.headers["Location"], headers=bearer(m.session, m.buyer))
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert f'data-group-id="{group_id}"' in text
    assert "data-group-members>1/2<" in text
    # A `g` that is not a group of the link's product is ignored: the product page as usual.
    stray = client.get(path.replace(f"g={group_id}", "g=99999999999999999999"))
    assert stray.status_code == 302
    assert stray.headers["Location"].startswith(f"/p/{m.product.id}")

    joined = client.post(f"/api/v1/group-buys/groups/{group_id}/join", headers=as_user(m, m.buyer))
    assert joined.status_code == 201, joined.get_json()
    assert joined.get_json()["is_leader"] is False
    for lang, title in (("zh-CN", "您已在这个团里"), ("en", "You are already in this group")):
        again = client.post(f"/api/v1/group-buys/groups/{group_id}/join", headers=as_user(m, m.buyer, lang))
        assert (again.status_code, again.get_json()["code"], again.get_json()["title"]) == (
            409, "group_already_joined", title)  # fmt: skip
    full = client.post(f"/api/v1/group-buys/groups/{group_id}/join", headers=as_user(m, m.upstream, "en"))
    assert (full.status_code, full.get_json()["code"], full.get_json()["title"]) == (
        409, "group_full", "This group is full")  # fmt: skip

    # The member's checkout page and the checkout itself are at the group price.
    page = client.get(f"/checkout?product={m.product.id}&sku={m.sku.id}&qty=5", headers=bearer(m.session, m.buyer))
    text = page.get_data(as_text=True)
    assert "¥60.00 <s>¥100.00</s>" in text
    assert 'data-quantity="2"' in text  # the offer's units per member
    assert "拼团价：成团后发货" in text
    over = client.post("/api/v1/checkouts", json={"items": [{"sku_id": m.sku.id, "quantity": 3}], "address": ADDRESS},
                       headers={**as_user(m, m.buyer, "en"), "Idempotency-Key": "gb-0"})  # fmt: skip
    assert over.status_code == 422
    assert "At most 2 per member at the group price" in str(over.get_json())
    r = client.post("/api/v1/checkouts", json={"items": [{"sku_id": m.sku.id, "quantity": 1}], "address": ADDRESS},
                    headers={**bearer(m.session, m.buyer), "Idempotency-Key": "gb-1"})  # fmt: skip
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["total"] == 6_000
    mine = client.get(f"/api/v1/group-buys/groups/{group_id}", headers=bearer(m.session, m.buyer)).get_json()
    assert (mine["members"], mine["seat"]["status"]) == (2, "ordered")


def test_offers_are_for_brand_members_and_bad_terms_are_422_in_both_languages(m: Market, client: FlaskClient) -> None:
    r = client.post(f"/api/v1/brands/{m.brand.id}/group-buys", json=offer_body(m), headers=bearer(m.session, m.buyer))
    assert r.status_code == 403
    assert client.post(f"/api/v1/brands/{m.brand.id}/group-buys", json=offer_body(m)).status_code == 401
    r = create(m, client, price_fen=10_000)
    assert r.status_code == 422
    assert (r.get_json()["errors"][0]["code"], r.get_json()["errors"][0]["message"]) == (
        "group_price_too_high", "拼团价须低于商品原价")  # fmt: skip
    en = create(m, client, "en", group_size=51).get_json()
    assert en["errors"][0]["field"] == "group_size"
    assert "The group size" in en["errors"][0]["message"]
    r = create(m, client, ends_at=(START - dt.timedelta(hours=1)).isoformat())
    assert r.status_code == 422
    assert create(m, client, sku_id=99_999_999).status_code == 404


@pytest.mark.parametrize(
    "change",
    [
        {"price_fen": 2**70},
        {"sku_id": 2**64},
        {"group_size": 1},
        {"group_size": "three"},
        {"window_hours": 0},
        {"window_hours": 10**30},
        {"member_limit": 11},
        {"starts_at": "tomorrow"},
        {"starts_at": "2026-12-07T08:00:00"},  # no time zone
        {"sku_id": "1\x00"},
        {"starts_at": "2026-12-07T08:00:00+00:00\x00"},
        {"surprise": True},
    ],
)
def test_bad_offer_input_is_a_4xx_with_sentences(m: Market, client: FlaskClient, change: dict[str, Any]) -> None:
    r = create(m, client, **change)
    assert 400 <= r.status_code < 500, r.get_data(as_text=True)
    problem = r.get_json()
    assert problem["errors"], problem
    assert all(e["message"] for e in problem["errors"])


def test_open_join_and_status_refuse_strangers_and_unknown_groups(m: Market, client: FlaskClient) -> None:
    offer = create(m, client).get_json()
    assert client.post(f"/api/v1/group-buys/{offer['id']}/groups").status_code == 401
    assert client.post("/api/v1/group-buys/groups/1/join").status_code == 401
    assert client.post("/api/v1/group-buys/groups/1/share-link").status_code == 401
    assert client.post("/api/v1/group-buys/99999999/groups", headers=bearer(m.session, m.buyer)).status_code == 404
    assert client.post("/api/v1/group-buys/groups/99999999/join", headers=bearer(m.session, m.buyer)).status_code == 404
    assert client.get("/api/v1/group-buys/groups/99999999").status_code == 404
    huge = client.get(f"/api/v1/group-buys/groups/{2**70}")
    assert huge.status_code == 404
    r = client.post(f"/api/v1/group-buys/{offer['id']}/groups", data="\x00", content_type="application/json",
                    headers=bearer(m.session, m.buyer))  # fmt: skip
    assert r.status_code < 500


def test_the_brands_group_buy_page_is_for_members(m: Market, client: FlaskClient) -> None:
    create(m, client, group_size=3)
    page = client.get(f"/brand/{m.brand.id}/group-buys", headers=bearer(m.session, m.owner))
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "data-groups>0/0/0<" in text.replace("</td>", "<")
    assert "data-campaign-charts" in text
    assert "3 人团" in text
    assert client.get(f"/brand/{m.brand.id}/group-buys", headers=bearer(m.session, m.buyer)).status_code == 403
    en = client.get(f"/brand/{m.brand.id}/group-buys?lang=en", headers=bearer(m.session, m.owner))
    assert "How group buys do" in en.get_data(as_text=True)
    assert client.get("/group/99999999").status_code == 404


def test_huge_numbers_and_nul_characters_are_named_in_sentences(m: Market, client: FlaskClient) -> None:
    r = create(m, client, price_fen=2**70)
    assert r.status_code == 422
    (error,) = r.get_json()["errors"]
    assert (error["field"], error["code"]) == ("price_fen", "int64_range")
    assert error["message"] == "价格超出了可以处理的范围"
    r = create(m, client, "en", starts_at="2026-12-07T08:00:00+00:00\x00")
    assert r.status_code == 422
    (error,) = r.get_json()["errors"]
    assert error["field"] == "starts_at"  # not a time (the NUL makes it none)
    assert error["message"].startswith("The start time")

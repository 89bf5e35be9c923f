"""Flash sales over HTTP: the brand schedules, buyers ask for admission, every refusal in both languages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask.testing import FlaskClient

from core.clock import FrozenClock
from tests.commerce.conftest import START
from tests.commerce.money import Market
from tests.factories import bearer
from tests.web.test_money_api import ADDRESS


def schedule(m: Market, client: FlaskClient, **kw: Any) -> Any:
    body = {"sku_id": m.sku.id, "price_fen": 3_900, "quantity": 1, "starts_at": (START + dt.timedelta(minutes=10)),
            "ends_at": START + dt.timedelta(hours=1)}  # fmt: skip
    body.update(kw)
    body = {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in body.items()}
    return client.post(f"/api/v1/brands/{m.brand.id}/flash-sales", json=body, headers=bearer(m.session, m.owner))


def admit(m: Market, client: FlaskClient, sale_id: int, user: Any, lang: str = "zh-CN", **body: Any) -> Any:
    return client.post(f"/api/v1/flash-sales/{sale_id}/admission", json=body,
                       headers={**bearer(m.session, user), "Accept-Language": lang})  # fmt: skip


def refused(ask: Any, code: str, zh: str, en: str) -> None:
    """`ask(lang)` is refused with 409 `code`, in Chinese by default and in English on request."""
    for lang, title in (("zh-CN", zh), ("en", en)):
        r = ask(lang)
        assert r.status_code == 409, r.get_json()
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert (r.get_json()["code"], r.get_json()["title"]) == (code, title)


def test_a_flash_sale_from_schedule_to_sold_out_over_http(m: Market, client: FlaskClient, clock: FrozenClock) -> None:
    r = schedule(m, client, quantity=2, per_user_limit=1)
    assert r.status_code == 201, r.get_json()
    sale = r.get_json()
    assert (sale["price_fen"], sale["quantity"]) == (3_900, 2)

    page = client.get(f"/api/v1/flash-sales/{sale['id']}")  # anyone may look
    assert page.status_code == 200
    assert (page.get_json()["phase"], page.get_json()["remaining"], page.get_json()["admission"]) == (
        "upcoming", 2, None)  # fmt: skip

    listed = client.get(f"/api/v1/products/{m.product.id}/flash-sales").get_json()  # what the product sheet asks
    assert [(x["id"], x["phase"], x["price_fen"]) for x in listed] == [(sale["id"], "upcoming", 3_900)]

    opens = START + dt.timedelta(minutes=10)
    refused(lambda lang: admit(m, client, sale["id"], m.buyer, lang), "not_started",
            f"秒杀尚未开始，请于 {opens.isoformat()} 再来",
            f"The flash sale has not started; it opens at {opens.isoformat()}")  # fmt: skip

    clock.advance(minutes=10)
    over = admit(m, client, sale["id"], m.buyer, quantity=2)
    assert over.status_code == 422
    assert over.get_json()["errors"][0]["code"] == "flash_sale_limit"
    assert "每人限购 1 件" in str(over.get_json())
    assert "At most 1 per buyer" in str(admit(m, client, sale["id"], m.buyer, "en", quantity=2).get_json())

    won = admit(m, client, sale["id"], m.buyer)
    assert won.status_code == 201, won.get_json()
    assert won.get_json()["admitted"] is True
    assert dt.datetime.fromisoformat(won.get_json()["pay_deadline"]) == START + dt.timedelta(minutes=15)

    refused(lambda lang: admit(m, client, sale["id"], m.buyer, lang), "already_admitted",
            "您已参与过本场秒杀，每人限抢一次", "You have already taken part in this flash sale")  # fmt: skip
    assert admit(m, client, sale["id"], m.artist).status_code == 201
    refused(lambda lang: admit(m, client, sale["id"], m.sharer, lang), "sold_out", "已抢光", "Sold out")

    mine = client.get(f"/api/v1/flash-sales/{sale['id']}", headers=bearer(m.session, m.buyer)).get_json()
    assert (mine["phase"], mine["remaining"], mine["admission"]["status"]) == ("sold_out", 0, "admitted")

    # The winner's checkout page already shows the sale price and the quantity admitted, with the deadline.
    page = client.get(f"/checkout?product={m.product.id}&sku={m.sku.id}&qty=3", headers=bearer(m.session, m.buyer))
    text = page.get_data(as_text=True)
    assert "¥39.00 <s>¥100.00</s>" in text
    assert 'data-quantity="1"' in text
    assert "秒杀价：请在 08:15:00 UTC 前提交并支付" in text
    other = client.get(f"/checkout?product={m.product.id}&sku={m.sku.id}", headers=bearer(m.session, m.sharer))
    assert "¥100.00" in other.get_data(as_text=True)
    assert "秒杀价" not in other.get_data(as_text=True)

    # The winner checks out through the ordinary checkout, at the sale price.
    r = client.post("/api/v1/checkouts", json={"items": [{"sku_id": m.sku.id, "quantity": 1}], "address": ADDRESS},
                    headers={**bearer(m.session, m.buyer), "Idempotency-Key": "flash-1"})  # fmt: skip
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["total"] == 3_900

    clock.advance(hours=1)
    assert client.get(f"/api/v1/products/{m.product.id}/flash-sales").get_json() == []  # ended: off the sheet
    refused(lambda lang: admit(m, client, sale["id"], m.upstream, lang), "sale_ended", "本场秒杀已结束",
            "This flash sale has ended")  # fmt: skip


def test_only_the_brand_schedules_and_bad_terms_are_422(m: Market, client: FlaskClient) -> None:
    body = {"sku_id": m.sku.id, "price_fen": 100, "quantity": 1, "starts_at": START.isoformat(),
            "ends_at": (START + dt.timedelta(hours=1)).isoformat()}  # fmt: skip
    r = client.post(f"/api/v1/brands/{m.brand.id}/flash-sales", json=body, headers=bearer(m.session, m.buyer))
    assert r.status_code == 403
    r = schedule(m, client, price_fen=20_000)
    assert r.status_code == 422
    assert r.get_json()["errors"][0]["code"] == "flash_price_too_high"
    r = schedule(m, client, quantity=11)
    assert (r.status_code, r.get_json()["code"]) == (409, "out_of_stock")
    r = schedule(m, client, ends_at=START - dt.timedelta(hours=1))
    assert r.status_code == 422
    assert client.get("/api/v1/flash-sales/999999").status_code == 404
    assert client.post("/api/v1/flash-sales/1/admission", json={}).status_code == 401
    assert admit(m, client, 999999, m.buyer).status_code == 404
    listed = client.get(f"/api/v1/brands/{m.brand.id}/flash-sales", headers=bearer(m.session, m.owner))
    assert listed.status_code == 200
    assert [x["id"] for x in listed.get_json()] == []


def test_a_videos_flash_sales_are_those_of_its_linked_products(
    m: Market, client: FlaskClient, clock: FrozenClock
) -> None:
    """What the feed's countdown card asks: the sales, not ended, of the products the video carries."""
    from tests import factories

    assert client.get(f"/api/v1/videos/{m.video.id}/flash-sales").get_json() == []
    sale = schedule(m, client, quantity=2).get_json()
    listed = client.get(f"/api/v1/videos/{m.video.id}/flash-sales").get_json()
    assert [(x["id"], x["phase"], x["remaining"], x["product_id"]) for x in listed] == [
        (sale["id"], "upcoming", 2, m.product.id)
    ]
    other = factories.video(m.session, uploader=m.artist)
    m.session.commit()
    assert client.get(f"/api/v1/videos/{other.id}/flash-sales").get_json() == []  # no linked product on sale
    clock.advance(hours=2)
    assert client.get(f"/api/v1/videos/{m.video.id}/flash-sales").get_json() == []  # ended: no card


def test_the_brands_flash_sale_page_is_for_members(m: Market, client: FlaskClient) -> None:
    schedule(m, client, quantity=2)
    page = client.get(f"/brand/{m.brand.id}/flash-sales", headers=bearer(m.session, m.owner))
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "data-left>2/2<" in text.replace("</td>", "<")
    assert "data-campaign-charts" in text
    assert client.get(f"/brand/{m.brand.id}/flash-sales", headers=bearer(m.session, m.buyer)).status_code == 403
    en = client.get(f"/brand/{m.brand.id}/flash-sales?lang=en", headers=bearer(m.session, m.owner))
    assert "How flash sales do" in en.get_data(as_text=True)


def test_a_brands_campaigns_of_every_kind_with_their_figures(m: Market, client: FlaskClient) -> None:
    sale = schedule(m, client, quantity=2).get_json()
    coupon = client.post(f"/api/v1/brands/{m.brand.id}/coupons", json={"kind": "amount", "value": 500, "name": "五元"},
                         headers=bearer(m.session, m.owner))  # fmt: skip
    assert coupon.status_code == 201, coupon.get_json()
    url = f"/api/v1/brands/{m.brand.id}/campaign-stats"
    rows = client.get(url, headers=bearer(m.session, m.owner)).get_json()
    assert [(r["kind"], r["campaign_id"], r["taken"], r["units_left"]) for r in rows] == [
        ("coupon", coupon.get_json()["id"], 0, None), ("flash_sale", sale["id"], 0, 2)]  # fmt: skip
    only = client.get(f"{url}?kind=flash_sale", headers=bearer(m.session, m.owner)).get_json()
    assert [r["kind"] for r in only] == ["flash_sale"]
    assert client.get(f"{url}?kind=nothing", headers=bearer(m.session, m.owner)).get_json() == []
    assert client.get(url, headers=bearer(m.session, m.buyer)).status_code == 403
    assert client.get(url).status_code == 401

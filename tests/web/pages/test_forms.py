"""Creator, brand and buyer forms in Chromium at a phone's size, in Chinese and English: what is refused is said
in sentences next to the field and in the form's summary, never as an API field path. An empty video title is
refused (no publishing as the file name); a negative price says so; a CSV import lists every bad cell of every
row with the valid category codes, then a good file confirms with counts; the processing ETA shows from the start
of processing; checkout's address and quantity errors name the field as people know it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.storage.local import LocalStorage
from tests import factories
from tests.browser import LiveServer, screenshot_path

pytestmark = [pytest.mark.browser]

# What the API calls its fields; a person must never see these.
PATHS = ("address.name", "address.phone", "items.0.quantity", "price_fen", "skus.0", "rows.", "list_price_fen")
WORDS = {
    "zh-CN": {
        "title_missing": "请填写视频标题（不会用文件名代替）",
        "negative": "价格不能为负数",
        "name_missing": "请填写收货人姓名",
        "city_missing": "请填写城市",
        "phone_bad": "收货人手机号太短",
        "over_stock": "第 1 件商品的数量超过了现有库存",
        "row3_price": "第 3 行：价格不能为负数",
        "row2_category": "第 2 行：没有「美妆/不存在」这个类目，请填写下方列出的类目编码",
        "row2_name": "第 2 行：请填写商品名称（name）",
        "row4_stock": "第 4 行：库存应为非负整数",
        "codes": "可用的类目编码：beauty.skincare（美妆/护肤）",
        "imported": "导入成功：商品新建 2、更新 0、未变跳过 0；规格新建 2、更新 0、未变跳过 0",
        "reimported": "导入成功：商品新建 0、更新 1、未变跳过 1；规格新建 0、更新 1、未变跳过 1",
        "eta": "预计还需 1 分 0 秒",
        "queued": "排队中",
    },
    "en": {
        "title_missing": "Give the video a title (the file name is not used instead)",
        "negative": "The price cannot be negative",
        "name_missing": "Recipient's name is required",
        "city_missing": "The city is required",
        "phone_bad": "Recipient's phone number is too short",
        "over_stock": "Quantity of item 1 is more than the stock left",
        "row3_price": "Row 3: The price cannot be negative",
        "row2_category": "Row 2: There is no category \u201c美妆/不存在\u201d; "
        "use one of the category codes listed below",
        "row2_name": "Row 2: Name (name) is required",
        "row4_stock": "Row 4: Stock must be a whole number, 0 or more",
        "codes": "Valid category codes: beauty.skincare (Beauty/Skincare)",
        "imported": "Imported: products: 2 created, 0 updated, 0 skipped (unchanged); "
        "SKUs: 2 created, 0 updated, 0 skipped (unchanged)",
        "reimported": "Imported: products: 0 created, 1 updated, 1 skipped (unchanged); "
        "SKUs: 0 created, 1 updated, 1 skipped (unchanged)",
        "eta": "about 1 min 0 s left",
        "queued": "Queued",
    },
}
LANGS = ["zh-CN", "en"]


@pytest.fixture
def phone(browser: Any, request: pytest.FixtureRequest) -> Iterator[Callable[[str], Any]]:
    """A phone-sized page whose browser speaks `lang`."""
    contexts: list[Any] = []

    def open_page(lang: str) -> Any:
        context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                      has_touch=True, locale=lang)  # fmt: skip
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def sign_in(page: Any, site: LiveServer, email: str) -> None:
    r = page.request.post(f"{site.url}/api/v1/auth/login", data={"email": email, "password": factories.PASSWORD})
    assert r.status == 200, r.text()


def no_paths(page: Any) -> None:
    text = page.locator("body").inner_text()
    for path in PATHS:
        assert path not in text, path


def field_error(page: Any, input_: Any) -> str:
    """The sentence shown next to `input_` (tied to it by aria-describedby)."""
    assert input_.get_attribute("aria-invalid") == "true"
    described = input_.get_attribute("aria-describedby")
    assert described
    return page.locator(f"#{described}").inner_text()


def people(site: LiveServer, tag: str) -> dict[str, Any]:
    with site.app.extensions["db"].session() as s:
        owner = factories.user(s, email=f"forms-owner-{tag}@example.com")
        brand = factories.brand(s, owner=owner, name=f"表单品牌{tag}")
        product = factories.product(s, brand=brand, name=f"表单商品{tag}", prices=(4900,))
        artist = factories.user(s, email=f"forms-artist-{tag}@example.com", artist=True)
        buyer = factories.user(s, email=f"forms-buyer-{tag}@example.com")
        s.commit()
        return {"owner": owner.email, "brand": brand.id, "product": product.id, "sku": product.skus[0].id,
                "artist": artist.email, "artist_id": artist.id, "buyer": buyer.email}  # fmt: skip


@pytest.mark.parametrize("lang", LANGS)
def test_an_empty_title_is_refused_and_the_file_name_is_not_used(
    site: LiveServer, phone: Callable[[str], Any], tmp_path: Path, lang: str
) -> None:
    who = people(site, f"title-{lang.lower()}")
    page = phone(lang)
    sign_in(page, site, who["artist"])
    starts: list[str] = []
    page.on("request", lambda r: starts.append(r.url) if r.method == "POST" and "/api/v1/uploads" in r.url else None)
    page.goto(f"{site.url}/studio")
    form = page.locator("form[data-studio-upload]")
    clip = tmp_path / "IMG_0042.mp4"
    clip.write_bytes(b"\x00" * 2048)
    form.locator("input[name=file]").set_input_files(str(clip))
    form.locator("input[name=title]").fill("   ")  # spaces only
    form.locator("button[type=submit]").click()
    w = WORDS[lang]
    summary = form.locator("[data-errors]")
    summary.get_by_text(w["title_missing"]).wait_for()
    assert field_error(page, form.locator("input[name=title]")) == w["title_missing"]
    assert starts == []  # nothing was sent: no video called "IMG_0042"
    no_paths(page)
    page.screenshot(path=screenshot_path(f"forms-studio-title-{lang}"), full_page=True)
    from sqlalchemy import select

    from media.models import Video

    with site.app.extensions["db"].session() as s:
        assert s.scalars(select(Video).where(Video.uploader_id == who["artist_id"])).all() == []


@pytest.mark.parametrize("lang", LANGS)
def test_a_negative_price_is_refused_with_the_right_sentence(
    site: LiveServer, phone: Callable[[str], Any], lang: str
) -> None:
    who = people(site, f"price-{lang.lower()}")
    page = phone(lang)
    sign_in(page, site, who["owner"])
    page.goto(f"{site.url}/brand/{who['brand']}/catalog")
    new = page.locator("form[data-api^='POST /api/v1/brands/']").first
    new.locator("input[name=name]").fill("负价商品")
    new.locator("select[name=category]").select_option("beauty.skincare")
    new.locator("input[name='skus.0.price_yuan']").fill("-5")
    new.locator("button").click()
    w = WORDS[lang]
    new.locator("[data-errors]").get_by_text(w["negative"]).wait_for()
    assert field_error(page, new.locator("input[name='skus.0.price_yuan']")) == w["negative"]
    no_paths(page)

    # The product page's SKU form says the same about its own price field.
    product_page = f"{site.url}/brand/{who['brand']}/products/{who['product']}"
    page.goto(product_page)
    sku = page.locator("[data-sku-id] form").first
    sku.locator("input[name=price_yuan]").fill("-0.01")
    sku.locator("button").click()
    sku.locator("[data-errors]").get_by_text(w["negative"]).wait_for()
    assert field_error(page, sku.locator("input[name=price_yuan]")) == w["negative"]
    no_paths(page)
    page.screenshot(path=screenshot_path(f"forms-negative-price-{lang}"), full_page=True)


HEADER = "product_code,name,category,status,description,sku_code,attributes,price,list_price,stock\n"


@pytest.mark.parametrize("lang", LANGS)
def test_a_csv_import_lists_every_bad_cell_and_the_category_codes_then_counts_a_good_one(
    site: LiveServer, phone: Callable[[str], Any], tmp_path: Path, lang: str
) -> None:
    who = people(site, f"csv-{lang.lower()}")
    page = phone(lang)
    sign_in(page, site, who["owner"])
    page.goto(f"{site.url}/brand/{who['brand']}/catalog")
    w = WORDS[lang]
    help_codes = page.locator("[data-category-codes]")
    help_codes.locator("summary").click()
    assert "beauty.skincare" in help_codes.inner_text()
    assert "food.snacks" in help_codes.inner_text()

    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + (
        "A-1,,美妆/不存在,active,,A-1-S,,10.00,,1\n"  # row 2: no name, an unknown category
        "B-1,乳液,beauty.skincare,active,,B-1-S,,-3.00,,1\n"  # row 3: a negative price
        "C-1,零食,food.snacks,active,,C-1-S,,5.00,,很多\n"  # row 4: stock is not a number
    ), encoding="utf-8")  # fmt: skip
    form = page.locator("form[data-done=import]")
    form.locator("input[type=file]").set_input_files(str(bad))
    form.locator("button").click()
    errors = form.locator("[data-errors]")
    errors.locator("li").first.wait_for()
    listed = errors.locator("li").all_inner_texts()
    assert set(listed) == {w["row2_name"], w["row2_category"], w["row3_price"], w["row4_stock"]}
    assert w["codes"] in errors.inner_text()
    assert "food.snacks" in errors.inner_text()
    no_paths(page)
    page.screenshot(path=screenshot_path(f"forms-csv-errors-{lang}"), full_page=True)

    good = tmp_path / "good.csv"
    good.write_text(HEADER + (
        "G-1,乳液,beauty.skincare,active,,G-1-S,,99.00,,3\n"
        "G-2,零食,食品/零食,draft,,G-2-S,,5.00,,10\n"
    ), encoding="utf-8")  # fmt: skip
    form.locator("input[type=file]").set_input_files(str(good))
    form.locator("button").click()
    result = form.locator("[data-result]")
    result.get_by_text(w["imported"]).wait_for()
    assert errors.inner_text() == ""
    page.locator("#products tr[data-product-id]", has_text="乳液").wait_for()  # the table shows them, no reload
    assert result.inner_text() == w["imported"]  # and the counts stay on screen

    again = tmp_path / "again.csv"
    again.write_text(good.read_text(encoding="utf-8").replace("99.00", "89.00"), encoding="utf-8")
    form.locator("input[type=file]").set_input_files(str(again))
    form.locator("button").click()
    result.get_by_text(w["reimported"]).wait_for()


def test_the_eta_shows_as_soon_as_processing_starts(
    site: LiveServer, phone: Callable[[str], Any], tmp_path: Path
) -> None:
    from media.processing import FIRST_ESTIMATE_SECONDS, ProcessingOptions, first_estimate, process_video
    from tests.media.clips import make_clip
    from tests.media.conftest import SMALL

    who = people(site, "eta")
    storage = site.app.extensions["storage"]
    assert isinstance(storage, LocalStorage)
    with site.app.extensions["db"].session() as s:
        from core.accounts.models import User

        artist = s.get(User, who["artist_id"])
        video = factories.uploaded_video(s, storage, uploader=artist, source=make_clip("no_audio", tmp_path),
                                         title="处理中的视频")  # fmt: skip
        s.commit()
        video_id = video.id
        assert first_estimate(s) == FIRST_ESTIMATE_SECONDS  # nothing has finished on this site yet

    pages = {lang: phone(lang) for lang in LANGS}
    for lang, page in pages.items():
        sign_in(page, site, who["artist"])
        page.goto(f"{site.url}/studio")
        line = page.locator(f"[data-processing-for='{video_id}'] [data-processing-text]")
        line.get_by_text(WORDS[lang]["queued"]).wait_for()

    # The worker claims the video and starts fetching the original; it waits there until the pages have looked.
    started, go_on = threading.Event(), threading.Event()

    class Held(LocalStorage):
        def download(self, key: str, dest: Path) -> None:
            started.set()
            assert go_on.wait(timeout=120)
            super().download(key, dest)

    held = Held(storage.root, secret=b"s" * 32, base_url=storage.base_url)
    options = ProcessingOptions.from_settings(site.app.config["SETTINGS"], pipeline=SMALL, work_dir=tmp_path / "w")
    outcome: list[Any] = []

    def work() -> None:
        with site.app.extensions["db"].session() as s:
            outcome.append(process_video(s, held, options, video_id).outcome)

    worker = threading.Thread(target=work)
    worker.start()
    try:
        assert started.wait(timeout=60)
        for lang, page in pages.items():
            line = page.locator(f"[data-processing-for='{video_id}'] [data-processing-text]")
            line.get_by_text(WORDS[lang]["eta"], exact=False).wait_for()  # 0 % done, yet an ETA
            assert "0%" in line.inner_text()
            page.screenshot(path=screenshot_path(f"forms-processing-eta-{lang}"), full_page=True)
    finally:
        go_on.set()
        worker.join(timeout=180)
    assert [o.value for o in outcome] == ["ready"]


@pytest.mark.parametrize("lang", LANGS)
def test_checkout_address_and_quantity_errors_are_sentences_not_paths(
    site: LiveServer, phone: Callable[[str], Any], lang: str
) -> None:
    who = people(site, f"checkout-{lang.lower()}")
    page = phone(lang)
    sign_in(page, site, who["buyer"])
    w = WORDS[lang]
    page.goto(f"{site.url}/checkout?product={who['product']}&sku={who['sku']}&qty=1")
    form = page.locator("#checkout-form")
    labels = ("收货人", "手机号", "省份", "城市", "区县", "详细地址") if lang == "zh-CN" else (
        "Recipient", "Phone", "Province", "City", "District", "Street address")  # fmt: skip
    for label, value in zip(labels, ("", "12", "浙江省", "", "西湖区", "文三路 1 号"), strict=True):
        form.get_by_label(label, exact=True).fill(value)
    form.get_by_role("button").click()
    summary = form.locator("[data-errors]")
    summary.get_by_text(w["name_missing"]).wait_for()
    assert field_error(page, form.get_by_label(labels[0], exact=True)) == w["name_missing"]
    assert field_error(page, form.get_by_label(labels[3], exact=True)) == w["city_missing"]
    assert field_error(page, form.get_by_label(labels[1], exact=True)) == w["phone_bad"]
    assert {w["name_missing"], w["city_missing"], w["phone_bad"]} <= set(summary.locator("li").all_inner_texts())
    no_paths(page)
    page.screenshot(path=screenshot_path(f"forms-checkout-address-{lang}"), full_page=True)

    # More than the stock: the sentence names the item, not "items.0.quantity".
    page.goto(f"{site.url}/checkout?product={who['product']}&sku={who['sku']}&qty=11")
    for label, value in zip(labels, ("韩梅梅", "13911112222", "浙江省", "杭州市", "西湖区", "文三路 1 号"),
                            strict=True):  # fmt: skip
        form.get_by_label(label, exact=True).fill(value)
    form.get_by_role("button").click()
    summary.get_by_text(w["over_stock"]).wait_for()
    assert form.locator("[aria-invalid]").count() == 0  # the address was fine this time
    no_paths(page)

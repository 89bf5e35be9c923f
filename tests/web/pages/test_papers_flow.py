"""Brand papers in Chromium at a phone viewport: a brand cannot put a lipstick on sale before its papers are
approved (and is told so in a sentence), submits its business licence and cosmetics qualification, an admin checks
them in the console (the document shown), and then the lipstick goes on sale."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests import factories
from tests.browser import LiveServer, live_server, screenshot_path
from tests.conftest import free_port, make_settings, migrate

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def papers_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, int]]:
    from web import create_app

    var: Path = tmp_path_factory.mktemp("papers-site")
    port, url = free_port(), f"sqlite:///{var / 'site.sqlite3'}"
    migrate(url)
    app = create_app(make_settings(var, database_url=url, public_base_url=f"http://127.0.0.1:{port}",
                                   qualifications_required=True))  # fmt: skip
    with app.extensions["db"].session() as s:
        owner = factories.user(s, email="owner@example.com")
        brand_id = factories.brand(s, owner=owner, name="花漾彩妆").id
        factories.user(s, email="admin@example.com", admin=True)
        s.commit()
    with live_server(app, port) as server:
        yield server, brand_id
    app.extensions["db"].dispose()


def _sign_in(page: Any, site: LiveServer, email: str, next_path: str) -> None:
    page.goto(f"{site.url}/login?next={next_path}")
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(factories.PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{site.url}{next_path}")


def _photo(tmp_path: Path, name: str) -> Path:
    out = io.BytesIO()
    Image.new("RGB", (600, 400), (200, 180, 160)).save(out, "PNG")
    path = tmp_path / name
    path.write_bytes(out.getvalue())
    return path


def _new_product(page: Any, name: str, category: str) -> Any:
    form = page.locator("form[data-api$='/products']")
    form.get_by_label("名称").fill(name)
    form.get_by_label("类目").select_option(category)
    form.get_by_label("售价（元）").fill("99")
    form.get_by_label("库存", exact=True).fill("10")
    form.get_by_label("立即上架").check()
    form.get_by_role("button", name="创建").click()
    return form


def test_a_brand_sells_cosmetics_once_its_papers_are_approved(
    papers_site: tuple[LiveServer, int], page: Any, tmp_path: Path
) -> None:
    site, brand_id = papers_site
    _sign_in(page, site, "owner@example.com", f"/brand/{brand_id}/catalog")
    form = _new_product(page, "丝绒雾面口红", "beauty.makeup")
    form.get_by_text(
        "这个类目的商品要先通过资质审核才能上架：请在品牌后台提交营业执照和化妆品经营资质"
    ).first.wait_for()
    page.screenshot(path=screenshot_path("brand-papers-needed"), full_page=True)

    page.goto(f"{site.url}/brand/{brand_id}/papers")
    paper = page.locator("form[data-upload]")
    for kind, number, name in (("营业执照", "91310000MA1K0001", "licence.png"),
                               ("化妆品经营资质", "沪妆 2026-0001", "cosmetics.png")):  # fmt: skip
        paper.get_by_label("资质类型").select_option(label=kind)
        paper.get_by_label("证照编号").fill(number)
        paper.get_by_label("证照照片或扫描件（JPG、PNG、PDF，10 MB 以内）").set_input_files(str(_photo(tmp_path, name)))
        paper.get_by_role("button", name="提交审核").click()
        page.locator("[data-papers] li", has_text=number).wait_for()
        paper = page.locator("form[data-upload]")
    assert page.locator("[data-papers] li[data-status=pending]").count() == 2
    # A file that is not a photo or a PDF is refused in words, and nothing is added.
    fake = tmp_path / "licence.png.exe"
    fake.write_bytes(b"MZ not an image")
    paper.get_by_label("证照编号").fill("X-1")
    paper.get_by_label("证照照片或扫描件（JPG、PNG、PDF，10 MB 以内）").set_input_files(str(fake))
    paper.get_by_role("button", name="提交审核").click()
    paper.get_by_text("请上传证照的照片（JPG、PNG）或 PDF 扫描件").first.wait_for()
    assert page.locator("[data-papers] li").count() == 2

    admin = page.context.browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    console = admin.new_page()
    _sign_in(console, site, "admin@example.com", "/admin/reviews")
    for number in ("91310000MA1K0001", "沪妆 2026-0001"):
        console.goto(f"{site.url}/admin/reviews")
        row = console.locator("[data-queue] li", has_text=number)
        assert "品牌提交的证照，待核验" in row.inner_text()
        row.get_by_role("link").click()
        assert console.locator("[data-licence]").inner_text() == number
        console.wait_for_function("() => document.querySelector('img.ad-doc').naturalWidth === 600")
        console.get_by_role("button", name="通过", exact=True).click()
        console.get_by_text("已通过，品牌可以上架该类目的商品").wait_for()
    console.screenshot(path=screenshot_path("admin-papers-approved"), full_page=True)
    admin.close()

    page.goto(f"{site.url}/brand/{brand_id}/papers")
    assert page.locator("[data-papers] li[data-status=approved]").count() == 2
    page.goto(f"{site.url}/brand/{brand_id}/catalog")
    _new_product(page, "丝绒雾面口红", "beauty.makeup")
    page.wait_for_url(f"**/brand/{brand_id}/products/*")
    product_id = page.url.rsplit("/", 1)[1].split("?")[0]
    product = page.evaluate("async (id) => (await (await fetch(`/api/v1/products/${id}`)).json())", product_id)
    assert product["status"] == "active"

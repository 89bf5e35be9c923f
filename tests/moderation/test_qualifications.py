"""Brand qualifications (资质审核): regulated categories go on sale only with approved papers; prohibited ones
never; documents are checked by their bytes, kept private, and reviewed in the queue like everything else."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from commerce.catalog import csv_io, products
from commerce.catalog.limits import CatalogLimits
from commerce.catalog.models import ProductStatus
from commerce.catalog.products import SkuSpec
from core import clock
from core.accounts.models import QualificationKind, QualificationStatus, User
from core.errors import PermissionDenied, ValidationFailed
from core.storage.local import LocalStorage
from moderation import qualifications, review
from moderation.models import Decision, Subject
from tests import factories

LIMITS = CatalogLimits()  # the shipped policy: papers required
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n" + b"0" * 64


@pytest.fixture
def store(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "objects", secret=b"test", base_url="http://cdn.test/storage")


def _brand(session: Session) -> tuple[User, int]:
    owner = factories.user(session)
    brand_id = factories.brand(session, owner=owner).id
    session.commit()  # to the test's SAVEPOINT: a refused operation rolls back, and must not take the brand
    return owner, brand_id


def _lipstick(session: Session, owner: User, brand_id: int, status: ProductStatus = ProductStatus.ACTIVE) -> object:
    return products.create_product(session, owner, brand_id, name="丝绒口红", category="beauty.makeup", status=status,
                                   skus=[SkuSpec(price_fen=9900, stock=5)], limits=LIMITS)  # fmt: skip


def _submit(session: Session, store: LocalStorage, owner: User, brand_id: int, kind: QualificationKind) -> int:
    doc = qualifications.submit(session, store, owner, brand_id, kind=kind, licence_number="91310000MA1K",
                                expires_on=clock.now().date() + dt.timedelta(days=365), data=PNG)  # fmt: skip
    return doc.id


def _decide(session: Session, admin: User, doc_id: int, decision: Decision, reason: str = "") -> None:
    items, _ = review.queue(session, admin, limit=100)
    item = next(i for i in items if i.subject_type is Subject.QUALIFICATION and i.subject_id == doc_id)
    review.decide(session, admin, item.id, decision, reason)


def test_a_regulated_product_goes_on_sale_only_once_both_papers_are_approved(
    db_session: Session, store: LocalStorage
) -> None:
    owner, brand_id = _brand(db_session)
    admin = factories.user(db_session, admin=True)
    db_session.commit()
    with pytest.raises(ValidationFailed) as err:
        _lipstick(db_session, owner, brand_id)
    assert err.value.fields[0].code == "qualification_required"
    assert "营业执照和化妆品经营资质" in err.value.fields[0].render("zh-CN")["message"]
    draft = _lipstick(db_session, owner, brand_id, ProductStatus.DRAFT)  # drafts need nothing
    licence = _submit(db_session, store, owner, brand_id, QualificationKind.BUSINESS_LICENCE)
    cosmetics = _submit(db_session, store, owner, brand_id, QualificationKind.COSMETICS)
    _decide(db_session, admin, licence, Decision.APPROVE)
    with pytest.raises(ValidationFailed) as still:
        products.update_product(db_session, owner, draft.id, status=ProductStatus.ACTIVE, limits=LIMITS)  # type: ignore[attr-defined]
    assert "business licence" not in still.value.fields[0].render("en")["message"]
    assert "cosmetics qualification" in still.value.fields[0].render("en")["message"]
    _decide(db_session, admin, cosmetics, Decision.APPROVE)
    on_sale = products.update_product(db_session, owner, draft.id, status=ProductStatus.ACTIVE, limits=LIMITS)  # type: ignore[attr-defined]
    assert on_sale.status is ProductStatus.ACTIVE
    # Clothes were never regulated: a brand with no papers sells them.
    other, other_brand = _brand(db_session)
    shirt = products.create_product(db_session, other, other_brand, name="衬衫", category="apparel.men",
                                    status=ProductStatus.ACTIVE, skus=[SkuSpec(price_fen=100, stock=1)],
                                    limits=LIMITS)  # fmt: skip
    assert shirt.status is ProductStatus.ACTIVE


def test_a_rejected_or_expired_paper_does_not_count(db_session: Session, store: LocalStorage) -> None:
    owner, brand_id = _brand(db_session)
    admin = factories.user(db_session, admin=True)
    db_session.commit()
    licence = _submit(db_session, store, owner, brand_id, QualificationKind.BUSINESS_LICENCE)
    food = _submit(db_session, store, owner, brand_id, QualificationKind.FOOD)
    _decide(db_session, admin, licence, Decision.APPROVE)
    _decide(db_session, admin, food, Decision.REJECT, "证照模糊，请重新拍摄")
    docs = {d.id: d for d in qualifications.of_brand(db_session, owner, brand_id)}
    assert (docs[food].status, docs[food].review_note) == (QualificationStatus.REJECTED, "证照模糊，请重新拍摄")
    tea = dict(name="红茶", category="food.drinks", status=ProductStatus.ACTIVE, skus=[SkuSpec(price_fen=100, stock=1)])
    with pytest.raises(ValidationFailed):
        products.create_product(db_session, owner, brand_id, limits=LIMITS, **tea)  # type: ignore[arg-type]
    _decide(db_session, admin, _submit(db_session, store, owner, brand_id, QualificationKind.FOOD), Decision.APPROVE)
    assert products.create_product(db_session, owner, brand_id, limits=LIMITS, **tea).status is ProductStatus.ACTIVE  # type: ignore[arg-type]
    later = clock.FrozenClock(clock.now() + dt.timedelta(days=400))
    with clock.use_clock(later), pytest.raises(ValidationFailed):  # the papers ran out
        products.create_product(db_session, owner, brand_id, limits=LIMITS, **{**tea, "name": "绿茶"})  # type: ignore[arg-type]


def test_prohibited_categories_are_refused_by_name(db_session: Session) -> None:
    owner, brand_id = _brand(db_session)
    with pytest.raises(ValidationFailed) as err:
        products.create_product(db_session, owner, brand_id, name="电子烟", category="tobacco.ecig", limits=LIMITS)
    assert err.value.fields[0].render("zh-CN")["message"].endswith("「烟草及电子烟」属于禁售类目，不能在星炼销售")
    csv = "商品编码,商品名称,类目,SKU编码,售价\nP1,烟弹,电子烟,S1,10\nP2,止痛药,处方药,S2,10\n".encode()
    with pytest.raises(ValidationFailed) as bad:
        csv_io.import_catalog(db_session, owner, brand_id, csv, limits=LIMITS)
    said = [e.render("en")["message"] for e in bad.value.fields]
    assert any("Tobacco and e-cigarettes may not be sold on xinglian" in m for m in said)
    assert any("Prescription drugs may not be sold on xinglian" in m for m in said)


def test_the_csv_import_says_which_rows_need_papers(db_session: Session) -> None:
    owner, brand_id = _brand(db_session)
    csv = (
        "商品编码,商品名称,类目,状态,SKU编码,售价\nP1,面霜,beauty.skincare,在售,S1,10\nP2,衬衫,apparel.men,在售,S2,10\n"
    )
    with pytest.raises(ValidationFailed) as bad:
        csv_io.import_catalog(db_session, owner, brand_id, csv.encode(), limits=LIMITS)
    rows = [(e.extra or {}).get("row") for e in bad.value.fields if e.code == "qualification_required"]
    assert rows == [2]


def test_documents_are_told_by_their_bytes_and_kept_private(db_session: Session, store: LocalStorage) -> None:
    owner, brand_id = _brand(db_session)
    submit = dict(kind=QualificationKind.BUSINESS_LICENCE, licence_number="9131", expires_on=None)
    for data, code in ((b"GIF89a...", "qualification_file_type"),
                       (PDF + b"0" * (10 * 1024 * 1024), "qualification_file_size")):  # fmt: skip
        with pytest.raises(ValidationFailed) as err:
            qualifications.submit(db_session, store, owner, brand_id, data=data, **submit)  # type: ignore[arg-type]
        assert err.value.fields[0].code == code
    with pytest.raises(ValidationFailed):
        qualifications.submit(db_session, store, owner, brand_id, data=PDF,
                              **{**submit, "expires_on": clock.now().date() - dt.timedelta(days=1)})  # type: ignore[arg-type]  # fmt: skip
    doc = qualifications.submit(db_session, store, owner, brand_id, data=PDF, **submit)  # type: ignore[arg-type]
    assert (doc.content_type, doc.document_key.startswith(f"qualifications/{brand_id}/")) == ("application/pdf", True)
    assert not doc.document_key.startswith("public/")
    assert store.get(doc.document_key) == PDF


def test_only_the_brand_submits_and_never_reviews_its_own_papers(db_session: Session, store: LocalStorage) -> None:
    owner, brand_id = _brand(db_session)
    with pytest.raises(PermissionDenied):
        _submit(db_session, store, factories.user(db_session), brand_id, QualificationKind.BUSINESS_LICENCE)
    doc = _submit(db_session, store, owner, brand_id, QualificationKind.BUSINESS_LICENCE)
    owner.is_admin = True  # an admin who is also the brand's owner
    db_session.flush()
    with pytest.raises(PermissionDenied):
        _decide(db_session, owner, doc, Decision.APPROVE)

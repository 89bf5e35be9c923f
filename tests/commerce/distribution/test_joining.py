"""Joining a brand's programme: signed invite links with a QR code, approval, staff import, nothing to pay."""

from __future__ import annotations

import datetime as dt

import pytest

from commerce.distribution import service
from commerce.distribution.models import DistributorStatus, Programme
from core.clock import FrozenClock
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests.commerce.distribution.helpers import BASE, LIMITS, join, open_programme
from tests.commerce.money import LINK_KEYS, Market


def test_programme_has_no_fee_or_joining_reward_anywhere() -> None:
    columns = {c.name for c in Programme.__table__.columns}
    assert not {c for c in columns if any(w in c for w in ("fee", "reward", "deposit", "bonus", "price"))}


def test_rates_stay_inside_the_affiliate_bounds(market: Market) -> None:
    m = market
    with pytest.raises(ValidationFailed) as too_high:
        service.set_terms(m.session, m.owner, m.brand.id, binding_days=15, default_rate_bp=LIMITS.rate_max_bp + 1,
                          limits=LIMITS)  # fmt: skip
    assert [f.field for f in too_high.value.fields] == ["default_rate_bp"]
    with pytest.raises(ValidationFailed) as bad:
        service.set_terms(m.session, m.owner, m.brand.id, binding_days=0, default_rate_bp=1000, level2_share_bp=6000,
                          rates=[(m.product.id, 10)], limits=LIMITS)  # fmt: skip
    assert {f.field for f in bad.value.fields} == {"binding_days", "level2_share_bp", "product_rates.0.rate_bp"}
    terms = service.set_terms(m.session, m.owner, m.brand.id, binding_days=20, default_rate_bp=800,
                              rates=[(m.product.id, 1200)], limits=LIMITS)  # fmt: skip
    assert terms.rates == {m.product.id: 1200}
    assert terms.binding_days == 20
    with pytest.raises(PermissionDenied):
        service.set_terms(m.session, m.sharer, m.brand.id, binding_days=15, default_rate_bp=800, limits=LIMITS)


def test_invite_link_accept_and_approve(market: Market, frozen: FrozenClock) -> None:
    m = market
    open_programme(m)
    link = service.create_invite(m.session, m.owner, m.brand.id, keys=LINK_KEYS, base_url=BASE)
    assert link.url.startswith(BASE + service.INVITE_PATH)
    assert link.qr_svg.lstrip().startswith("<?xml")
    assert "<svg" in link.qr_svg
    assert link.expires_at - frozen.now() == dt.timedelta(days=7)
    preview = service.preview_invite(m.session, link.token, keys=LINK_KEYS)
    assert preview.brand.id == m.brand.id
    assert preview.inviter is None
    d = service.accept_invite(m.session, m.sharer, link.token, keys=LINK_KEYS, store="静安店", region="上海")
    assert d.status == DistributorStatus.PENDING
    assert d.inviter_id is None
    assert service.accept_invite(m.session, m.sharer, link.token, keys=LINK_KEYS).id == d.id  # once
    with pytest.raises(PermissionDenied):
        service.pick(m.session, m.sharer, d.id, m.product.id)  # not approved yet
    service.decide(m.session, m.owner, m.brand.id, d.id, status=DistributorStatus.APPROVED)
    service.pick(m.session, m.sharer, d.id, m.product.id)
    shop = service.shop(m.session, d.id, keys=LINK_KEYS, base_url=BASE)
    assert [i.product.id for i in shop.items] == [m.product.id]
    assert "/s/" in shop.items[0].share_url
    service.decide(m.session, m.owner, m.brand.id, d.id, status=DistributorStatus.SUSPENDED)
    with pytest.raises(NotFound):
        service.shop(m.session, d.id, keys=LINK_KEYS, base_url=BASE)


def test_invites_expire_and_cannot_be_forged(market: Market, frozen: FrozenClock) -> None:
    m = market
    open_programme(m)
    link = service.create_invite(m.session, m.owner, m.brand.id, keys=LINK_KEYS, base_url=BASE)
    forged = link.token[:-2] + ("AA" if not link.token.endswith("AA") else "BB")
    with pytest.raises(ValidationFailed) as invalid:
        service.accept_invite(m.session, m.sharer, forged, keys=LINK_KEYS)
    assert invalid.value.fields[0].code == "distribution_invite_invalid"
    frozen.advance(seconds=dt.timedelta(days=7, minutes=1).total_seconds())
    with pytest.raises(ValidationFailed) as expired:
        service.accept_invite(m.session, m.sharer, link.token, keys=LINK_KEYS)
    assert expired.value.fields[0].code == "distribution_invite_expired"


def test_a_distributor_invites_their_downline_and_members_cannot_join(market: Market) -> None:
    m = market
    open_programme(m, level2_bp=2000)
    upline = join(m, m.upstream)
    down = join(m, m.sharer, inviter=m.upstream)
    assert down.inviter_id == upline.id
    pending = join(m, m.buyer, approve=False)
    with pytest.raises(PermissionDenied):
        service.create_invite(m.session, m.buyer, m.brand.id, keys=LINK_KEYS, base_url=BASE)
    assert pending.status == DistributorStatus.PENDING
    link = service.create_invite(m.session, m.owner, m.brand.id, keys=LINK_KEYS, base_url=BASE)
    with pytest.raises(Conflict):
        service.accept_invite(m.session, m.owner, link.token, keys=LINK_KEYS)


def test_staff_import_reuses_the_catalog_reader(market: Market) -> None:
    m = market
    open_programme(m)
    m.buyer.phone = "13900000001"
    m.session.commit()
    bad = f"手机号,邮箱,门店,区域\n13900000001,,徐汇店,上海\n,nobody@example.com,静安店,上海\n,{m.buyer.email},x,y\n"
    with pytest.raises(ValidationFailed) as failed:
        service.import_staff(m.session, m.owner, m.brand.id, bad.encode("gb18030"), limits=LIMITS)
    assert failed.value.code == "distribution_import_failed"
    assert [(f.extra or {}).get("row") for f in failed.value.fields] == [3, 4]
    assert service.list_distributors(m.session, m.owner, m.brand.id) == []  # all or nothing
    good = f"phone,email,store,region\n13900000001,,徐汇店,上海\n,{m.sharer.email},静安店,上海\n"
    summary = service.import_staff(m.session, m.owner, m.brand.id, ("\ufeff" + good).encode(), limits=LIMITS)
    assert (summary.created, summary.updated) == (2, 0)
    rows = service.list_distributors(m.session, m.owner, m.brand.id)
    assert {(r.user.id, r.distributor.store, r.distributor.status) for r in rows} == {
        (m.buyer.id, "徐汇店", DistributorStatus.APPROVED),
        (m.sharer.id, "静安店", DistributorStatus.APPROVED),
    }

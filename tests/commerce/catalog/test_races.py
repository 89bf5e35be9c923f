"""Concurrent writers on PostgreSQL: one open offer per product, never more cards than the limit."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from commerce.catalog import affiliate, links
from commerce.catalog.limits import CatalogLimits
from commerce.catalog.links import LinkSpec
from commerce.catalog.models import AffiliateOffer, VideoProduct
from core.accounts.models import User
from core.db import Database
from core.errors import DomainError
from tests import factories

pytestmark = pytest.mark.postgres
LIMITS = CatalogLimits(require_qualifications=False)  # papers: tests/moderation/test_qualifications.py


def run_together(db: Database, calls: list[Callable[..., object]]) -> list[object]:
    """Run each call in its own thread and session, released at the same moment; results or errors."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def worker(i: int) -> None:
        with db.session() as session:
            barrier.wait()
            try:
                results[i] = calls[i](session)
            except DomainError as exc:
                results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def test_concurrent_rate_changes_leave_one_open_version(committed_db: Database) -> None:
    with committed_db.session() as s:
        owner = factories.user(s)
        brand = factories.brand(s, owner=owner)
        product = factories.product(s, brand=brand)
        s.commit()
        owner_id, product_id = owner.id, product.id

    def change(rate: int) -> Callable[..., object]:
        def call(session) -> object:  # type: ignore[no-untyped-def]
            user = session.get(User, owner_id)
            return affiliate.set_offer(session, user, product_id, artist_rate_bp=rate, limits=LIMITS)

        return call

    results = run_together(committed_db, [change(1000 + i * 100) for i in range(4)])
    assert not [r for r in results if isinstance(r, DomainError)]
    with committed_db.session() as s:
        offers = list(s.scalars(select(AffiliateOffer).where(AffiliateOffer.product_id == product_id)))
        assert len(offers) == 4
        assert sum(1 for o in offers if o.effective_to is None) == 1
        # The versions tile time: each closes exactly when the next opens.
        ordered = sorted(offers, key=lambda o: o.effective_from)
        assert all(a.effective_to == b.effective_from for a, b in itertools.pairwise(ordered))


def test_concurrent_adds_never_exceed_the_card_limit(committed_db: Database) -> None:
    with committed_db.session() as s:
        owner = factories.user(s)
        brand = factories.brand(s, owner=owner)
        video = factories.video(s, uploader=owner, brand_id=brand.id)
        items = [factories.product(s, brand=brand) for _ in range(LIMITS.video_max_products + 2)]
        s.commit()
        owner_id, video_id = owner.id, video.id
        ids = [p.id for p in items]
    with committed_db.session() as s:
        user = s.get(User, owner_id)
        links.set_links(s, user, video_id, [LinkSpec(p) for p in ids[: LIMITS.video_max_products - 1]], limits=LIMITS)

    def add(product_id: int) -> Callable[..., object]:
        def call(session) -> object:  # type: ignore[no-untyped-def]
            return links.add_link(session, session.get(User, owner_id), video_id, LinkSpec(product_id), limits=LIMITS)

        return call

    results = run_together(committed_db, [add(ids[-2]), add(ids[-1])])
    failures = [r for r in results if isinstance(r, DomainError)]
    assert len(failures) == 1
    assert failures[0].fields[0].code == "too_many_products"
    with committed_db.session() as s:
        count = s.scalar(select(func.count()).select_from(VideoProduct).where(VideoProduct.video_id == video_id))
        assert count == LIMITS.video_max_products

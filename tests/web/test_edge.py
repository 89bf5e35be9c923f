"""Numbers in a page's query string that no BIGINT holds are no numbers: the view never hands them to a query."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests import factories
from web.edge import int64

PAST_64_BITS = [str(2**63), str(10**20), str(-(2**63) - 1)]


def test_int64_takes_what_a_bigint_holds() -> None:
    assert [int64(raw) for raw in ("12", "-3", str(2**63 - 1), str(-(2**63)))] == [12, -3, 2**63 - 1, -(2**63)]
    for raw in ("abc", "1e3", ""):
        with pytest.raises(ValueError, match="invalid literal for int"):
            int64(raw)
    for raw in PAST_64_BITS:
        with pytest.raises(ValueError, match=f"^{raw}$"):
            int64(raw)


@pytest.mark.parametrize("raw", ["abc", *PAST_64_BITS])
def test_page_ids_in_the_query_that_name_nothing_are_not_a_server_error(
    client: FlaskClient, db_session: Session, raw: str
) -> None:
    # found probing every page as an admin: /campaigns/new?brand_id=abc raised ValueError, and 10**20 as brand_id,
    # product or campaign reached PostgreSQL, which refused it (both 500)
    owner = factories.user(db_session, admin=True)
    brand = factories.brand(db_session, owner=owner)
    h = factories.bearer(db_session, owner)
    r = client.get(f"/campaigns/new?brand_id={raw}", headers=h)
    assert r.status_code == 200
    assert f'data-url="/api/v1/brands/{brand.id}/campaigns"' in r.get_data(as_text=True)  # the caller's own brand
    assert client.get(f"/checkout?product={raw}", headers=h).status_code == 404
    r = client.get(f"/match?campaign={raw}", headers=h)
    assert (r.status_code, r.headers.get("Location")) == (302, "/campaigns")


def test_campaign_0_is_a_campaign_that_does_not_exist_not_a_new_one(client: FlaskClient, db_session: Session) -> None:
    owner = factories.user(db_session)
    factories.brand(db_session, owner=owner)
    assert client.get("/campaigns/0/edit", headers=factories.bearer(db_session, owner)).status_code == 404

"""Share links: any signed-in user can share a video or a product and earn on purchases through it."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from commerce.attribution import service as attribution
from commerce.attribution.links import TargetKind
from core import extensions
from web.api.blueprint import bp
from web.api.endpoint import ApiModel, OutModel, endpoint
from web.auth import current_user
from web.device import device_hash
from web.ratelimit import rate_limited


class ShareLinkIn(ApiModel):
    target: Literal["video", "product"]
    target_id: int = Field(ge=1)


class ShareLinkOut(OutModel):
    token: str
    url: str
    target: str
    target_id: int
    issued_at: dt.datetime
    key_id: str
    upstream_sharer_id: int | None = Field(
        description="the sharer whose link brought you here, credited as second level when the platform pays two"
    )


@bp.post("/share-links")
@rate_limited("share_links")
@endpoint(summary="Create a signed share link for a video or product", tags=["attribution"], body=ShareLinkIn,
          response=ShareLinkOut, status=201, auth="required", errors=[404])  # fmt: skip
def create_share_link(body: ShareLinkIn) -> ShareLinkOut:
    """The link (`/s/<token>`) carries you as the sharer, the target and the time, signed with the current key.
    Visits are logged; purchases within the attribution window credit you. Nothing is paid for sign-ups."""
    settings = extensions.settings()
    link = attribution.create_share_link(
        extensions.session(), current_user(), target_kind=TargetKind(body.target), target_id=body.target_id,
        keys=settings.signing_keys(), policy=extensions.extension("money_policy"),
        base_url=settings.public_base_url, device_hash=device_hash(),
    )  # fmt: skip
    return ShareLinkOut(
        token=link.token, url=link.url, target=link.claim.target_kind.value, target_id=link.claim.target_id,
        issued_at=link.claim.issued_at, key_id=link.claim.key_id, upstream_sharer_id=link.claim.parent_sharer_id,
    )  # fmt: skip

"""The WeChat JS-SDK's page configuration: the `wx.config` signature and the share card of a video or product."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from commerce.attribution import service as attribution
from commerce.attribution.links import TargetKind
from commerce.catalog import products
from core import extensions
from core.accounts import wechat
from media import videos
from web.api.blueprint import bp
from web.api.catalog import MAIN_IMAGE_WIDTH
from web.api.endpoint import OutModel, endpoint
from web.auth import allowed_origins, current_user
from web.device import device_hash
from web.wechat import wechat_config

TAGS = ["wechat"]


class JsConfigQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str = Field(min_length=1, max_length=2000, description="The page's own URL (`location.href`); the fragment "
                     "is dropped before signing")  # fmt: skip


class ShareCardOut(OutModel):
    title: str
    desc: str
    link: str = Field(description="A signed share link (`/s/<token>`) crediting the signed-in viewer, else the page")
    img_url: str | None = Field(serialization_alias="imgUrl", description="The video's poster or the product's image")


class JsConfigOut(OutModel):
    app_id: str = Field(serialization_alias="appId")
    timestamp: int
    nonce_str: str = Field(serialization_alias="nonceStr")
    signature: str
    share: ShareCardOut | None = Field(description="For a video (/v/<id>) or product (/p/<id>) page, else null")


def _absolute(url: str | None) -> str | None:
    return urljoin(extensions.settings().public_base_url.rstrip("/") + "/", url) if url else None


def _share_card(page_url: str) -> ShareCardOut | None:
    """The card for the video or product the page shows; the viewer's own share link when signed in."""
    parts = [p for p in urlsplit(page_url).path.split("/") if p]
    if len(parts) != 2 or parts[0] not in ("v", "p") or not parts[1].isdigit():
        return None
    session, viewer, target_id = extensions.session(), current_user(), int(parts[1])
    if parts[0] == "v":
        video = videos.get_video(session, viewer, target_id)
        playback = videos.playback_urls(extensions.storage(), video) or {}
        kind, title, desc, image = TargetKind.VIDEO, video.title, video.description, playback.get("poster")
    else:
        product = products.visible_product(session, viewer, target_id)
        main = product.images[0] if product.images else None
        key = main.renditions.get(MAIN_IMAGE_WIDTH) if main else None
        image = extensions.storage().public_url(key) if key else None
        kind, title, desc = TargetKind.PRODUCT, product.name, product.description or product.brand.name
    link = page_url
    if viewer is not None:
        settings = extensions.settings()
        link = attribution.create_share_link(
            session, viewer, target_kind=kind, target_id=target_id, keys=settings.signing_keys(),
            policy=extensions.extension("money_policy"), base_url=settings.public_base_url, device_hash=device_hash(),
        ).url  # fmt: skip
    return ShareCardOut(title=title[:64], desc=" ".join(desc.split())[:120], link=link, img_url=_absolute(image))


@bp.get("/wechat/js-config")
@endpoint(summary="Sign a page of this site for the WeChat JS-SDK (wx.config) and give its share card", tags=TAGS,
          query=JsConfigQuery, response=JsConfigOut, auth="optional", errors=[400, 404, 422, 502, 503])  # fmt: skip
def js_config(query: JsConfigQuery) -> JsConfigOut:
    """Only this site's own pages are signed. The jsapi_ticket is fetched server-side and cached until it expires."""
    got = wechat.js_config(extensions.session(), wechat_config(), url=query.url, allowed_origins=allowed_origins())
    return JsConfigOut(app_id=got.app_id, timestamp=got.timestamp, nonce_str=got.nonce_str, signature=got.signature,
                       share=_share_card(got.url))  # fmt: skip

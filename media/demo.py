"""Demo videos for `make run`: short generated clips uploaded through the real resumable-upload services.

Completing each upload enqueues the pipeline exactly as in production, so the
media worker that `make run` starts turns them into ladders in the background;
`GET /api/v1/videos/<id>` shows their progress.
"""

from __future__ import annotations

import hashlib
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from core.accounts.models import User
from core.storage import ObjectStorage
from media import uploads
from media.models import UploadMode
from media.pipelines.runner import run_tool
from media.pipelines.tools import Tools

CLIP_SECONDS = 6


@dataclass(frozen=True)
class DemoVideo:
    title: str
    description: str
    hashtags: list[str]
    picture: str  # an ffmpeg lavfi source at 540x960
    tone_hz: int
    by_brand: bool


DEMO_VIDEOS = [
    DemoVideo(
        "夏日防晒实测：海边一整天不脱妆",
        "通勤和海边都试过了，SPF50+ 清透不油。Sunscreen test on the beach.",
        ["防晒", "夏日", "beauty"],
        f"gradients=s=540x960:r=30:d={CLIP_SECONDS}:speed=0.05:n=4",
        440,
        by_brand=False,
    ),
    DemoVideo(
        "花西子空气蜜粉 30 秒上妆",
        "控油定妆，一拍即合。Setting powder in 30 seconds.",
        ["彩妆", "定妆", "花西子"],
        f"testsrc2=s=540x960:r=30:d={CLIP_SECONDS}",
        523,
        by_brand=True,
    ),
    DemoVideo(
        "法式碎花裙三种穿法",
        "一条裙子，通勤、约会、度假三种搭配。One dress, three looks.",
        ["穿搭", "OOTD", "连衣裙"],
        f"life=s=135x240:r=30:mold=10:ratio=0.1:death_color=#3a2e5c:life_color=#f5c6d6,scale=540:960:flags=neighbor,"
        f"trim=duration={CLIP_SECONDS}",
        392,
        by_brand=False,
    ),
]


def _make_clip(tools: Tools, spec: DemoVideo, dest: Path) -> None:
    result = run_tool(
        [
            tools.ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", spec.picture,
            "-f", "lavfi", "-i", f"sine=f={spec.tone_hz}:d={CLIP_SECONDS}:sample_rate=48000,volume=-12dB",
            "-t", str(CLIP_SECONDS), "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-movflags", "+faststart", str(dest),
        ],
        timeout=120,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"making a demo clip failed: {result.stderr.decode(errors='replace')[-500:]}")


def _send(
    session: Session, storage: ObjectStorage, user: User, upload_id: str, *, data: bytes, policy: uploads.UploadPolicy
) -> None:
    state = uploads.upload_state(session, storage, user, upload_id, policy=policy)
    upload = state.upload
    if upload.mode is UploadMode.CHUNKS:
        for offset in range(0, len(data), upload.part_size):
            chunk = data[offset : offset + upload.part_size]
            uploads.put_chunk(
                session, storage, user, upload_id, offset=offset, data=chunk, checksum=None, policy=policy
            )
        return
    # On S3 a client would PUT to presigned URLs; the server-side seed writes the same parts directly.
    for number in range(1, math.ceil(len(data) / upload.part_size) + 1):
        part = data[(number - 1) * upload.part_size : number * upload.part_size]
        storage.upload_part(upload.storage_key, upload.multipart_id, number, part)


def seed_demo_videos(
    session: Session,
    storage: ObjectStorage,
    tools: Tools,
    *,
    policy: uploads.UploadPolicy,
    artist: User,
    brand_owner: User,
) -> list[str]:
    ids = []
    with tempfile.TemporaryDirectory(prefix="xl-demo-videos-") as tmp:
        for i, spec in enumerate(DEMO_VIDEOS):
            clip = Path(tmp) / f"demo-{i}.mp4"
            _make_clip(tools, spec, clip)
            data = clip.read_bytes()
            user = brand_owner if spec.by_brand else artist
            upload = uploads.start_upload(
                session,
                storage,
                user,
                policy=policy,
                size=len(data),
                content_type="video/mp4",
                checksum_sha256=hashlib.sha256(data).hexdigest(),
                filename=clip.name,
                title=spec.title,
                description=spec.description,
                hashtags=spec.hashtags,
            )
            _send(session, storage, user, upload.id, data=data, policy=policy)
            ids.append(uploads.complete_upload(session, storage, user, upload.id).id)
    return [f"demo videos {ids}: uploaded; the media worker turns them into ladders (GET /api/v1/videos/<id>)"]

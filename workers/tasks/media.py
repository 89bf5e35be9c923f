"""Media tasks: process a video (queue `media`), and the periodic clean-ups.

The clean-ups are named outside `media.*` so they run on `default`: a stall
detector queued behind the very transcodes it watches would be no detector.
"""

from __future__ import annotations

from celery import shared_task

from core.extensions import settings, storage
from media import processing, uploads
from workers.base import AppTask

# The real limit scales with the clip (PipelineConfig.timeout_for) and is enforced on ffmpeg
# itself; this hard stop only catches a worker wedged outside ffmpeg. It stays below the
# Redis visibility timeout so a running task is never handed to a second worker.
HARD_TIME_LIMIT = 2 * 3600 + 1800


@shared_task(
    bind=True,
    base=AppTask,
    name="media.process_video",
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=HARD_TIME_LIMIT,
    max_retries=4,
)
def process_video(self: AppTask, video_id: int) -> str:
    """Idempotent per (video id, pipeline version): a finished video is left alone, a live run is not disturbed."""
    options = processing.ProcessingOptions.from_settings(settings())
    with self.session() as session:
        result = processing.process_video(
            session, storage(), options, video_id, last_try=self.request.retries >= self.max_retries
        )
    if result.outcome is processing.Outcome.RETRY:
        raise self.retry(countdown=self.backoff())
    if result.outcome is processing.Outcome.BUSY and self.request.retries < self.max_retries:
        # Another worker holds a live claim; come back after its heartbeat would have gone stale.
        raise self.retry(countdown=int(result.retry_after or options.stall_seconds))
    return result.outcome.value


@shared_task(bind=True, base=AppTask, name="videos.requeue_stalled", time_limit=300)
def requeue_stalled(self: AppTask) -> dict[str, int]:
    options = processing.ProcessingOptions.from_settings(settings())
    with self.session() as session:
        return processing.requeue_stalled(session, options)


@shared_task(bind=True, base=AppTask, name="videos.sweep_superseded", time_limit=600)
def sweep_superseded(self: AppTask) -> int:
    with self.session() as session:
        return processing.sweep_superseded(session, storage())


@shared_task(bind=True, base=AppTask, name="uploads.cleanup_abandoned", time_limit=300)
def cleanup_uploads(self: AppTask) -> int:
    with self.session() as session:
        return uploads.expire_abandoned(session, storage())

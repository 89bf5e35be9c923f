"""Why a video was not processed: stable codes the uploader sees, in zh-CN and English.

`MediaRejected` is bad input: it is never retried, the original is kept and the
video is marked failed with the code and a specific English detail. The other
codes here describe failures of the service itself (time limits, repeated
crashes, abandoned uploads).
"""

from __future__ import annotations

from core.errors import register_messages

REJECTION_MESSAGES: dict[str, tuple[str, str]] = {
    "empty": ("文件是空的", "The file is empty"),
    "not_media": ("这不是视频文件", "This is not a video file"),
    "truncated": ("文件不完整（可能没有传完），请重新上传", "The file is incomplete (cut off); upload it again"),
    "undecodable": ("视频数据损坏，无法解码", "The video data is corrupt and cannot be decoded"),
    "no_video_stream": ("文件里只有声音，没有画面", "The file has sound but no picture"),
    "still_image": ("这是一张图片，不是视频", "This is a still image, not a video"),
    "too_long": ("视频时长超过上限", "The video is longer than allowed"),
    "too_short": ("视频太短", "The video is too short"),
    "dimensions_too_large": ("视频分辨率超过上限", "The picture is larger than allowed"),
    "dimensions_too_small": ("视频分辨率太小", "The picture is too small"),
    "frame_rate_too_high": ("视频帧率超过上限", "The frame rate is higher than allowed"),
    "checksum_mismatch": (
        "收到的文件与声明的校验值不符，请重新上传",
        "The file received does not match its declared checksum; upload it again",
    ),
}

FAILURE_MESSAGES: dict[str, tuple[str, str]] = {
    "processing_timeout": ("视频处理超时", "Processing took too long"),
    "processing_error": ("视频处理出错，请稍后重试", "Processing failed; try again later"),
    "processing_stalled": ("视频处理多次中断", "Processing kept stopping"),
    "transcode_failed": ("转码失败", "Transcoding failed"),
    "upload_expired": ("上传长时间未完成，已取消", "The upload was abandoned and has been cancelled"),
}

register_messages(REJECTION_MESSAGES)
register_messages(FAILURE_MESSAGES)


class MediaRejected(Exception):
    """The file cannot become a video: `code` is stable, `detail` says exactly why (English)."""

    def __init__(self, code: str, detail: str) -> None:
        if code not in REJECTION_MESSAGES:
            raise ValueError(f"unknown rejection code {code!r}")
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail

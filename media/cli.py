"""`python -m media transcode INPUT OUTDIR`: the whole pipeline on one file, without the web app.

Prints the manifest as JSON on stdout and exits 0. Bad input exits 2 with one
line on stderr naming the reason; any other failure exits 1 the same way. The
run happens in a temporary directory beside OUTDIR and is moved in only when it
succeeded, so a failed run leaves nothing in OUTDIR.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from media.pipelines.config import PipelineConfig, parse_ladder
from media.pipelines.runner import FFmpegError
from media.pipelines.tools import ToolMissing, find_tools
from media.pipelines.transcode import TranscodeFailed, transcode
from media.rejections import MediaRejected

EXIT_FAILED = 1
EXIT_REJECTED = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m media", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("transcode", help="probe, validate and transcode INPUT into OUTDIR")
    t.add_argument("input", type=Path)
    t.add_argument("outdir", type=Path, help="created if missing; must be empty")
    t.add_argument("--ladder", help="short_side:kbps,... (default: MEDIA_LADDER or 1080/720/540/360)")
    t.add_argument("--preset", help="x264 preset (default: MEDIA_X264_PRESET or veryfast)")
    t.add_argument("--crf", type=int)
    t.add_argument("--ffmpeg", help="path to ffmpeg (default: found automatically)")
    t.add_argument("--ffprobe", help="path to ffprobe (default: found automatically)")
    t.add_argument("--progress", action="store_true", help="report progress on stderr")
    return parser


def _config(args: argparse.Namespace) -> PipelineConfig:
    from core.settings import Settings

    config = PipelineConfig.from_settings(Settings())
    if args.ladder:
        config = replace(config, ladder=parse_ladder(args.ladder))
    if args.preset:
        config = replace(config, preset=args.preset)
    if args.crf is not None:
        config = replace(config, crf=args.crf)
    return config


def _fail(code: int, message: str) -> int:
    sys.stderr.write(f"error: {' '.join(message.split())}\n")  # exactly one line, whatever the message holds
    return code


def transcode_command(args: argparse.Namespace) -> int:
    outdir: Path = args.outdir
    if not args.input.is_file():
        return _fail(EXIT_FAILED, f"input not found: {args.input}")
    if outdir.exists() and (not outdir.is_dir() or any(outdir.iterdir())):
        return _fail(EXIT_FAILED, f"OUTDIR must be a new or empty directory: {outdir}")
    try:
        config = _config(args)
        tools = find_tools(args.ffmpeg, args.ffprobe)
    except (ValueError, ToolMissing) as exc:
        return _fail(EXIT_FAILED, str(exc))

    def progress(stage: str, done: float, speed: float | None, eta: float | None) -> None:
        if args.progress:
            extra = f" {speed:.2f}x, {eta:.0f} s left" if speed and eta is not None else ""
            sys.stderr.write(f"{stage} {done * 100:5.1f}%{extra}\n")

    outdir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".transcode-", dir=outdir.parent))
    try:
        result = transcode(tools, args.input, work, config, on_progress=progress)
        outdir.mkdir(exist_ok=True)
        for item in result.out_dir.iterdir():
            shutil.move(str(item), outdir / item.name)
    except MediaRejected as exc:
        return _fail(EXIT_REJECTED, f"{exc.code}: {exc.detail}")
    except (TranscodeFailed, FFmpegError, OSError) as exc:
        return _fail(EXIT_FAILED, f"{type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    json.dump(result.manifest, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "transcode":
        return transcode_command(args)
    return EXIT_FAILED  # pragma: no cover - argparse requires a known command


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

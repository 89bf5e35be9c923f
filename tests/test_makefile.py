"""`make help` lists every target the Makefile declares for people (its .PHONY ones), each with its purpose."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from core.settings import PROJECT_ROOT


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_help_lists_every_target() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    phony = {t for line in re.findall(r"^\.PHONY:(.*)$", makefile, re.M) for t in line.split()}
    assert {"help", "run", "test", "install", "clean"} <= phony
    done = subprocess.run(["make", "--no-print-directory", "help"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    row = re.compile(r"^\s*(?:\x1b\[\d+m)?([\w-]+)\s*(?:\x1b\[0m)?\s+(.+)$", re.M)  # colour codes optional
    listed = {m.group(1): m.group(2).strip() for m in row.finditer(done.stdout)}
    assert set(listed) == phony
    assert all(listed.values())  # each says what it does

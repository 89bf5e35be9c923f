"""Importing the accounts service configures no mapper: a process that has imported only some models (a worker, a
script, one test file) can import it before the rest are there."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import PROJECT_ROOT


def test_the_accounts_service_imports_before_every_model_is_there() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import commerce.orders.models, core.accounts.service"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]

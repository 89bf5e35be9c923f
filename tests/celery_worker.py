"""Start a real Celery worker process for integration tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from core.settings import PROJECT_ROOT, Settings


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes `Settings()` in a child process equal `settings`."""
    env = {k: v for k, v in os.environ.items() if k not in {name.upper() for name in Settings.model_fields}}
    for name, value in settings.model_dump().items():
        # A default is the child's default too; leaving it out matters where a library reads the same variable
        # (prometheus_client switches to multiprocess files when PROMETHEUS_MULTIPROC_DIR is set at all).
        if value is not None and value != Settings.model_fields[name].default:
            env[name.upper()] = str(value)
    return env


@dataclass
class WorkerProcess:
    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise TimeoutError(f"worker never printed {text!r}:\n{self.output()[-4000:]}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the whole process group (the worker and its pool children), as a crash would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        self.proc.wait(timeout=30)


@contextlib.contextmanager
def celery_worker(
    settings: Settings,
    *,
    queues: str = "default,search,media",
    concurrency: int = 1,
    name: str = "test",
    loglevel: str = "INFO",
) -> Iterator[WorkerProcess]:
    cmd = [
        sys.executable, "-m", "celery", "-A", "workers.main", "worker",
        "-Q", queues, "-c", str(concurrency), "-n", f"{name}-{os.getpid()}@%h",
        "-l", loglevel, "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd,
        cwd=PROJECT_ROOT,
        env=settings_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    worker = WorkerProcess(proc)

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            worker.lines.append(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        worker.wait_for(" ready.")
        yield worker
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()


def wait_until(predicate, timeout: float = 30, interval: float = 0.2, message: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"{message} not reached within {timeout}s")

"""Run every Procfile process together (web, workers, beat) until Ctrl-C.

Same as `honcho start`, except for how it stops them. honcho sends SIGTERM to
each process's whole group and SIGKILL 5 s later. A group-wide SIGTERM reaches
Celery's pool children under their parent's feet, and the parent's warm
shutdown then hangs until the SIGKILL. Here SIGTERM goes to each process
itself (Procfile lines `exec`, so that is Celery's or gunicorn's main process,
which stops its own children), and the whole group is killed only if it is
still there after a grace period long enough for a task to finish.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path

import honcho.manager
from honcho.compat import ProcessManager
from honcho.environ import parse_procfile

GRACE_SECONDS = 30


class LeaderFirst(ProcessManager):  # type: ignore[misc]
    def terminate(self, pid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)


def main() -> int:
    honcho.manager.KILL_WAIT = GRACE_SECONDS
    procfile = parse_procfile((Path(__file__).resolve().parent.parent / "Procfile").read_text())
    manager = honcho.manager.Manager()
    manager._procmgr = LeaderFirst()  # honcho has no hook for how it signals
    for name, cmd in procfile.processes.items():
        manager.add_process(name, cmd, env=dict(os.environ))
    manager.loop()
    return int(manager.returncode or 0)


if __name__ == "__main__":
    sys.exit(main())

"""Run every Procfile process together (web, workers, beat) until Ctrl-C.

Same as `honcho start`, except for the grace period: honcho sends SIGKILL 5 s
after SIGTERM, and a Celery worker's warm shutdown (finish the current task,
close the broker connection) can take longer on a busy 2-core machine.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import honcho.manager
from honcho.environ import parse_procfile

GRACE_SECONDS = 30


def main() -> int:
    honcho.manager.KILL_WAIT = GRACE_SECONDS
    procfile = parse_procfile((Path(__file__).resolve().parent.parent / "Procfile").read_text())
    manager = honcho.manager.Manager()
    for name, cmd in procfile.processes.items():
        manager.add_process(name, cmd, env=dict(os.environ))
    manager.loop()
    return int(manager.returncode or 0)


if __name__ == "__main__":
    sys.exit(main())

"""`connector run`: the processes of the Procfile side by side in one terminal (honcho's library)."""
from __future__ import annotations

import signal
import sys

from honcho.manager import Manager
from honcho.printer import Printer


def run(processes: dict[str, str], env: dict[str, str]) -> int:
    """Run each named shell command as a child with `env`, all output interleaved with a coloured
    `name |` prefix; stop them all when one exits or on Ctrl-C / SIGTERM. Return the exit code
    (that of the first process to stop, or 130 / 143 after SIGINT / SIGTERM)."""
    manager = Manager(Printer(sys.stdout))
    for name, command in processes.items():
        manager.add_process(name, command, env=dict(env))
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        manager.loop()  # installs its own SIGINT / SIGTERM handlers
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return manager.returncode if manager.returncode is not None else 0

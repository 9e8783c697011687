"""`connector run`: the processes of the Procfile side by side in one terminal (honcho's library),
and where each process's metrics go.

Metrics: the web server's processes and the worker's pool processes each count into a file of
their own in PROMETHEUS_MULTIPROC_DIR; /metrics sums the files. `connector run` gives web and
worker one directory under var/, emptied at each start (counts of an earlier run are not this
run's), so the web's /metrics shows the worker's counts too. Beat counts nothing and Flower must
not have it: Flower keeps its own flower_* series in prometheus_client's default registry, which
this variable turns into files that /metrics would then serve as ours.
"""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from honcho.printer import Printer, _colour_string

METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# The processes of `connector run` that write metrics; the others are started without the variable.
METRICS_PROCESSES = ("web", "worker")


def fresh_metrics_dir(var_dir: Path) -> Path:
    """`var/prometheus`, emptied: the directory `connector run` gives web and worker."""
    path = Path(var_dir) / "prometheus"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def process_env(name: str, env: dict[str, str]) -> dict[str, str]:
    """The environment of process `name`: PROMETHEUS_MULTIPROC_DIR only for those that count."""
    if name in METRICS_PROCESSES:
        return dict(env)
    return {key: value for key, value in env.items() if key != METRICS_DIR_VARIABLE}


def ensure_metrics_dir(environ=os.environ) -> str:
    """For a process about to fork its workers (the web server): the directory they will count into.

    Named: created if missing. Not named (a platform's web dyno, `python -m web.server` alone): a new
    private temporary directory, set in `environ` for the children to inherit, so /metrics sums this
    server's processes instead of answering with whichever one took the scrape. Must run before
    prometheus_client is imported: it decides at import whether values go to files."""
    path = environ.get(METRICS_DIR_VARIABLE)
    if path:
        os.makedirs(path, exist_ok=True)
    else:
        path = environ[METRICS_DIR_VARIABLE] = tempfile.mkdtemp(prefix="connector-metrics-")
        owner = os.getpid()
        # Removed when this process ends normally (its forked children end with os._exit, which
        # runs no atexit handler; the check is for any that would not).
        atexit.register(lambda: os.getpid() == owner and shutil.rmtree(path, ignore_errors=True))
    return path


class UntimedPrinter(Printer):
    """honcho's Printer with `name | ` only: every line already carries its process's own timestamp;
    a second one (honcho's HH:MM:SS) only made lines longer."""

    def write(self, message):
        if message.type != "line":
            raise RuntimeError('Printer can only process messages of type "line"')
        text = message.data.decode("utf-8", "replace") if isinstance(message.data, bytes) else message.data
        prefix = f"{(message.name or '').ljust(self.width)} | "
        if self.colour and self._colours_supported and message.colour:
            prefix = _colour_string(message.colour, prefix)
        for line in text.splitlines():
            print(prefix + line, file=self.output, flush=True)


def run(processes: dict[str, str], env: dict[str, str]) -> int:
    """Run each named shell command as a child with `env` (see process_env), all output interleaved
    with a coloured `name |` prefix; stop them all when one exits or on Ctrl-C / SIGTERM. Return the
    exit code (that of the first process to stop, or 130 / 143 after SIGINT / SIGTERM)."""
    from honcho.manager import Manager

    manager = Manager(UntimedPrinter(sys.stdout))
    for name, command in processes.items():
        manager.add_process(name, command, env=process_env(name, env))
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        manager.loop()  # installs its own SIGINT / SIGTERM handlers
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return manager.returncode if manager.returncode is not None else 0

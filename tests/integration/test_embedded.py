"""Embedded Postgres + Redis (connector.embedded) and the `connector run` supervisor (connector.runner).

These start real daemons under a temporary var dir and always stop what they started."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import psycopg2
import pytest
import redis

from connector import embedded, runner

REPO_ROOT = Path(__file__).resolve().parents[2]


def _wait_until(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _settings(var_dir, database_url=None, redis_url=None, sandbox=True, embedded_allowed=False):
    return SimpleNamespace(database_url=database_url, redis_url=redis_url, var_dir=var_dir, sandbox=sandbox,
                           embedded_allowed=embedded_allowed)


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """Embedded services started once for the read-only tests of this module."""
    var_dir = tmp_path_factory.mktemp("var")
    try:
        urls, started = embedded.start(var_dir)
        yield SimpleNamespace(var_dir=var_dir, urls=urls, started=started)
    finally:
        embedded.stop(var_dir)


@pytest.fixture
def var_dir(tmp_path):
    """A fresh var dir whose embedded services, if any get started, are stopped afterwards."""
    path = tmp_path / "var"
    path.mkdir()
    yield path
    embedded.stop(path)


def test_start_fresh_starts_both_services(running):
    """A first start() on an empty var dir starts Postgres and Redis and records them."""
    assert sorted(running.started) == ["postgres", "redis"]
    recorded = embedded._read_services(running.var_dir)
    assert recorded["postgres"]["url"] == running.urls.database_url
    assert recorded["redis"]["url"] == running.urls.redis_url
    assert isinstance(recorded["redis"]["pid"], int)


def test_start_urls_answer(running):
    """The returned Postgres URL runs SELECT 1 in database `connector` and the Redis URL answers PING."""
    connection = psycopg2.connect(running.urls.database_url, connect_timeout=2)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_database(), 1")
            assert cursor.fetchone() == ("connector", 1)
    finally:
        connection.close()
    client = redis.Redis.from_url(running.urls.redis_url)
    try:
        assert client.ping() is True
        assert client.config_get("appendonly")["appendonly"] == "yes"
    finally:
        client.close()


def test_start_again_reuses_running_services(running):
    """A second start() reuses the running services: same URLs, nothing started."""
    urls, started = embedded.start(running.var_dir)
    assert started == []
    assert urls == running.urls


def test_status_running_reports_both(running):
    """status() reports both services running with their URLs."""
    assert embedded.status(running.var_dir) == {
        "postgres": {"url": running.urls.database_url, "running": True},
        "redis": {"url": running.urls.redis_url, "running": True},
    }


def test_resolve_urls_env_unset_reads_services_json(running):
    """With DATABASE_URL and REDIS_URL unset, resolve_urls finds the embedded services."""
    assert embedded.resolve_urls(_settings(running.var_dir)) == running.urls


def test_resolve_urls_env_set_wins_over_services_json(running):
    """Values from the environment win over services.json, each on its own."""
    env_db = "postgresql://app@db.example:5432/connector"
    env_redis = "redis://cache.example:6379/1"
    assert embedded.resolve_urls(_settings(running.var_dir, database_url=env_db)) == embedded.ServiceUrls(
        database_url=env_db, redis_url=running.urls.redis_url)
    assert embedded.resolve_urls(_settings(running.var_dir, redis_url=env_redis)) == embedded.ServiceUrls(
        database_url=running.urls.database_url, redis_url=env_redis)
    assert embedded.resolve_urls(_settings(running.var_dir, env_db, env_redis)) == embedded.ServiceUrls(
        env_db, env_redis)


def test_resolve_urls_nothing_running_raises(var_dir):
    """With no env values and nothing running, resolve_urls says which variable and how to start."""
    with pytest.raises(embedded.ServicesNotRunning) as caught:
        embedded.resolve_urls(_settings(var_dir))
    message = str(caught.value)
    assert "DATABASE_URL" in message and "REDIS_URL" in message
    assert "`connector services start` or `connector run`" in message


def test_resolve_urls_stale_services_json_raises(var_dir):
    """A services.json naming services that do not answer is not trusted."""
    embedded._write_services(var_dir, {
        "postgres": {"url": f"postgresql://postgres:@/connector?host={var_dir}/nowhere"},
        "redis": {"url": "redis://127.0.0.1:1/0", "pid": 999999},
    })
    with pytest.raises(embedded.ServicesNotRunning, match="DATABASE_URL"):
        embedded.resolve_urls(_settings(var_dir, redis_url="redis://127.0.0.1:6379/0"))


def test_stop_started_services_stop_answering(var_dir):
    """stop() stops both services; afterwards neither answers and resolve_urls raises."""
    urls, started = embedded.start(var_dir)
    assert sorted(started) == ["postgres", "redis"]
    embedded.stop(var_dir)
    assert _wait_until(lambda: not embedded.postgres_answers(urls.database_url))
    assert _wait_until(lambda: not embedded.redis_answers(urls.redis_url))
    assert embedded.status(var_dir) == {
        "postgres": {"url": None, "running": False},
        "redis": {"url": None, "running": False},
    }
    with pytest.raises(embedded.ServicesNotRunning):
        embedded.resolve_urls(_settings(var_dir))


def test_start_services_outlive_starting_process(var_dir):
    """Services started by a process that has exited keep answering and a later stop() stops them."""
    code = "import sys; from pathlib import Path; from connector import embedded; embedded.start(Path(sys.argv[1]))"
    subprocess.run([sys.executable, "-c", code, str(var_dir)], cwd=REPO_ROOT, check=True, timeout=60)
    urls = embedded.resolve_urls(_settings(var_dir))
    assert embedded.postgres_answers(urls.database_url)
    assert embedded.redis_answers(urls.redis_url)
    embedded.stop(var_dir)
    assert _wait_until(lambda: not embedded.redis_answers(urls.redis_url))
    assert _wait_until(lambda: not embedded.postgres_answers(urls.database_url))


def test_run_two_commands_prefixes_output_and_returns_exit_code(tmp_path, capfd):
    """runner.run prefixes each child's lines with its name, passes env, and returns the exit code."""
    marker = tmp_path / "beta-printed"
    beta = (f"python -c \"import os, pathlib, time; print('beta says', os.environ['GREETING'], flush=True); "
            f"pathlib.Path('{marker}').touch(); time.sleep(30)\"")
    alpha = (f"python -c \"import pathlib, sys, time\n"
             f"while not pathlib.Path('{marker}').exists(): time.sleep(0.02)\n"
             f"print('alpha done'); sys.exit(3)\"")
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "GREETING": "hello"}

    started = time.monotonic()
    code = runner.run({"alpha": alpha, "beta": beta}, env)

    out = capfd.readouterr().out
    assert code == 3
    assert any(line.endswith("alpha  | alpha done") for line in out.splitlines()), out
    assert any(line.endswith("beta   | beta says hello") for line in out.splitlines()), out
    assert "alpha stopped (rc=3)" in out
    assert time.monotonic() - started < 15  # beta was terminated, not waited for


@pytest.mark.parametrize("allowed", [False, True])
def test_resolve_urls_real_systems_refuse_embedded_unless_asked(tmp_path, allowed):
    settings = _settings(tmp_path, sandbox=False, embedded_allowed=allowed)
    with pytest.raises(embedded.ServicesNotRunning) as caught:
        embedded.resolve_urls(settings)
    # Refused outright, or (when allowed) only because none is running here.
    assert ("CONNECTOR_EMBEDDED=1" in str(caught.value)) is not allowed


def test_recorded_sandbox_is_found_while_its_process_lives(tmp_path):
    embedded.record_sandbox(tmp_path, {"ais_url": "http://127.0.0.1:1"})
    assert embedded.recorded_sandbox(tmp_path)["ais_url"] == "http://127.0.0.1:1"
    record = json.loads((tmp_path / embedded.SANDBOX_FILE).read_text())
    (tmp_path / embedded.SANDBOX_FILE).write_text(json.dumps(record | {"pid": 2 ** 22 + 12345}))   # a dead process
    assert embedded.recorded_sandbox(tmp_path) == {}

"""Log lines of the real processes (as the Procfile starts them) and the CLI's piped output."""
import io
import json
import os
import re
import shlex
import sys

import psycopg2
import pytest
from click.testing import CliRunner

from tests.support import ROOT, Process, free_port, start_web, wait_for

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def procfile_command(name: str) -> list[str]:
    """The Procfile's line for `name`, run with this interpreter (as the platform runs it)."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        process, _, command = line.partition(":")
        if process.strip() == name:
            args = shlex.split(command)
            assert args[0] == "celery", line
            return [sys.executable, "-m", *args]
    raise AssertionError(f"no {name}: line in the Procfile")


def json_lines(text: str) -> list[dict]:
    """Every line of a process's output as the JSON object it must be (none blank, none left over)."""
    documents = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            document = json.loads(line)
        except ValueError:
            raise AssertionError(f"line {number} is not one JSON object: {line!r}\n{text[-3000:]}") from None
        assert isinstance(document, dict) and TIMESTAMP.match(document["time"]), line
        documents.append(document)
    return documents


@pytest.fixture
def json_env(tmp_path, clean_db, redis_url):
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    return dict(os.environ, CONNECTOR_LOG_FORMAT="json", CONNECTOR_VAR_DIR=str(tmp_path), PYTHONUNBUFFERED="1")


def test_worker_json_every_line_is_one_object_without_security_warning(json_env, tmp_path):
    from tasks import app as celery_app

    worker = Process("worker", procfile_command("worker"), json_env, tmp_path)
    try:
        wait_for(lambda: " ready." in worker.log() or worker.popen.poll() is not None, timeout=60,
                 what="the worker to be ready")
        assert worker.popen.poll() is None, worker.log()
        celery_app.send_task("sweep_deliveries")
        # No AIS server is configured in this environment: the task fails, with a traceback.
        celery_app.send_task("sync_customer", args=[999999])
        wait_for(lambda: worker.log().count("sync_customer[") >= 2 and "sweep_deliveries[" in worker.log()
                 and worker.log().count("succeeded in") >= 1, timeout=30, what="both tasks to end")
    finally:
        worker.stop()   # SIGTERM, as a platform stops it: the shutdown is logged too
    documents = json_lines(worker.log())

    assert "SecurityWarning" not in worker.log() and "superuser" not in worker.log()
    root_lines = [d for d in documents if "runs as root" in d["message"]]
    assert len(root_lines) == (1 if os.geteuid() == 0 else 0)
    failed = next(d for d in documents if d["level"] == "ERROR" and d.get("task") == "sync_customer")
    assert failed["exception"].startswith("Traceback (most recent call last):") and failed["task_id"]
    succeeded = next(d for d in documents if "succeeded in" in d["message"])
    assert succeeded["task"] == "sweep_deliveries" and succeeded["task_id"] in succeeded["message"]
    assert any("warm shutdown" in d["message"] for d in documents)
    # The banner's facts in one line, instead of its 28.
    assert any(d["message"].startswith("worker ") and "queues celery, posting" in d["message"] for d in documents)


def test_beat_json_every_line_is_one_object(json_env, tmp_path):
    beat = Process("beat", procfile_command("beat"), json_env, tmp_path)
    try:
        wait_for(lambda: "scheduled tasks" in beat.log() or beat.popen.poll() is not None, timeout=60,
                 what="beat to start")
    finally:
        beat.stop()
    documents = json_lines(beat.log())
    assert any(d["message"] == "beat: Starting..." for d in documents)


def test_web_json_every_line_is_one_object(json_env, tmp_path):
    import requests

    port = free_port()
    web = start_web(json_env, tmp_path, port)
    try:
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        wait_for(lambda: "/healthz" in web.log(), timeout=10, what="the access line")
    finally:
        web.stop()
    documents = json_lines(web.log())
    access = next(d for d in documents if d["logger"] == "web.access")
    assert '"GET /healthz HTTP/1.1" 200' in access["message"]
    assert {d["pid"] for d in documents if d["logger"] == "web.server"}   # which process said it


def test_text_lines_carry_one_timestamp(tmp_path, clean_db):
    port = free_port()
    web = start_web(dict(os.environ, CONNECTOR_VAR_DIR=str(tmp_path)), tmp_path, port)
    try:
        wait_for(lambda: "serving web.app" in web.log(), timeout=30, what="a serving process")
    finally:
        web.stop()
    lines = [line for line in web.log().splitlines() if line]
    assert lines and all(len(TIMESTAMP.findall(line)) == 1 for line in lines), lines


# -- the CLI's output through a pipe -----------------------------------------------------------------------
def test_status_piped_keeps_a_long_reason_on_one_line(clean_db, fixture_payload):
    """`connector status | …`: the reason of a failure is one line, whatever its length."""
    from connector.cli import main
    from tests.unit.test_metrics import _store_orders

    reason = "JDE refused batch WC-1001: " + " ".join(f"error{n} in field FLD{n} of grid row {n}" for n in range(12))
    _store_orders(clean_db, fixture_payload("order-727"), [1001], state="needs_attention")
    conn = psycopg2.connect(clean_db)
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE orders SET last_error = %s", (reason,))
    conn.close()
    result = CliRunner().invoke(main, ["status"])
    assert result.exit_code == 0, result.output
    [line] = [line for line in result.output.splitlines() if "WC-1001" in line]
    assert reason in line and len(line) > 300


@pytest.mark.parametrize("terminal, lines", [(False, 1), (True, 5)])
def test_console_wraps_only_on_a_terminal(terminal, lines):
    from rich.text import Text

    from connector.cli.console import Console

    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=80 if terminal else None)
    console.print(Text("word " * 80))
    assert len(out.getvalue().splitlines()) == lines

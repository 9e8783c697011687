"""`connector run` restarts a worker that died (SIGKILL, as the OOM killer does) instead of stopping
the demo; Ctrl-C still stops everything."""
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time

import psutil

from sandbox.woo_orders import order_document, shoppers
from tests.faults.conftest import Sender, jde_documents, stack_environment
from tests.faults.figures import record
from tests.support import ROOT, free_port, order_states, wait_for


def _worker_pids(log_path) -> list[int]:
    return [int(pid) for pid in re.findall(r"worker started \(pid=(\d+)\)", log_path.read_text(errors="replace"))]


def _ready(output: str) -> int:
    """How many times a worker said it is ready."""
    return len(re.findall(r"worker@\S+ ready\.", output))


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_connector_run_worker_killed_is_restarted_and_orders_still_post(jde, own_redis, clean_db, tmp_path):
    env = stack_environment(jde, tmp_path, database_url=clean_db, redis_url=own_redis.url)
    port = free_port()
    log_path = tmp_path / "connector-run.log"
    with open(log_path, "wb") as log:
        run = subprocess.Popen([sys.executable, "-m", "connector.cli", "run", "--port", str(port),
                                "--flower-port", str(free_port()), "--no-demo"],
                               env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/webhooks/woocommerce"
        def output():
            return log_path.read_text(errors="replace")

        wait_for(lambda: _ready(output()) >= 1 and _listening(port) or run.poll() is not None, timeout=90,
                 what="the worker and web of `connector run` to be ready")
        assert run.poll() is None, output()
        rng = random.Random(4)
        people = shoppers(rng, 20)
        orders = [order_document(rng, 4000 + n, rng.choice(people)) for n in range(40)]
        first = Sender(url, orders[:20]).start()
        first.join(60)
        wait_for(lambda: order_states(clean_db).get("posted", 0) == 20, timeout=60, what="20 orders posted")

        [shell] = _worker_pids(log_path)   # honcho runs each command through `sh -c`
        [worker] = [p for p in psutil.Process(shell).children() if "celery" in p.cmdline()]
        worker.kill()                      # the worker's main process, as the OOM killer would
        killed_at = time.monotonic()
        # 137: the shell honcho runs the command in reports its child's SIGKILL as 128 + 9.
        wait_for(lambda: "worker exited (rc=137)" in output(), timeout=20, what="the worker's exit noticed")
        wait_for(lambda: _ready(output()) >= 2, timeout=90,
                 what="the restarted worker to be ready")
        recovery = time.monotonic() - killed_at
        assert run.poll() is None, output()               # the run went on
        second = Sender(url, orders[20:]).start()
        second.join(60)
        wait_for(lambda: order_states(clean_db).get("posted", 0) == 40, timeout=90,
                 what="40 orders posted after the restart")
        restart_lines = [line for line in output().splitlines() if "worker exited" in line]
        assert len(restart_lines) == 1 and "restarting it in 1 s (restart 1)" in restart_lines[0], restart_lines

        children = psutil.Process(run.pid).children(recursive=True)
        run.send_signal(signal.SIGINT)                    # Ctrl-C
        assert run.wait(30) == 0, output()[-3000:]
        gone, alive = psutil.wait_procs(children, timeout=15)
        assert not alive, [p.cmdline() for p in alive]
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(10)

    entries = jde_documents(jde)
    accepted = first.accepted() | second.accepted()
    record("connector_run_worker_killed", orders=len(orders), faults=1, lost=len(accepted - set(entries)),
           doubled=sum(1 for docs in entries.values() if len(docs) > 1), logins=jde.stats()["token_requests"],
           recovery_seconds=round(recovery, 1))
    assert len(accepted) == 40 and set(entries) == accepted
    assert all(len(docs) == 1 for docs in entries.values())

"""Webhook ingest throughput: the real receiver against a bare Flask endpoint, one run.

    python -m bench.ingest [--requests 3000] [--warmup 200] [--rounds 2] [--connections 8]

All apps run under gunicorn with the Procfile's settings (gthread, 2 workers, 4 threads);
a keep-alive client with N connections sends signed, distinct order.updated deliveries to
each in turn, every round, and the median of the rounds is reported as accepted requests per
second, p50/p99 latency, and the ratio to the bare endpoint. Besides the bare endpoint and
the real receiver, two partial receivers (bench/ceilings.py) show what each step costs:
`verify` checks the signature only, `store` also commits to Postgres but does not publish.

Services: DATABASE_URL / REDIS_URL from the environment when set, else the embedded ones
under var/bench (stopped again at the end if this run started them). The receiver writes to
a fresh database `connector_bench` and publishes to Redis DB 14; no Celery worker runs, so
the messages just accumulate there (the hot path is store, commit, publish).

Correctness is checked while measuring: every answer of the real app must be 200 and not a
duplicate, and afterwards the `deliveries` table must hold one row per request sent. This is
a measurement: nothing here asserts on time.
"""
from __future__ import annotations

import argparse
import copy
import http.client
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

import psutil
import psycopg2
import redis

from bench.services import Services, answers_healthz, cpu_seconds, percentile, prepare_services, release, spawn
from connector.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "woocommerce" / "order-727.json"
VAR_DIR = ROOT / "var" / "bench"
RUN_DIR = ROOT / "var" / "bench-run"
RESULT_FILE = VAR_DIR / "ingest.json"
BENCH_DATABASE = "connector_bench"
BENCH_REDIS_DB = 14
SECRET = "bench-webhook-secret"
PATH = "/webhooks/woocommerce"
WORKERS = 2
GUNICORN_SETTINGS = ["--worker-class", "gthread", "--workers", str(WORKERS), "--threads", "4"]
START_TIMEOUT = 30.0
REQUEST_TIMEOUT = 30.0
TARGETS = {
    "bare": "bench.bare_app:create_app()",
    "verify": "bench.ceilings:verify_only()",
    "store": "bench.ceilings:store_only()",
    "real": "web.app:create_app()",
}
STORING = ("store", "real")  # targets that write deliveries rows, each its own


# ---------------------------------------------------------------------------------------------
# payloads




def make_deliveries(first: int, count: int) -> list[tuple[dict[str, str], bytes]]:
    """`count` signed order.updated deliveries, none an exact repeat of another (each has its
    own order id and date_modified), so the receiver's de-duplication never kicks in."""
    from sandbox.woo_webhooks import signed_delivery

    base = json.loads(FIXTURE.read_text(encoding="utf-8"))
    modified_gmt = datetime.fromisoformat(base["date_modified_gmt"])
    modified_local = datetime.fromisoformat(base["date_modified"])
    out = []
    for n in range(first, first + count):
        doc = copy.copy(base)  # only top-level scalars change
        doc["id"] = 100_000 + n
        doc["number"] = str(doc["id"])
        doc["date_modified_gmt"] = (modified_gmt + timedelta(seconds=n)).isoformat(timespec="seconds")
        doc["date_modified"] = (modified_local + timedelta(seconds=n)).isoformat(timespec="seconds")
        out.append(signed_delivery(doc, topic="order.updated", secret=SECRET, delivery_id=n + 1))
    return out


# ---------------------------------------------------------------------------------------------
# services








def count_outcome(services: Services) -> dict:
    conn = psycopg2.connect(services.database_url, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT state, count(*) FROM deliveries GROUP BY state ORDER BY state")
            states = {state: n for state, n in cur.fetchall()}
    finally:
        conn.close()
    client = redis.Redis.from_url(services.redis_url, socket_connect_timeout=3, socket_timeout=10)
    try:
        queued_messages = client.llen("celery")
    finally:
        client.close()
    return {"deliveries": sum(states.values()), "states": states, "broker_messages": queued_messages}


def settings_summary(services: Services) -> dict:
    conn = psycopg2.connect(services.database_url, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            out = {}
            for name in ("server_version", "synchronous_commit", "fsync", "wal_sync_method"):
                cur.execute(f"SHOW {name}")
                out[name] = cur.fetchone()[0]
            return out
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# gunicorn


class Gunicorn:
    """One gunicorn master with the Procfile's worker settings, serving `app` on a free port."""

    def __init__(self, name: str, app: str, env: dict[str, str], extra_args: list[str]):
        self.name, self.app, self.env, self.extra_args = name, app, env, extra_args
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log_path = VAR_DIR / f"gunicorn-{name}.log"

    def start(self) -> None:
        command = [sys.executable, "-m", "gunicorn", self.app, *GUNICORN_SETTINGS,
                   "--bind", f"127.0.0.1:{self.port}", *self.extra_args]
        self.process = spawn(command, env=self.env, log_path=self.log_path, cwd=ROOT)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn ({self.name}) exited with {self.process.returncode}; "
                                   f"see {self.log_path}")
            if self._answers() and len(self.workers()) == WORKERS:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn ({self.name}) not answering after {START_TIMEOUT:.0f}s; "
                                   f"see {self.log_path}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        return answers_healthz(self.port)

    def workers(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children()
        except psutil.Error:
            return []

    def cpu_seconds(self) -> float:
        """User + system CPU of the workers (the master only supervises)."""
        return cpu_seconds(self.workers())

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # SIGTERM: graceful shutdown of master and workers
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            for worker in self.workers():
                try:
                    worker.kill()
                except psutil.Error:
                    pass
            self.process.kill()
            self.process.wait(timeout=5)


def child_environment(services: Services) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("CELERY_BROKER_URL", "PROMETHEUS_MULTIPROC_DIR", "CONNECTOR_SECRET_KEY")}
    env.update(
        DATABASE_URL=services.database_url,
        REDIS_URL=services.redis_url,
        CONNECTOR_CONFIG=str(ROOT / "bench" / "mapping.toml"),
        CONNECTOR_VAR_DIR=str(RUN_DIR),
        WOO_WEBHOOK_SECRET=SECRET,
    )
    return env


# ---------------------------------------------------------------------------------------------
# load


@dataclass
class Phase:
    target: str
    round: int
    sent: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int]
    duplicates: int
    errors: int
    server_cpu_ms_per_request: float
    client_cpu_ms_per_request: float




def send_all(port: int, deliveries: list[tuple[dict[str, str], bytes]], connections: int):
    """Send every delivery once over `connections` keep-alive connections; returns
    (latencies in seconds, status counts, duplicate answers, transport errors, wall seconds)."""
    next_index = itertools.count().__next__  # atomic under the GIL
    latencies: list[list[float]] = [[] for _ in range(connections)]
    statuses: list[dict[str, int]] = [{} for _ in range(connections)]
    duplicates = [0] * connections
    errors = [0] * connections
    total = len(deliveries)

    def worker(slot: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        mine, seen = latencies[slot], statuses[slot]
        try:
            while True:
                i = next_index()
                if i >= total:
                    return
                headers, body = deliveries[i]
                started = time.perf_counter()
                try:
                    conn.request("POST", PATH, body=body, headers=headers)
                    response = conn.getresponse()
                    answer = response.read()
                except (OSError, http.client.HTTPException):
                    errors[slot] += 1
                    conn.close()  # reconnects on the next request
                    continue
                mine.append(time.perf_counter() - started)
                key = str(response.status)
                seen[key] = seen.get(key, 0) + 1
                if b'"duplicate":true' in answer:
                    duplicates[slot] += 1
                if response.will_close:
                    conn.close()
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(slot,), daemon=True) for slot in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    merged: dict[str, int] = {}
    for seen in statuses:
        for key, n in seen.items():
            merged[key] = merged.get(key, 0) + n
    return sorted(itertools.chain.from_iterable(latencies)), merged, sum(duplicates), sum(errors), wall


def run_phase(server: Gunicorn, round_no: int, warmup, measured, connections: int) -> Phase:
    _, warm_statuses, warm_dupes, warm_errors, _ = send_all(server.port, warmup, connections)
    server_cpu, client_cpu = server.cpu_seconds(), time.process_time()
    latencies, statuses, duplicates, errors, wall = send_all(server.port, measured, connections)
    server_cpu, client_cpu = server.cpu_seconds() - server_cpu, time.process_time() - client_cpu
    for key, n in warm_statuses.items():
        statuses[f"warmup:{key}"] = n
    ok = statuses.get("200", 0)
    return Phase(
        target=server.name, round=round_no, sent=len(measured), seconds=wall,
        rps=ok / wall if wall else 0.0,
        p50_ms=percentile(latencies, 50) * 1000, p99_ms=percentile(latencies, 99) * 1000,
        statuses=statuses, duplicates=duplicates + warm_dupes, errors=errors + warm_errors,
        server_cpu_ms_per_request=server_cpu * 1000 / len(measured),
        client_cpu_ms_per_request=client_cpu * 1000 / len(measured),
    )


# ---------------------------------------------------------------------------------------------
# report


def summarise(phases: list[Phase], target: str) -> dict:
    mine = [p for p in phases if p.target == target]
    return {
        "rps": statistics.median(p.rps for p in mine),
        "p50_ms": statistics.median(p.p50_ms for p in mine),
        "p99_ms": statistics.median(p.p99_ms for p in mine),
        "server_cpu_ms_per_request": statistics.median(p.server_cpu_ms_per_request for p in mine),
        "client_cpu_ms_per_request": statistics.median(p.client_cpu_ms_per_request for p in mine),
        "rounds_rps": [round(p.rps, 1) for p in mine],
    }


def print_table(phases: list[Phase], summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="webhook ingest: gunicorn gthread 2x4, receivers against bare Flask")
    for column in ("target", "round", "sent", "req/s", "p50 ms", "p99 ms", "srv CPU ms/req",
                   "cli CPU ms/req", "non-200", "dup", "err"):
        table.add_column(column, justify="left" if column == "target" else "right")
    for p in phases:
        non_200 = sum(n for k, n in p.statuses.items() if not k.endswith("200"))
        table.add_row(p.target, str(p.round), str(p.sent), f"{p.rps:.0f}", f"{p.p50_ms:.2f}",
                      f"{p.p99_ms:.2f}", f"{p.server_cpu_ms_per_request:.2f}",
                      f"{p.client_cpu_ms_per_request:.2f}", str(non_200), str(p.duplicates), str(p.errors))
    for target, s in summary.items():
        table.add_row(f"[bold]{target} median", "", "", f"[bold]{s['rps']:.0f}", f"{s['p50_ms']:.2f}",
                      f"{s['p99_ms']:.2f}", f"{s['server_cpu_ms_per_request']:.2f}",
                      f"{s['client_cpu_ms_per_request']:.2f}", "", "", "")
    Console(width=max(Console().width, 110)).print(table)


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="measured requests per target and round")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up requests per target and round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of (bare, verify, store, real)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent keep-alive connections")
    parser.add_argument("--access-log", action="store_true",
                        help="also pass the Procfile's --access-logfile - to both gunicorns")
    parser.add_argument("--real-app", default=TARGETS["real"],
                        help="gunicorn app spec of the real receiver (to try a fix side by side)")
    parser.add_argument("--keep", action="store_true",
                        help="leave the gunicorns running until Enter is pressed (for profiling)")
    args = parser.parse_args(argv)
    if min(args.requests, args.rounds, args.connections) < 1 or args.warmup < 0:
        parser.error("--requests, --rounds and --connections must be at least 1, --warmup at least 0")

    VAR_DIR.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    RUN_DIR.mkdir(parents=True)
    extra = ["--access-logfile", "-"] if args.access_log else []

    # Pre-generated before any timing: per round, one list for the targets that store nothing
    # and for `real`, and one of other orders for `store` (a repeat would be answered as such).
    per_round = args.warmup + args.requests
    print(f"generating {2 * args.rounds * per_round} signed deliveries ...", flush=True)
    batches = [make_deliveries(r * per_round, per_round) for r in range(args.rounds)]
    store_offset = args.rounds * per_round
    store_batches = [make_deliveries(store_offset + r * per_round, per_round) for r in range(args.rounds)]

    services: Services | None = None
    servers: list[Gunicorn] = []
    phases: list[Phase] = []
    try:
        services = prepare_services(database=BENCH_DATABASE, redis_db=BENCH_REDIS_DB, var_dir=VAR_DIR)
        env = child_environment(services)
        targets = {**TARGETS, "real": args.real_app}
        servers = [Gunicorn(name, app, env, extra) for name, app in targets.items()]
        for server in servers:
            server.start()
        print("; ".join(f"{s.name} on :{s.port}" for s in servers)
              + f"; database {services.database_url}, broker {services.redis_url}", flush=True)
        for r in range(args.rounds):
            for server in servers:  # in TARGETS order, every round
                batch = store_batches[r] if server.name == "store" else batches[r]
                phase = run_phase(server, r + 1, batch[:args.warmup], batch[args.warmup:], args.connections)
                phases.append(phase)
                print(f"  round {r + 1} {phase.target}: {phase.rps:.0f} req/s, p50 {phase.p50_ms:.2f} ms, "
                      f"p99 {phase.p99_ms:.2f} ms", flush=True)
        if args.keep:
            input(f"gunicorns still running (real pid {servers[-1].process.pid}); Enter to stop ")

        sent_per_target = args.rounds * per_round
        outcome = count_outcome(services)
        pg = settings_summary(services)
        problems = []
        for target in ("verify", *STORING):
            mine = [p for p in phases if p.target == target]
            non_200 = sum(n for p in mine for k, n in p.statuses.items() if not k.endswith("200"))
            if non_200 or any(p.errors for p in mine):
                problems.append(f"{target}: {non_200} non-200 answers, {sum(p.errors for p in mine)} transport errors")
            if any(p.duplicates for p in mine):
                problems.append(f"{target}: {sum(p.duplicates for p in mine)} answers flagged duplicate")
        expected_rows = len(STORING) * sent_per_target
        if outcome["deliveries"] != expected_rows:
            problems.append(f"deliveries rows {outcome['deliveries']} != requests sent to {'+'.join(STORING)} "
                            f"{expected_rows}")
        if outcome["broker_messages"] != sent_per_target:
            problems.append(f"broker messages {outcome['broker_messages']} != real requests sent {sent_per_target}")

        summary = {target: summarise(phases, target) for target in TARGETS}
        bare_rps = summary["bare"]["rps"]
        ratios = {target: (s["rps"] / bare_rps if bare_rps else 0.0) for target, s in summary.items()}
        ratio = ratios["real"]
        print_table(phases, summary)
        print(f"correctness: requests sent per target={sent_per_target} (incl. warm-up), deliveries rows="
              f"{outcome['deliveries']} states={outcome['states']}, broker messages={outcome['broker_messages']}"
              + ("" if not problems else "  PROBLEMS: " + "; ".join(problems)))
        print(f"ratio={ratio:.2f} real={summary['real']['rps']:.0f} bare={bare_rps:.0f} "
              f"p50/p99 real={summary['real']['p50_ms']:.2f}/{summary['real']['p99_ms']:.2f} "
              f"bare={summary['bare']['p50_ms']:.2f}/{summary['bare']['p99_ms']:.2f}; "
              f"ceilings: verify only {ratios['verify']:.2f}, store without publish {ratios['store']:.2f}")

        result = {
            "ratio": ratio,
            "target_ratio": 0.5,
            "ratios": ratios,
            **summary,
            "phases": [asdict(p) for p in phases],
            "correctness": {"requests_sent_per_target": sent_per_target, **outcome, "problems": problems},
            "settings": {
                "requests": args.requests, "warmup": args.warmup, "rounds": args.rounds,
                "connections": args.connections, "gunicorn": GUNICORN_SETTINGS + extra,
                "targets": targets,
                "services": "environment" if not services.started and os.environ.get("DATABASE_URL")
                and os.environ.get("REDIS_URL") else "embedded",
                "postgres": pg, "cpus": os.cpu_count(),
            },
        }
        RESULT_FILE.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {RESULT_FILE.relative_to(ROOT)}")
        return 1 if problems else 0
    finally:
        for server in servers:
            server.stop()
        release(services, VAR_DIR)


if __name__ == "__main__":
    sys.exit(main())

"""JDE unreachable during a stream of orders: nothing failed, lost or doubled, webhooks processed
throughout, and the backlog drained after recovery, against the bound.

    python -m bench.outage [--orders 300] [--outage-seconds 600] [--mode proxy_503|refuse|both]
                           [--concurrency 4] [--latency 0.1] [--probe-seconds 30] [--shoppers 40]
                           [--seed 7] [--output var/bench/outage.json]

The product as deployed: gunicorn (`web.app:create_app()`, gthread, 2 workers x 4 threads), one
Celery worker (prefork, concurrency C, both queues: `celery` for webhooks, `posting`), Celery
beat; the sandbox JDE AIS server runs in this process with a fixed latency L on every
orchestration and data-service call. Each mode runs on fresh state: a new database, an empty
Redis DB, a new sandbox and new processes.

Method
1. Warm-up (not measured): one order per shopper as a signed `order.updated` webhook over HTTP,
   then wait until all are posted. This creates every shopper's Address Book entry and the
   shared AIS token, so a measured order costs one AIS call (the GL orchestration); the
   sandbox's counters over the pre-outage orders and over the drain show it.
2. Stream: N orders of the same shoppers as signed `order.updated` webhooks over HTTP, from a
   sender thread at one steady pace P = outage seconds / round(2N/3): N//6 before the outage,
   round(2N/3) during it (sent at (k + 1/2) x P after it began, so the last one arrives P/2
   before it ends), the rest after the sandbox answers again, at the same pace. Every send's
   time, answer time and HTTP status are recorded.
3. Outage: the sender calls `sandbox.outage(seconds, mode)` where order N//6 is due; the
   sandbox ends it by itself. `proxy_503` answers every /jderest/* call 503 text/html (as a
   load balancer in front of a JDE in maintenance); `refuse` closes the listening socket.
4. Wait, polling the database with a deadline, until every measured order is final (posted,
   needs_attention, failed) and every delivery processed.
Meanwhile a monitor thread samples, every 0.1 s, the sandbox's counters, the breaker's Redis
keys (`connector:ais:breaker:open`, and the probe slot's TTL: a TTL that goes up is a new slot,
i.e. a probe) and the machine's CPU times.

Definitions (all times wall clock: the database's now(), this process's time.time())
- The outage is [start, end): start = just before `outage()` was called, end = the sandbox's own
  end time (`until`, which its timer keeps to the millisecond).
- An order's posted time = its audit_log `order.state` row with outcome `posted` (written in the
  transaction that finishes the post); its first claim after the end = the first `posting` row.
- Backlog = the measured orders whose webhook was received (deliveries.received_at) before the
  end and which were not posted at the end: those that arrived during the outage, plus any
  that arrived before it and were not posted yet when JDE went away.
- Recovery = end -> breaker closed (the earlier of the breaker's own "JDE AIS answers again"
  log line, to the millisecond, and the open key seen gone, to 0.1 s; the probe's "N orders
  that waited for it sent to posting" line is reported beside it) and end -> first post.
- Drain seconds = first post after the end -> last backlog order posted (the brief's figure).
  Reported beside it: from the first claim after the end (this one includes the posting time
  of the first round of C orders, which the brief's figure leaves out: that flatters the rate
  by about one round in backlog/C, 2% for 200 orders at C = 4, but 25% for 20), from the
  breaker closing, and from the end (this one includes the wait for the probe).
- Calls per order in the drain = the sandbox's orchestrator + data-service counter from the
  breaker closing (or the first claim, if earlier) to the first 0.1 s sample after the last backlog post at which no order is
  in flight (claimed, not finished), divided by the measured orders posted in that window (the
  backlog and the after-outage orders posted meanwhile). Beside it, the backlog orders' own
  AIS calls after the end as the audit_log has them.
- Bound = C / (calls per order x L): C worker processes, each waiting L per call, cannot post
  faster whatever else the pipeline does. Ratio = (backlog / drain seconds) / bound; the
  target is >= 0.8. The AIS time per call as the workers saw it (audit_log durations) is
  reported with an "observed" bound beside it, and the machine's CPU use during the drain.

Load on the dead server: the sandbox's `outage_answers` (proxy mode: every call that reached
it), the probes (probe slots taken), and the orders' own AIS calls during the outage
(audit_log `ais.*` rows: the calls that opened the breaker, with their outcomes), against the
posts deferred meanwhile (the worker's "retry ... deferred" log lines: a deferred post comes
back as a Celery retry every 1-2 probe intervals until JDE answers) and webhooks taken.
In refuse mode nothing reaches the server, so only the connector's side can be counted.

Beat runs with its production schedule, except the WooCommerce poll, the webhook upkeep and
the reconciliation, set to once a day: this bench has no WooCommerce store, and the
reconciliation's own AIS calls would blur the counters. The token refresh keeps its default
(600 s). The commit and working-tree changes at the start and end of each mode are recorded:
the product is edited while benchmarks run, and a mode's processes run the code of its start.

Correctness (exit code 1 when any fails): every webhook answered 200 and processed; no measured
order failed, needs_attention or not posted (lost); in the sandbox's F0911 every batch under
exactly one document, balanced, with the document number the order recorded; no order used
more than one attempt (the outage must use none); no sandbox faults. Everything else is
measured and reported, nothing is asserted on time: "every outage webhook processed before
the end" and "ratio >= 0.8" are shown as targets met or not.

Services: DATABASE_URL / REDIS_URL from the environment when set, else the embedded ones under
var/bench. A fresh database `connector_bench_outage`; Redis DB 11 (flushed before and after).
Results: var/bench/outage.json; the processes' logs: var/bench-outage-run/<mode>/.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import psutil
import psycopg2
import psycopg2.extras
import redis
import requests

from bench.services import Services, cpu_seconds, percentile, prepare_services, release, spawn
from connector.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = ROOT / "var" / "bench"
RUN_DIR = ROOT / "var" / "bench-outage-run"
RESULT_FILE = VAR_DIR / "outage.json"
BENCH_DATABASE = "connector_bench_outage"
BENCH_REDIS_DB = 11
# A fixed key for this benchmark only: the vault seals the shared AIS token with it.
SECRET_KEY = "wRz3kZHL8mGPMos4XhZPIVVUFBjbLu52wLHoEW1XjVo="
AIS_PASSWORD = "0utage-Pa55"
WEBHOOK_SECRET = "bench-outage-webhook-secret"
BREAKER_KEY = "connector:ais:breaker"           # connector/jde/breaker.py
FIRST_ORDER_ID = 70_000
MONITOR_SECONDS = 0.1
POLL_SECONDS = 0.25
START_TIMEOUT = 60.0
TARGET_RATIO = 0.8
FINAL_STATES = ("posted", "needs_attention", "failed")
MODES = ("proxy_503", "refuse")
ONCE_A_DAY = "86400"


# ---------------------------------------------------------------------------------------------
# the processes


def stack_environment(services: Services, ais_url: str, run_dir: Path, args) -> dict[str, str]:
    """The connector's settings, as tests/e2e/conftest.py sets them, plus the outage's."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CONNECTOR_", "AIS_", "WOO_", "SANDBOX_"))
           and k not in ("CELERY_BROKER_URL", "PROMETHEUS_MULTIPROC_DIR")}
    env.update(
        DATABASE_URL=services.database_url, REDIS_URL=services.redis_url,
        AIS_BASE_URL=ais_url, AIS_USERNAME="JDE", AIS_PASSWORD=AIS_PASSWORD, AIS_ENVIRONMENT="JDV920",
        AIS_ROLE="*ALL", AIS_DEVICE_NAME="connector-bench-outage",
        CONNECTOR_SECRET_KEY=SECRET_KEY, CONNECTOR_CONFIG=str(ROOT / "bench" / "mapping.toml"),
        CONNECTOR_VAR_DIR=str(run_dir), WOO_WEBHOOK_SECRET=WEBHOOK_SECRET,
        CONNECTOR_PROBE_SECONDS=str(args.probe_seconds), CONNECTOR_RETRY_BASE_SECONDS="0.5",
        CONNECTOR_LEASE_SECONDS="30", CONNECTOR_SWEEP_SECONDS="10",
        CONNECTOR_POLL_SECONDS=ONCE_A_DAY, CONNECTOR_RECONCILE_SECONDS=ONCE_A_DAY,
        CONNECTOR_WEBHOOKS_SECONDS=ONCE_A_DAY,
    )
    return env


class Stack:
    """gunicorn, one Celery worker and beat, each in its own session; stopped whole."""

    def __init__(self, env: dict[str, str], run_dir: Path):
        self.env, self.run_dir = env, run_dir
        self.procs: dict[str, subprocess.Popen] = {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def log_path(self, name: str) -> Path:
        return self.run_dir / f"{name}.log"

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        self.procs[name] = spawn(command, env=self.env, log_path=self.log_path(name), cwd=ROOT)
        return self.procs[name]

    def start(self, concurrency: int) -> None:
        self._spawn("web", [sys.executable, "-m", "gunicorn", "web.app:create_app()", "--bind",
                            f"127.0.0.1:{self.port}", "--worker-class", "gthread", "--workers", "2",
                            "--threads", "4"])
        worker = self._spawn("worker", [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--concurrency",
                                        str(concurrency), "--loglevel", "INFO", "--without-gossip",
                                        "--without-mingle", "--hostname", f"bench-outage-{os.getpid()}@%h"])
        self._spawn("beat", [sys.executable, "-m", "celery", "-A", "tasks", "beat", "--loglevel", "INFO"])
        _wait(lambda: self._alive() and self._ready(), what="gunicorn to answer /readyz")
        # The pool is up before the consumer; "ready." is logged once the worker consumes.
        _wait(lambda: self._alive() and "ready." in self.log_path("worker").read_text(errors="replace")
              and len(_children(worker)) >= concurrency, what="the Celery worker to be ready")

    def _ready(self) -> bool:
        try:
            return requests.get(self.url + "/readyz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def _alive(self) -> bool:
        dead = {name: p.returncode for name, p in self.procs.items() if p.poll() is not None}
        if dead:
            raise RuntimeError(f"exited: {dead}; see the logs in {self.run_dir}")
        return True

    def dead(self) -> dict[str, int]:
        return {name: p.returncode for name, p in self.procs.items() if p.poll() is not None}

    def cpu_seconds(self) -> float:
        processes = []
        for p in self.procs.values():
            try:
                processes.append(psutil.Process(p.pid))
            except psutil.Error:
                continue
            processes += _children(p)
        return cpu_seconds(processes)

    def stop(self) -> None:
        """TERM each group (a warm shutdown), KILL what is left, and the strays of a dead parent."""
        for p in self.procs.values():
            if p.poll() is None:
                _signal_group(p, signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                _signal_group(p, signal.SIGKILL)
                p.wait(timeout=5)
            _signal_group(p, signal.SIGKILL)


def _signal_group(p: subprocess.Popen, sig) -> None:
    try:
        os.killpg(p.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _children(p: subprocess.Popen) -> list[psutil.Process]:
    try:
        return psutil.Process(p.pid).children(recursive=True)
    except psutil.Error:
        return []


def _wait(condition, *, what: str, timeout: float = START_TIMEOUT, interval: float = 0.1):
    """Poll `condition` until truthy; RuntimeError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# sampling the sandbox, the breaker and the machine


def ais_calls(stats: dict) -> int:
    """Orchestrator and data-service requests answered normally (token requests, validations
    and logouts excluded), as bench/e2e.py counts them."""
    return sum(n for path, n in stats["calls"].items()
               if path.startswith("/jderest/v3/orchestrator/") or path.startswith("/jderest/v2/dataservice"))


class Monitor(threading.Thread):
    """Every 0.1 s: the sandbox's counters, the breaker's keys in Redis, the machine's CPU."""

    def __init__(self, sandbox, redis_url: str):
        super().__init__(name="outage-monitor", daemon=True)
        self.sandbox = sandbox
        self.redis = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
        self.halt = threading.Event()
        # (wall, ais calls, outage answers, token requests, validations, cpu busy s, cpu total s)
        self.samples: list[tuple] = []
        self.opened: list[float] = []       # breaker open key appeared
        self.closed: list[float] = []       # ... and went away
        self.probe_slots: list[float] = []  # probe slot taken (the first after opening is not a probe)
        self.errors: Counter = Counter()
        self.is_open = False

    def run(self) -> None:
        was_open, last_ttl = False, -2
        while True:  # a first sample at once: the stream starts right after
            if self.samples and self.halt.wait(MONITOR_SECONDS):
                break
            now = time.time()
            try:
                stats = self.sandbox.stats()
                cpu = psutil.cpu_times()
                pipe = self.redis.pipeline(transaction=False)
                pipe.exists(f"{BREAKER_KEY}:open")
                pipe.pttl(f"{BREAKER_KEY}:probe")
                is_open, ttl = pipe.execute()
            except Exception as exc:  # a missed sample is reported, not fatal
                self.errors[type(exc).__name__] += 1
                if self.halt.wait(MONITOR_SECONDS):
                    break
                continue
            busy = sum(cpu) - cpu.idle - getattr(cpu, "iowait", 0.0)
            self.samples.append((now, ais_calls(stats), stats["outage_answers"], stats["token_requests"],
                                 stats["validations"], busy, sum(cpu)))
            if is_open and not was_open:
                self.opened.append(now)
            if was_open and not is_open:
                self.closed.append(now)
            if ttl > 0 and ttl > last_ttl:  # the TTL only falls, unless the slot was taken again
                self.probe_slots.append(now)
            was_open, last_ttl = bool(is_open), ttl
            self.is_open = was_open

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=5)
        self.redis.close()

    def at(self, t: float, *, after: bool = True) -> tuple | None:
        """The first sample at or after `t` (`after`), else the last one at or before it."""
        if after:
            return next((s for s in self.samples if s[0] >= t), self.samples[-1] if self.samples else None)
        before = [s for s in self.samples if s[0] <= t]
        return before[-1] if before else (self.samples[0] if self.samples else None)


# ---------------------------------------------------------------------------------------------
# the stream of webhooks


class Sender(threading.Thread):
    """Sends the measured orders at one pace, starts the outage, waits for its end (see the
    docstring's method). Records every send; never raises (the error is kept)."""

    def __init__(self, url: str, phases: dict[str, list[dict]], *, pace: float, sandbox, outage_seconds: float,
                 mode: str, halt: threading.Event):
        super().__init__(name="outage-sender", daemon=True)
        self.url, self.phases, self.pace = url, phases, pace
        self.sandbox, self.outage_seconds, self.mode, self.halt = sandbox, outage_seconds, mode, halt
        self.sends: list[dict] = []
        self.outage: dict = {}
        self.error: str | None = None
        self.http = requests.Session()

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.http.close()

    def _run(self) -> None:
        started = time.monotonic()
        for n, document in enumerate(self.phases["before"]):
            self._send_at(started + n * self.pace, document, "before")
        self._sleep_until(started + len(self.phases["before"]) * self.pace)
        if self.halt.is_set():
            return
        called = time.time()
        state = self.sandbox.outage(self.outage_seconds, mode=self.mode)
        self.outage = {"called": called, "returned": time.time(), "until": state["until"], "mode": state["mode"]}
        began = time.monotonic()
        for k, document in enumerate(self.phases["during"]):
            self._send_at(began + (k + 0.5) * self.pace, document, "during")
        # The rest only once JDE answers again (the sandbox's timer ends the outage).
        deadline = time.monotonic() + self.outage_seconds + 60
        while self.sandbox.stats()["outage"] is not None:
            if self.halt.is_set() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox's outage did not end")
            time.sleep(0.02)
        self.outage["seen_over"] = time.time()
        back = time.monotonic()
        for k, document in enumerate(self.phases["after"]):
            self._send_at(back + (k + 0.5) * self.pace, document, "after")

    def _sleep_until(self, when: float) -> None:
        # Pacing, not synchronisation: the stream is meant to arrive at a steady rate.
        self.halt.wait(max(0.0, when - time.monotonic()))

    def _send_at(self, when: float, document: dict, phase: str) -> None:
        from sandbox.woo_webhooks import signed_delivery

        self._sleep_until(when)
        if self.halt.is_set():
            return
        headers, body = signed_delivery(document, topic="order.updated", secret=WEBHOOK_SECRET)
        sent, status, error = time.time(), None, None
        try:
            response = self.http.post(self.url, data=body, headers=headers, timeout=30)
            status = response.status_code
            if status != 200:
                error = response.text[:300]
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
        self.sends.append({"woo_id": document["id"], "phase": phase, "at": sent,
                           "seconds": time.time() - sent, "status": status, "error": error})


def send_all(url: str, documents: list[dict]) -> list[int]:
    """The warm-up: every order at once, one after the other; the HTTP statuses."""
    from sandbox.woo_webhooks import signed_delivery

    statuses = []
    with requests.Session() as http:
        for document in documents:
            headers, body = signed_delivery(document, topic="order.updated", secret=WEBHOOK_SECRET)
            statuses.append(http.post(url, data=body, headers=headers, timeout=30).status_code)
    return statuses


# ---------------------------------------------------------------------------------------------
# reading the results


def query(conn, sql: str, *args) -> list[dict]:
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(sql, args)
        return [dict(row) for row in cur.fetchall()]


def order_states(conn, woo_ids: list[int]) -> dict[str, int]:
    rows = query(conn, "SELECT state, count(*) AS n FROM orders WHERE woo_id = ANY(%s) GROUP BY state", woo_ids)
    return {row["state"]: row["n"] for row in rows}


def unprocessed_deliveries(conn) -> int:
    return query(conn, "SELECT count(*) AS n FROM deliveries WHERE state NOT IN ('done', 'ignored')")[0]["n"]


def wait_all_final(conn, woo_ids: list[int], timeout: float, what: str, stack: Stack) -> tuple[dict, bool]:
    """Poll until every order of `woo_ids` is final and every delivery processed."""
    deadline = time.monotonic() + timeout
    while True:
        states = order_states(conn, woo_ids)
        if sum(states.get(s, 0) for s in FINAL_STATES) == len(woo_ids) and unprocessed_deliveries(conn) == 0:
            return states, True
        if time.monotonic() > deadline or stack.dead():
            print(f"  gave up waiting for {what}: states {states}, dead processes {stack.dead()}", flush=True)
            return states, False
        time.sleep(POLL_SECONDS)


LOG_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): (\w+)/[^\]]*\] (.*)$")


def log_events(path: Path) -> list[tuple[float, str, str]]:
    """(wall time, level, message) of a Celery log (its timestamps are local time)."""
    events = []
    for line in path.read_text(errors="replace").splitlines():
        match = LOG_LINE.match(line)
        if match:
            at = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            events.append((at, match.group(2), match.group(3)))
    return events


def summary(values: list[float]) -> dict:
    values = sorted(values)
    return {"n": len(values), "p50": percentile(values, 50), "p99": percentile(values, 99),
            "max": values[-1] if values else float("nan"),
            "mean": statistics.fmean(values) if values else float("nan")}


def check_ledger(sandbox, orders: list[dict]) -> dict:
    """F0911 against the orders: batches missing, under several documents, out of balance, and
    document numbers that differ from the one the order recorded."""
    batches = {f"WC-{o['woo_id']}": o for o in orders}
    documents_of: dict[str, set] = defaultdict(set)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in sandbox.f0911_rows():
        if row["VINV"] in batches:
            documents_of[row["VINV"]].add((row["KCO"], row["DCT"], str(row["DOC"])))
            totals[row["VINV"]] += Decimal(row["AA"])
    missing = sorted(set(batches) - set(documents_of))
    several = sorted(b for b, docs in documents_of.items() if len(docs) != 1)
    unbalanced = sorted(b for b, total in totals.items() if total != 0)
    wrong = sorted(b for b, o in batches.items() if o["state"] == "posted" and len(documents_of.get(b, ())) == 1
                   and {doc for _, _, doc in documents_of[b]} != {o["document_number"]})
    return {"missing": missing, "doubled": several, "unbalanced": unbalanced, "wrong_document": wrong}


def analyse(*, conn, sandbox, monitor: Monitor, sender: Sender, stack: Stack, woo_ids: list[int], args,
            states: dict, warmup: dict, settled: bool, cpu: float) -> dict:
    C, L = args.concurrency, args.latency
    start, end = sender.outage["called"], sender.outage["until"]

    orders = query(conn, "SELECT woo_id, state, attempts, document_number, created_at FROM orders "
                         "WHERE woo_id = ANY(%s)", woo_ids)
    deliveries = {row["resource_id"]: row for row in query(
        conn, "SELECT resource_id, state, received_at, processed_at FROM deliveries "
              "WHERE topic = 'order.updated' AND resource_id = ANY(%s)", woo_ids)}
    ids = [str(w) for w in woo_ids]
    state_rows = query(conn, "SELECT subject_id, at, outcome FROM audit_log WHERE subject_type = 'order' "
                             "AND action = 'order.state' AND subject_id = ANY(%s) ORDER BY at", ids)
    ais_rows = query(conn, "SELECT subject_id, at, action, outcome, duration_ms FROM audit_log "
                           "WHERE subject_type = 'order' AND action LIKE 'ais.%%' AND subject_id = ANY(%s)", ids)
    posted_at: dict[int, float] = {}
    claims: list[float] = []
    in_flight: list[tuple[float, float]] = []   # (claimed, left `posting`): when an order was in flight
    claimed: dict[int, float] = {}
    for row in state_rows:
        at, woo_id = row["at"].timestamp(), int(row["subject_id"])
        if row["outcome"] == "posting":
            claims.append(at)
            claimed[woo_id] = at
            continue
        if row["outcome"] == "posted":
            posted_at.setdefault(woo_id, at)
        if woo_id in claimed:
            in_flight.append((claimed.pop(woo_id), at))
    in_flight += [(at, math.inf) for at in claimed.values()]
    received = {w: d["received_at"].timestamp() for w, d in deliveries.items()}

    # -- correctness --------------------------------------------------------------------------
    sends = sender.sends
    not_200 = [s for s in sends if s["status"] != 200]
    by_state = Counter(o["state"] for o in orders)
    lost = len(woo_ids) - by_state.get("posted", 0) - by_state.get("needs_attention", 0) - by_state.get("failed", 0)
    ledger = check_ledger(sandbox, orders)
    attempts = Counter(o["attempts"] for o in orders)
    faults = {k: v for k, v in sandbox.stats()["faults"].items() if v}
    correctness = {
        "sent": len(sends), "answered_200": len(sends) - len(not_200),
        "not_200": [{k: s[k] for k in ("woo_id", "phase", "status", "error")} for s in not_200[:5]],
        "deliveries_not_processed": sum(1 for d in deliveries.values() if d["state"] != "done")
                                    + (len(woo_ids) - len(deliveries)),
        "states": dict(by_state), "failed": by_state.get("failed", 0),
        "needs_attention": by_state.get("needs_attention", 0),
        "not_posted": len(woo_ids) - by_state.get("posted", 0), "lost": lost,
        "doubled": len(ledger["doubled"]), "unbalanced": len(ledger["unbalanced"]),
        "missing_in_f0911": len(ledger["missing"]), "document_differs": len(ledger["wrong_document"]),
        "examples": {k: v[:3] for k, v in ledger.items() if v},
        "max_attempts": max(attempts) if attempts else None, "attempts": dict(sorted(attempts.items())),
        "sandbox_faults": faults, "settled": settled,
    }
    problems = []
    if len(sends) != len(woo_ids):
        problems.append(f"only {len(sends)} of {len(woo_ids)} orders were sent")
    if not_200:
        problems.append(f"{len(not_200)} webhooks not answered 200, e.g. {correctness['not_200'][:2]}")
    if correctness["deliveries_not_processed"]:
        problems.append(f"{correctness['deliveries_not_processed']} deliveries not processed")
    for key in ("failed", "needs_attention", "not_posted", "doubled", "unbalanced", "missing_in_f0911",
                "document_differs"):
        if correctness[key]:
            problems.append(f"{correctness[key]} orders {key.replace('_', ' ')}")
    if (correctness["max_attempts"] or 0) > 1:
        problems.append(f"orders used more than one attempt: {correctness['attempts']}")
    if faults:
        problems.append(f"sandbox faults: {faults}")
    if sender.error:
        problems.append(f"sender: {sender.error}")

    # -- webhooks -----------------------------------------------------------------------------
    def delivery_latency(phase: str) -> dict:
        rows = [deliveries[s["woo_id"]] for s in sends if s["phase"] == phase and s["woo_id"] in deliveries]
        done = [r for r in rows if r["processed_at"] is not None]
        out = summary([(r["processed_at"] - r["received_at"]).total_seconds() * 1000 for r in done])
        out["http_ms"] = summary([s["seconds"] * 1000 for s in sends if s["phase"] == phase])
        return out

    in_outage = [d for d in deliveries.values() if start <= d["received_at"].timestamp() < end]
    processed_in_outage = [d for d in in_outage if d["processed_at"] and d["processed_at"].timestamp() < end]
    webhooks = {
        "received_during_outage": len(in_outage),
        "processed_before_outage_end": len(processed_in_outage),
        "during": delivery_latency("during"), "before": delivery_latency("before"),
        "after": delivery_latency("after"),
        "last_received_before_end_s": end - max((d["received_at"].timestamp() for d in in_outage), default=end),
    }

    # -- the dead server ------------------------------------------------------------------------
    events = log_events(stack.log_path("worker"))
    in_window = [(at, msg) for at, _, msg in events if start <= at < end]
    deferred_posts = sum(1 for _, msg in in_window if "post_order[" in msg and "retry:" in msg and "'deferred:" in msg)
    counted_retries = sum(1 for _, msg in in_window if "post_order[" in msg and "retry:" in msg and "'retry:" in msg)
    watch = Counter(m.group(1) for _, msg in in_window
                    if (m := re.search(r"watch_ais\[[^\]]*\] succeeded in [\d.]+s: \{'jde': '(\w+)'\}", msg)))
    errors_in_window = [msg[:200] for at, level, msg in events if level in ("ERROR", "CRITICAL") and start <= at < end]
    calls_in_outage = [r for r in ais_rows if start <= r["at"].timestamp() < end + 0.5]
    s0, s1 = monitor.at(start, after=False), monitor.at(end, after=False)
    opened = [t for t in monitor.opened if start <= t <= end]
    slots = [t for t in monitor.probe_slots if start <= t < end]
    dead_server = {
        "outage_answers": sandbox.stats()["outage_answers"],
        "normal_ais_calls_during_outage": (s1[1] - s0[1]) if s0 and s1 else None,
        "breaker_opened_after_s": (opened[0] - start) if opened else None,
        # The slot taken when the breaker opened is no probe; each later one is.
        "probes": max(0, len(slots) - (1 if opened else 0)),
        "probe_every_s": args.probe_seconds,
        "order_ais_calls_during_outage": dict(Counter(f"{r['action']}:{r['outcome']}" for r in calls_in_outage)),
        "deferred_posts": deferred_posts, "counted_retries": counted_retries,
        "watch_ais": dict(watch), "worker_errors_during_outage": errors_in_window[:5],
        "worker_error_count_during_outage": len(errors_in_window),
        "token_requests_during_outage": (s1[3] - s0[3]) if s0 and s1 else None,
        "validations_during_outage": (s1[4] - s0[4]) if s0 and s1 else None,
    }

    # -- recovery and the drain -----------------------------------------------------------------
    backlog = [w for w in woo_ids if w in received and received[w] < end and not (posted_at.get(w, math.inf) < end)]
    backlog_before = [w for w in backlog if received[w] < start]
    # The breaker's own log line has the millisecond; the monitor's sample is 0.1 s coarse.
    close_lines = [at for at, _, msg in events if "JDE AIS answers again: posting resumes" in msg and at >= end - 1]
    closed = min([t for t in monitor.closed if t >= end - MONITOR_SECONDS][:1] + close_lines[:1], default=None)
    answers = [(at, int(m.group(1))) for at, _, msg in events
               if (m := re.search(r"JDE answers again: (\d+) orders that waited", msg)) and at >= end - 1]
    first_post = min((t for t in posted_at.values() if t >= end), default=None)
    first_claim = min((t for t in claims if t >= end), default=None)
    backlog_posted = [posted_at[w] for w in backlog if w in posted_at]
    last_backlog = max(backlog_posted) if len(backlog_posted) == len(backlog) and backlog else None
    drain: dict = {"backlog": len(backlog), "backlog_received_before_outage": len(backlog_before),
                   "breaker_closed_after_s": (closed - end) if closed else None,
                   "worker_recovery_line_after_s": (answers[0][0] - end) if answers else None,
                   "sent_on_recovery": answers[0][1] if answers else None,
                   "first_post_after_s": (first_post - end) if first_post else None,
                   "first_claim_after_s": (first_claim - end) if first_claim else None}
    if first_post and last_backlog and closed:
        seconds = last_backlog - first_post
        window_start = min(closed, first_claim or closed)
        # The sandbox counts a call when it arrives, a post counts when it is finished: the
        # window ends at the first sample after the last backlog post with no order in flight,
        # so every call counted belongs to an order counted.
        a = monitor.at(window_start, after=False)
        b = next((x for x in monitor.samples if x[0] >= last_backlog
                  and not any(c <= x[0] < f for c, f in in_flight)), monitor.samples[-1])
        posted_in_window = sum(1 for t in posted_at.values() if a[0] <= t <= b[0])
        calls = b[1] - a[1]
        calls_per_order = calls / posted_in_window if posted_in_window else float("nan")
        bound = C / (calls_per_order * L) if calls_per_order else float("inf")
        in_backlog = set(backlog)
        backlog_calls = [r for r in ais_rows if int(r["subject_id"]) in in_backlog and r["at"].timestamp() >= end]
        orchestrations = [r["duration_ms"] for r in ais_rows if r["action"].startswith("ais.orchestrator/")
                          and r["outcome"] == "ok" and window_start <= r["at"].timestamp() <= last_backlog
                          and r["duration_ms"] is not None]
        ms_per_call = statistics.fmean(orchestrations) if orchestrations else float("nan")
        observed_bound = C / (calls_per_order * ms_per_call / 1000) if orchestrations else float("nan")
        rate = len(backlog) / seconds if seconds > 0 else float("inf")
        cpu_busy = (b[5] - a[5]) / (b[6] - a[6]) if b[6] > a[6] else float("nan")
        drain.update({
            "seconds": seconds, "rate": rate, "calls_per_order": calls_per_order, "sandbox_ais_calls": calls,
            "orders_posted_in_window": posted_in_window, "calls_window_end_after_last_s": b[0] - last_backlog,
            "token_requests": b[3] - a[3], "validations": b[4] - a[4],
            "audited_ais_calls_per_backlog_order": len(backlog_calls) / len(backlog),
            "bound": bound, "ratio": rate / bound,
            "seconds_from_first_claim": (last_backlog - first_claim) if first_claim else None,
            "ratio_from_first_claim": (len(backlog) / (last_backlog - first_claim) / bound) if first_claim else None,
            "seconds_from_breaker_close": last_backlog - closed,
            "ratio_from_breaker_close": len(backlog) / (last_backlog - closed) / bound,
            "seconds_from_outage_end": last_backlog - end,
            "ratio_from_outage_end": len(backlog) / (last_backlog - end) / bound,
            "orchestration_ms_observed": ms_per_call, "observed_bound": observed_bound,
            "observed_ratio": rate / observed_bound if observed_bound == observed_bound else float("nan"),
            "machine_cpu_busy": cpu_busy,
        })
    else:
        problems.append("the drain could not be measured (backlog not posted, or the breaker never closed)")

    # -- before the outage: what a measured order costs ----------------------------------------
    before_ids = [s["woo_id"] for s in sends if s["phase"] == "before"]
    a, b = monitor.at(min(s["at"] for s in sends), after=False), monitor.at(start, after=False)
    posted_before = sum(1 for w in before_ids if posted_at.get(w, math.inf) < start)
    targets = {
        "all_outage_webhooks_processed_during_outage": len(processed_in_outage) == len(in_outage),
        "ratio_at_least": TARGET_RATIO,
        "ratio_met": bool(drain.get("ratio") and drain["ratio"] >= TARGET_RATIO),
    }
    return {
        "mode": sender.outage["mode"],
        "outage": {"start": start, "end": end, "seconds": end - start, "seen_over_after_s": sender.outage.get(
            "seen_over", end) - end, "pace_s": sender.pace,
            "sent": dict(Counter(s["phase"] for s in sends))},
        "correctness": correctness, "webhooks": webhooks, "dead_server": dead_server, "drain": drain,
        "before_outage": {"orders_posted": posted_before,
                          "ais_calls_per_order": (b[1] - a[1]) / posted_before if posted_before else None},
        "warmup": warmup, "targets": targets, "problems": problems,
        "processes_cpu_s": cpu, "monitor_errors": dict(monitor.errors), "final_states": states,
    }


# ---------------------------------------------------------------------------------------------
# one mode


def run_mode(mode: str, args, warmup_docs: list[dict], phases: dict[str, list[dict]]) -> dict:
    from sandbox.ais import AisSandbox

    run_dir = RUN_DIR / mode
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    n_during = len(phases["during"])
    pace = args.outage_seconds / n_during
    print(f"[{mode}] {sum(map(len, phases.values()))} orders: {len(phases['before'])} before, {n_during} during "
          f"a {args.outage_seconds:.0f}s outage, {len(phases['after'])} after; one every {pace:.2f}s", flush=True)

    code_at_start = _code()
    services = None
    sandbox = AisSandbox(seed=args.seed, password=AIS_PASSWORD, latency=args.latency)
    stack = conn = monitor = sender = None
    halt = threading.Event()
    try:
        services = prepare_services(database=BENCH_DATABASE, redis_db=BENCH_REDIS_DB, var_dir=VAR_DIR)
        sandbox.start()
        stack = Stack(stack_environment(services, sandbox.url, run_dir, args), run_dir)
        stack.start(args.concurrency)
        conn = psycopg2.connect(services.database_url)
        conn.autocommit = True
        webhook_url = stack.url + "/webhooks/woocommerce"

        # 1. Warm-up: Address Book entries and the token, so a measured order costs one call.
        before = sandbox.stats()
        started = time.monotonic()
        statuses = send_all(webhook_url, warmup_docs)
        warm_ids = [d["id"] for d in warmup_docs]
        warm_states, warm_done = wait_all_final(conn, warm_ids, 120, "the warm-up", stack)
        after = sandbox.stats()
        warmup = {"orders": len(warm_ids), "seconds": time.monotonic() - started, "states": warm_states,
                  "http": dict(Counter(statuses)), "ais_calls": ais_calls(after) - ais_calls(before),
                  "token_requests": after["token_requests"] - before["token_requests"],
                  "customers": after["customers"]}
        print(f"[{mode}] warm-up: {warmup}", flush=True)
        if not warm_done or warm_states != {"posted": len(warm_ids)} or set(statuses) != {200}:
            raise RuntimeError(f"the warm-up did not post every order: {warmup}")

        # 2.-3. The stream, the outage inside it.
        monitor = Monitor(sandbox, services.redis_url)
        monitor.start()
        sender = Sender(webhook_url, phases, pace=pace, sandbox=sandbox, outage_seconds=args.outage_seconds,
                        mode=mode, halt=halt)
        sender.start()
        woo_ids = [d["id"] for docs in phases.values() for d in docs]
        next_report = time.monotonic()
        while sender.is_alive():
            sender.join(timeout=1)
            if stack.dead():
                raise RuntimeError(f"a process exited during the stream: {stack.dead()}; see {run_dir}")
            if time.monotonic() >= next_report:
                next_report += 30
                print(f"[{mode}] t={time.monotonic() - started:5.0f}s sent {len(sender.sends)}, "
                      f"orders {order_states(conn, woo_ids)}, breaker {'open' if monitor.is_open else 'closed'}, "
                      f"outage {sandbox.stats()['outage']}, outage answers {sandbox.stats()['outage_answers']}",
                      flush=True)

        # 4. Everything final.
        timeout = max(300.0, 10 * args.probe_seconds + 5 * len(woo_ids) * args.latency)
        states, settled = wait_all_final(conn, woo_ids, timeout, "the measured orders", stack)
        print(f"[{mode}] final: {states} ({'settled' if settled else 'NOT settled'})", flush=True)
        monitor.stop()
        cpu = stack.cpu_seconds()
        stack.stop()  # the worker's log is complete from here on
        result = analyse(conn=conn, sandbox=sandbox, monitor=monitor, sender=sender, stack=stack, woo_ids=woo_ids,
                         args=args, states=states, warmup=warmup, settled=settled, cpu=cpu)
        result["logs"] = str(run_dir.relative_to(ROOT))
        result["code"] = {"start": code_at_start, "end": _code()}
        result["code"]["changed_during_run"] = result["code"]["start"] != result["code"]["end"]
        return result
    finally:
        halt.set()
        if sender is not None:
            sender.join(timeout=35)
        if monitor is not None:
            monitor.stop()
        if stack is not None:
            stack.stop()
        if conn is not None:
            conn.close()
        sandbox.stop()
        release(services, VAR_DIR)


# ---------------------------------------------------------------------------------------------
# report


def _f(value, fmt: str = ".2f", unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:{fmt}}{unit}"


def print_table(results: list[dict], args) -> None:
    from rich.console import Console
    from rich.table import Table

    rows = [
        ("webhooks answered 200", lambda r: f"{r['correctness']['answered_200']}/{r['correctness']['sent']}"),
        ("orders posted / failed / needs attention",
         lambda r: f"{r['correctness']['states'].get('posted', 0)} / {r['correctness']['failed']} / "
                   f"{r['correctness']['needs_attention']}"),
        ("lost / doubled / unbalanced / doc differs",
         lambda r: f"{r['correctness']['lost']} / {r['correctness']['doubled']} / {r['correctness']['unbalanced']} / "
                   f"{r['correctness']['document_differs']}"),
        ("max attempts", lambda r: str(r["correctness"]["max_attempts"])),
        ("calls per order before the outage", lambda r: _f(r["before_outage"]["ais_calls_per_order"])),
        ("breaker open after outage start", lambda r: _f(r["dead_server"]["breaker_opened_after_s"], ".1f", " s")),
        ("webhooks in outage processed before its end",
         lambda r: f"{r['webhooks']['processed_before_outage_end']}/{r['webhooks']['received_during_outage']}"),
        ("outage webhook receipt->processed p50/p99/max",
         lambda r: " / ".join(_f(r["webhooks"]["during"][k], ".0f") for k in ("p50", "p99", "max")) + " ms"),
        ("outage webhook HTTP answer p50/p99",
         lambda r: " / ".join(_f(r["webhooks"]["during"]["http_ms"][k], ".0f") for k in ("p50", "p99")) + " ms"),
        ("after-outage webhook receipt->processed p50/max",
         lambda r: " / ".join(_f(r["webhooks"]["after"][k], ".0f") for k in ("p50", "max")) + " ms"),
        ("AIS outage answers (proxy) / probes", lambda r: f"{r['dead_server']['outage_answers']} / "
                                                          f"{r['dead_server']['probes']}"),
        ("order AIS calls during outage", lambda r: str(sum(r["dead_server"]["order_ais_calls_during_outage"].values()))),
        ("deferred posts during outage", lambda r: str(r["dead_server"]["deferred_posts"])),
        ("backlog (received before end, not posted)", lambda r: str(r["drain"]["backlog"])),
        ("breaker closed / first post after end",
         lambda r: f"{_f(r['drain']['breaker_closed_after_s'], '.1f')} / {_f(r['drain']['first_post_after_s'], '.1f')} s"),
        ("drain seconds (first post -> last backlog)", lambda r: _f(r["drain"].get("seconds"), ".2f", " s")),
        ("drain rate / bound", lambda r: f"{_f(r['drain'].get('rate'), '.1f')} / {_f(r['drain'].get('bound'), '.1f')} /s"),
        ("calls per order in the drain", lambda r: _f(r["drain"].get("calls_per_order"))),
        ("ratio (target >= 0.8)", lambda r: _f(r["drain"].get("ratio"))),
        ("ratio from first claim / breaker close",
         lambda r: f"{_f(r['drain'].get('ratio_from_first_claim'))} / {_f(r['drain'].get('ratio_from_breaker_close'))}"),
        ("drain from outage end (incl. probe wait)",
         lambda r: f"{_f(r['drain'].get('seconds_from_outage_end'), '.1f')} s, ratio "
                   f"{_f(r['drain'].get('ratio_from_outage_end'))}"),
        ("AIS ms per orchestration seen / observed ratio",
         lambda r: f"{_f(r['drain'].get('orchestration_ms_observed'), '.0f')} / {_f(r['drain'].get('observed_ratio'))}"),
        ("machine CPU busy in the drain", lambda r: _f(r["drain"].get("machine_cpu_busy"), ".0%")),
        ("checks", lambda r: "ok" if not r["problems"] else f"{len(r['problems'])} problems"),
    ]
    table = Table(title=f"JDE outage of {args.outage_seconds:.0f}s during {args.orders} orders: C={args.concurrency}, "
                        f"L={args.latency * 1000:.0f} ms, probe every {args.probe_seconds:.0f}s")
    table.add_column("figure")
    for r in results:
        table.add_column(r["mode"], justify="right")
    for label, cell in rows:
        values = []
        for r in results:
            try:
                values.append(cell(r))
            except (KeyError, TypeError, ValueError):
                values.append("-")
        table.add_row(label, *values)
    Console(width=max(Console().width, 120)).print(table)


def _git(*args: str) -> str:
    """The code measured: HEAD and the working tree's changes (the product is edited meanwhile)."""
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _code() -> dict:
    return {"commit": _git("rev-parse", "HEAD"), "tree_changes": _git("status", "--short").splitlines()}


def _interrupted(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def split_stream(documents: list[dict]) -> dict[str, list[dict]]:
    n = len(documents)
    before, during = n // 6, round(2 * n / 3)
    return {"before": documents[:before], "during": documents[before:before + during],
            "after": documents[before + during:]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.outage", description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=300, help="measured orders in the stream")
    parser.add_argument("--outage-seconds", type=float, default=600.0, help="how long JDE is unreachable")
    parser.add_argument("--mode", choices=(*MODES, "both"), default="proxy_503",
                        help="proxy_503: a proxy answers 503 HTML; refuse: connections refused; both: one "
                             "after the other, each on fresh state")
    parser.add_argument("--concurrency", type=int, default=4, help="worker concurrency C")
    parser.add_argument("--latency", type=float, default=0.1, help="sandbox seconds per AIS call, L")
    parser.add_argument("--probe-seconds", type=float, default=30.0, help="CONNECTOR_PROBE_SECONDS")
    parser.add_argument("--shoppers", type=int, default=40, help="returning (registered) shoppers")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", type=Path, default=RESULT_FILE, help="the JSON result file")
    args = parser.parse_args(argv)
    if min(args.orders, args.shoppers, args.concurrency) < 1 or args.latency <= 0 or args.outage_seconds <= 0 \
            or args.probe_seconds <= 0 or round(2 * args.orders / 3) < 1:
        parser.error("--orders, --shoppers, --concurrency must be at least 1; the seconds and latency above 0")

    from sandbox.woo_orders import order_document, shoppers

    # Children run in their own sessions: a Ctrl-C reaches only this process, whose `finally`
    # blocks stop them. A SIGTERM takes the same path.
    signal.signal(signal.SIGTERM, _interrupted)
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    people = shoppers(rng, args.shoppers, guests=0)
    warmup_docs = [order_document(rng, FIRST_ORDER_ID + n, person) for n, person in enumerate(people)]
    measured = [order_document(rng, FIRST_ORDER_ID + len(people) + n, rng.choice(people)) for n in range(args.orders)]
    phases = split_stream(measured)

    results = []
    for mode in (MODES if args.mode == "both" else (args.mode,)):
        results.append(run_mode(mode, args, warmup_docs, phases))
        r = results[-1]
        print(f"[{mode}] ratio {_f(r['drain'].get('ratio'))}, backlog {r['drain']['backlog']}, "
              f"problems {r['problems'] or 'none'}"
              + ("; NOTE: the repository changed during this mode" if r["code"]["changed_during_run"] else ""),
              flush=True)

    print_table(results, args)
    problems = [f"{r['mode']}: {p}" for r in results for p in r["problems"]]
    document = {
        "results": results, "problems": problems,
        "targets": {"ratio": TARGET_RATIO, "outage_webhooks_processed_during_outage": "all"},
        "settings": {"orders": args.orders, "outage_seconds": args.outage_seconds, "modes": [r["mode"] for r in results],
                     "concurrency": args.concurrency, "latency": args.latency, "probe_seconds": args.probe_seconds,
                     "shoppers": args.shoppers, "seed": args.seed, "retry_base_seconds": 0.5, "lease_seconds": 30,
                     "sweep_seconds": 10, "web": "gunicorn gthread 2x4", "pool": "prefork", "cpus": os.cpu_count(),
                     "command": " ".join(["python -m bench.outage", *(argv if argv is not None else sys.argv[1:])]),
                     **_code()},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"wrote {args.output}" + ("" if not problems else "\nPROBLEMS: " + "; ".join(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the children are stopped by then (run_mode's `finally`)
        print("interrupted: nothing written", file=sys.stderr)
        sys.exit(130)

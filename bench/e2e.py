"""Posting throughput end to end: Celery workers posting orders to a slow AIS, against the bound.

    python -m bench.e2e [--orders 400] [--concurrency 4 8] [--workers 1] [--latency 0.1] [--shoppers 40]

The real pipeline: a Celery worker (prefork, concurrency C) runs `post_order` against the
sandbox AIS server, started in this process with a fixed latency on every orchestration and
data-service call. With every call taking `latency` seconds and the worker's C processes the
only parallelism, no pipeline can post more than

    bound = C / (AIS calls per order x latency)   orders per second,

With `--workers N`, N worker processes of concurrency C each (own hostnames, as N hosts would
run them) share the queue, and the bound is the one of the total concurrency N x C. So the ratio
measured / bound says how much of the time the workers spend on anything but
waiting for JDE (Postgres round trips, the audit trail, Celery's own bookkeeping, CPU).
The calls per order are those the sandbox counted (orchestrator + data service paths, token
requests excluded) during the measured phase, so the bound is the one of this run.

For each C, in one run: start a worker; warm up with one order per shopper (the first warm-up
creates every customer's Address Book entry and the shared token; not measured); then enqueue
N orders of the same, now returning, shoppers at once and time from the first enqueue until
the database shows all N posted (polled every 50 ms). Orders are stored as `ready` rows
beforehand through the delivery path (`connector.deliveries.process`) in this process, so the
worker does nothing but post.

Services: DATABASE_URL / REDIS_URL from the environment when set, else the embedded ones under
var/bench (stopped again at the end if this run started them). A fresh database
`connector_bench_e2e`; Redis DB 12 for the broker and the token (flushed before and after).

The AIS time per call as the workers saw it (audit_log durations) is reported beside the
sandbox's latency, with an "observed" bound and ratio computed from it: the sandbox's
http.server answers in two writes with Nagle on, which costs ~40 ms a call against a
delayed-ACK client; `--sandbox-nodelay` switches Nagle off on its sockets (in this process).

Correctness is checked for every measured order: posted, and in the sandbox's F0911 under
exactly one document whose lines balance. This is a measurement: nothing here asserts on time.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path

import psutil

from bench.services import Services, cpu_seconds, percentile, prepare_services, release, spawn

ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = ROOT / "var" / "bench"
RUN_DIR = ROOT / "var" / "bench-e2e-run"
RESULT_FILE = VAR_DIR / "e2e.json"
BENCH_DATABASE = "connector_bench_e2e"
BENCH_REDIS_DB = 12
SOURCE = "https://shop.example.com/"     # connector.toml [store] source
# A fixed key for this benchmark only: the vault seals the shared AIS token with it.
SECRET_KEY = "da8xCbH8d8EI-8wBRWH87Brrro5cGSI6dYf_QOalPLo="
AIS_PASSWORD = "b3nch-Pa55"
FIRST_ORDER_ID = 50_000
POLL_SECONDS = 0.05
START_TIMEOUT = 60.0
TARGET_RATIO = 0.8
TARGET_CALLS_PER_ORDER = 1.1
DONE_STATES = ("posted", "failed", "needs_attention")


# ---------------------------------------------------------------------------------------------
# services










def connector_environment(services: Services, ais_url: str, shop=None) -> dict[str, str]:
    """What the worker (and this process, before it imports `tasks`) runs with: the demo store's
    mapping (revenue by category included), its products from the sandbox shop's REST API."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("CELERY_BROKER_URL", "PROMETHEUS_MULTIPROC_DIR", "SANDBOX_AIS_URL")}
    env.update(
        DATABASE_URL=services.database_url, REDIS_URL=services.redis_url,
        AIS_BASE_URL=ais_url, AIS_USERNAME="JDE", AIS_PASSWORD=AIS_PASSWORD, AIS_ENVIRONMENT="JDV920",
        AIS_ROLE="*ALL", AIS_DEVICE_NAME="connector-bench-e2e",
        CONNECTOR_SECRET_KEY=SECRET_KEY, CONNECTOR_CONFIG=str(ROOT / "connector.toml"),
        CONNECTOR_VAR_DIR=str(RUN_DIR),
    )
    if shop is not None:
        env.update(WOO_STORE_URL=shop.url, WOO_CONSUMER_KEY=shop.consumer_key, WOO_CONSUMER_SECRET=shop.consumer_secret)
    return env


# ---------------------------------------------------------------------------------------------
# orders


def make_orders(rng: random.Random, people, first_id: int, count: int, *, round_robin: bool) -> list[dict]:
    from sandbox.woo_orders import order_document

    return [order_document(rng, first_id + n, people[n % len(people)] if round_robin else rng.choice(people))
            for n in range(count)]


def load_orders(db, documents: list[dict], posting_statuses) -> list[int]:
    """Store each order as a processed `order.created` delivery; returns the order row ids."""
    from connector import deliveries
    from connector.store import deliveries as delivery_rows
    from sandbox.woo_webhooks import php_json_encode

    row_ids = []
    for start in range(0, len(documents), 100):
        with db.transaction() as cur:
            for document in documents[start:start + 100]:
                body = php_json_encode(document)
                wc_delivery_id = str(document["id"])
                delivery_id, _ = delivery_rows.insert(
                    cur, source=SOURCE, topic="order.created", webhook_id="1", wc_delivery_id=wc_delivery_id,
                    body=body, body_sha256=hashlib.sha256(body).digest(),
                    dedupe_key=hashlib.sha256(body + wc_delivery_id.encode()).digest(),
                    state="received", error=None, lease_seconds=3600)
                result = deliveries.process(cur, delivery_id, posting_statuses=posting_statuses)
                if result is None or not result.order_ready:
                    raise RuntimeError(f"order {document['id']} was not stored as ready: {result}")
                row_ids.append(result.row_id)
    return row_ids


# ---------------------------------------------------------------------------------------------
# the worker


class Worker:
    """`celery -A tasks worker` (prefork) in its own session, stopped with its pool children."""

    def __init__(self, concurrency: int, env: dict[str, str], extra_args: list[str] = (), index: int = 0):
        self.concurrency = concurrency
        self.extra_args = list(extra_args)
        self.name = f"bench-e2e-c{concurrency}-w{index}-{os.getpid()}"
        self.log_path = RUN_DIR / f"worker-c{concurrency}-w{index}.log"
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self, app) -> None:
        command = [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--concurrency", str(self.concurrency),
                   "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--hostname", f"{self.name}@%h",
                   *self.extra_args]
        self.process = spawn(command, env=self.env, log_path=self.log_path, cwd=ROOT)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}; see {self.log_path}")
            replies = app.control.ping(timeout=0.5)
            if any(name.startswith(self.name + "@") for reply in replies for name in reply):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker not answering ping after {START_TIMEOUT:.0f}s; see {self.log_path}")
        deadline = time.monotonic() + START_TIMEOUT
        while len(self.children()) < self.concurrency:  # the pool is up before the consumer; be sure
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker pool did not reach {self.concurrency} processes; see {self.log_path}")
            time.sleep(0.05)

    def children(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            return []

    def cpu_seconds(self) -> float:
        return cpu_seconds([psutil.Process(self.process.pid), *self.children()])

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)  # warm shutdown: the queue is empty by now
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.process.wait(timeout=5)
        self._signal_group(signal.SIGKILL)  # pool children a dead parent left behind

    def _signal_group(self, sig) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


# ---------------------------------------------------------------------------------------------
# one phase


def ais_calls(stats: dict) -> int:
    """Orchestrator and data-service requests (token requests, validate and logout excluded)."""
    return sum(n for path, n in stats["calls"].items()
               if path.startswith("/jderest/v3/orchestrator/") or path.startswith("/jderest/v2/dataservice"))


def stats_delta(before: dict, after: dict) -> dict:
    paths = set(before["calls"]) | set(after["calls"])
    return {
        "calls_by_path": {p: after["calls"].get(p, 0) - before["calls"].get(p, 0) for p in sorted(paths)
                          if after["calls"].get(p, 0) - before["calls"].get(p, 0)},
        "ais_calls": ais_calls(after) - ais_calls(before),
        "token_requests": after["token_requests"] - before["token_requests"],
        "validations": after["validations"] - before["validations"],
        "invalid_token_responses": after["invalid_token_responses"] - before["invalid_token_responses"],
        "faults": {k: after["faults"].get(k, 0) - before["faults"].get(k, 0) for k in after["faults"]},
    }


def states_of(db, row_ids: list[int]) -> dict[str, int]:
    with db.transaction() as cur:
        cur.execute("SELECT state, count(*) AS n FROM orders WHERE id = ANY(%s) GROUP BY state", (row_ids,))
        return {row["state"]: row["n"] for row in cur.fetchall()}


def run_orders(db, post_order, row_ids: list[int], timeout: float) -> tuple[float, float, dict[str, int]]:
    """Enqueue every row, poll until all are finished; (wall seconds, wall-clock start, states)."""
    with db.transaction() as cur:
        cur.execute("SELECT woo_id FROM orders WHERE id = ANY(%s::bigint[])", (row_ids,))
        woo_ids = [row["woo_id"] for row in cur.fetchall()]
    started_wall, started = time.time(), time.perf_counter()
    for woo_id in woo_ids:
        post_order.apply_async(args=[woo_id])
    while True:
        time.sleep(POLL_SECONDS)
        states = states_of(db, row_ids)
        if sum(states.get(s, 0) for s in DONE_STATES) >= len(row_ids):
            return time.perf_counter() - started, started_wall, states
        if time.perf_counter() - started > timeout:
            return time.perf_counter() - started, started_wall, states




def timings(db, documents: list[dict], started_wall: float) -> dict:
    """Per-order figures from the audit trail: claim → posted, and the AIS time inside it."""
    woo_ids = [str(d["id"]) for d in documents]
    with db.transaction() as cur:
        cur.execute(
            """
            SELECT subject_id,
                   min(at) FILTER (WHERE action = 'order.state' AND outcome = 'posting') AS claimed,
                   max(at) FILTER (WHERE action = 'order.state' AND outcome = 'posted')  AS posted,
                   coalesce(sum(duration_ms) FILTER (WHERE action LIKE 'ais.%%'), 0)    AS ais_ms,
                   count(*) FILTER (WHERE action LIKE 'ais.%%')                         AS ais_rows,
                   min(at - make_interval(secs => duration_ms / 1000.0))
                       FILTER (WHERE action LIKE 'ais.%%')                              AS first_call,
                   max(at) FILTER (WHERE action LIKE 'ais.%%')                          AS last_call
            FROM audit_log WHERE subject_type = 'order' AND subject_id = ANY(%s)
            GROUP BY subject_id
            """,
            (woo_ids,))
        rows = cur.fetchall()
    posting_ms = sorted((r["posted"] - r["claimed"]).total_seconds() * 1000 for r in rows
                        if r["posted"] and r["claimed"])
    ais_ms = [float(r["ais_ms"]) for r in rows]
    # Where the rest goes: claim -> first AIS call starts; last AIS call returns -> finish.
    before = [(r["first_call"] - r["claimed"]).total_seconds() * 1000 for r in rows
              if r["first_call"] and r["claimed"]]
    after = [(r["posted"] - r["last_call"]).total_seconds() * 1000 for r in rows if r["posted"] and r["last_call"]]
    calls = sum(r["ais_rows"] for r in rows)
    last_posted = max((r["posted"] for r in rows if r["posted"]), default=None)
    return {
        "posting_ms": posting_ms,
        "p50_ms": percentile(posting_ms, 50), "p99_ms": percentile(posting_ms, 99),
        "mean_ms": statistics.fmean(posting_ms) if posting_ms else float("nan"),
        "ais_ms_per_order": statistics.fmean(ais_ms) if ais_ms else float("nan"),
        "audited_ais_calls": calls,
        "ais_ms_per_call": sum(ais_ms) / calls if calls else float("nan"),
        "before_ais_ms": statistics.fmean(before) if before else float("nan"),
        "after_ais_ms": statistics.fmean(after) if after else float("nan"),
        "last_posted_seconds": (last_posted.timestamp() - started_wall) if last_posted else float("nan"),
    }


def check_ledger(db, sandbox, documents: list[dict], row_ids: list[int]) -> list[str]:
    """Every order posted, once, balanced, and its document number the one in F0911."""
    from connector.ledger import batch_number

    problems = []
    batches = {batch_number(d["id"]) for d in documents}
    documents_of: dict[str, set] = defaultdict(set)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in sandbox.f0911_rows():
        if row["VINV"] in batches:
            documents_of[row["VINV"]].add((row["KCO"], row["DCT"], row["DOC"]))
            totals[row["VINV"]] += Decimal(row["AA"])
    missing = batches - set(documents_of)
    if missing:
        problems.append(f"{len(missing)} batches not in F0911, e.g. {sorted(missing)[:3]}")
    several = [b for b, docs in documents_of.items() if len(docs) != 1]
    if several:
        problems.append(f"{len(several)} batches under more than one document, e.g. {several[:3]}")
    unbalanced = [b for b, total in totals.items() if total != 0]
    if unbalanced:
        problems.append(f"{len(unbalanced)} batches out of balance, e.g. {unbalanced[:3]}")
    with db.transaction() as cur:
        cur.execute("SELECT batch_number, state, document_number FROM orders WHERE id = ANY(%s)", (row_ids,))
        rows = cur.fetchall()
    not_posted = [r for r in rows if r["state"] != "posted"]
    if not_posted:
        problems.append(f"{len(not_posted)} orders not posted, e.g. {[dict(r) for r in not_posted[:3]]}")
    wrong_doc = [r["batch_number"] for r in rows if r["state"] == "posted" and r["batch_number"] in documents_of
                 and {str(doc) for _, _, doc in documents_of[r["batch_number"]]} != {r["document_number"]}]
    if wrong_doc:
        problems.append(f"{len(wrong_doc)} orders whose document number differs from F0911's, e.g. {wrong_doc[:3]}")
    return problems


@dataclass
class Result:
    concurrency: int                # per worker process
    workers: int                    # worker processes; the bound is the one of workers x concurrency
    orders: int
    seconds: float
    rate: float
    calls_per_order: float
    bound: float
    ratio: float
    token_requests: int
    p50_ms: float
    p99_ms: float
    mean_posting_ms: float
    ais_ms_per_order: float
    ais_ms_per_call: float          # as the worker saw it (the sandbox's latency plus the wire)
    overhead_ms_per_order: float
    before_ais_ms: float            # claim -> first AIS call
    after_ais_ms: float             # last AIS call returned -> finish transaction
    observed_bound: float           # C / (calls per order x observed AIS ms per call)
    observed_ratio: float
    utilisation: float              # sum of posting times / (C x wall)
    worker_cpu_ms_per_order: float
    bench_cpu_ms_per_order: float   # this process: the sandbox AIS, the enqueue, the polling
    machine_busy: float             # all cores, 0..1
    last_posted_seconds: float
    warmup: dict
    ais: dict
    states: dict
    problems: list[str]


def run_concurrency(c: int, *, workers: int = 1, env, worker_args, app, post_order, db, sandbox, warmup_docs, warmup_ids, docs, ids,
                    latency: float) -> Result:
    fleet = [Worker(c, env, worker_args, index=n) for n in range(workers)]
    total_c = c * workers
    try:
        for worker in fleet:
            worker.start(app)
        # Warm-up: every shopper posts one order (first time: Address Book entry and token).
        before = sandbox.stats()
        seconds, _, states = run_orders(db, post_order, warmup_ids, timeout=120)
        warm = {"orders": len(warmup_ids), "seconds": round(seconds, 3), "states": states,
                **stats_delta(before, sandbox.stats())}
        print(f"  C={c} x {workers} warm-up: {len(warmup_ids)} orders in {seconds:.2f}s, {warm['ais_calls']} AIS calls, "
              f"{warm['token_requests']} token requests, states {states}", flush=True)

        before = sandbox.stats()
        worker_cpu, bench_cpu = sum(w.cpu_seconds() for w in fleet), time.process_time()
        machine = psutil.cpu_times()
        expected = len(ids) * 3 * latency / total_c  # even at three calls an order
        seconds, started_wall, states = run_orders(db, post_order, ids, timeout=max(60.0, 5 * expected))
        worker_cpu, bench_cpu = sum(w.cpu_seconds() for w in fleet) - worker_cpu, time.process_time() - bench_cpu
        machine_after = psutil.cpu_times()
        ais = stats_delta(before, sandbox.stats())
    finally:
        for worker in fleet:
            worker.stop()
    busy = (sum(machine_after) - machine_after.idle - getattr(machine_after, "iowait", 0)) - \
        (sum(machine) - machine.idle - getattr(machine, "iowait", 0))
    total = sum(machine_after) - sum(machine)
    n = len(ids)
    posted = states.get("posted", 0)
    rate = posted / seconds if seconds else 0.0
    calls_per_order = ais["ais_calls"] / n
    bound = total_c / (calls_per_order * latency) if calls_per_order else float("inf")
    t = timings(db, docs, started_wall)
    problems = check_ledger(db, sandbox, docs, ids)
    observed_bound = (total_c / (calls_per_order * t["ais_ms_per_call"] / 1000)
                      if calls_per_order and t["ais_ms_per_call"] == t["ais_ms_per_call"] else float("nan"))
    if ais["faults"] and any(ais["faults"].values()):
        problems.append(f"sandbox faults during the phase: {ais['faults']}")
    return Result(
        concurrency=c, workers=workers, orders=n, seconds=seconds, rate=rate, calls_per_order=calls_per_order, bound=bound,
        ratio=rate / bound if bound else 0.0, token_requests=ais["token_requests"],
        p50_ms=t["p50_ms"], p99_ms=t["p99_ms"], mean_posting_ms=t["mean_ms"],
        ais_ms_per_order=t["ais_ms_per_order"], ais_ms_per_call=t["ais_ms_per_call"],
        overhead_ms_per_order=t["mean_ms"] - t["ais_ms_per_order"],
        before_ais_ms=t["before_ais_ms"], after_ais_ms=t["after_ais_ms"],
        observed_bound=observed_bound, observed_ratio=rate / observed_bound if observed_bound else 0.0,
        utilisation=sum(t["posting_ms"]) / 1000 / (total_c * seconds) if seconds else 0.0,
        worker_cpu_ms_per_order=worker_cpu * 1000 / n, bench_cpu_ms_per_order=bench_cpu * 1000 / n,
        machine_busy=busy / total if total else 0.0, last_posted_seconds=t["last_posted_seconds"],
        warmup=warm, ais={**ais, "audited_ais_calls": t["audited_ais_calls"]}, states=states, problems=problems,
    )


# ---------------------------------------------------------------------------------------------
# report


def print_table(results: list[Result], latency: float) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"posting end to end: Celery prefork worker -> sandbox AIS ({latency * 1000:.0f} ms a call)")
    for column in ("C", "workers", "orders", "s", "orders/s", "bound/s", "ratio", "calls/order", "tokens", "p50 ms", "p99 ms",
                   "AIS ms/call", "pre/post ms", "busy workers", "worker CPU ms/order", "machine CPU",
                   "obs. bound/s", "obs. ratio", "checks"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(str(r.concurrency), str(r.workers), str(r.orders), f"{r.seconds:.2f}", f"{r.rate:.1f}", f"{r.bound:.1f}",
                      f"{r.ratio:.2f}", f"{r.calls_per_order:.2f}", str(r.token_requests), f"{r.p50_ms:.0f}",
                      f"{r.p99_ms:.0f}", f"{r.ais_ms_per_call:.0f}", f"{r.before_ais_ms:.0f}/{r.after_ais_ms:.0f}",
                      f"{r.utilisation:.0%}", f"{r.worker_cpu_ms_per_order:.1f}", f"{r.machine_busy:.0%}",
                      f"{r.observed_bound:.1f}", f"{r.observed_ratio:.2f}",
                      "ok" if not r.problems else f"{len(r.problems)} problems")
    Console(width=max(Console().width, 215)).print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=400, help="measured orders per concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 8], help="worker concurrencies to run")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes of each concurrency (own hostnames, as on several hosts)")
    parser.add_argument("--latency", type=float, default=0.1, help="sandbox AIS latency per call, seconds")
    parser.add_argument("--shoppers", type=int, default=40, help="returning (registered) shoppers")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--worker-args", default="",
                        help="extra `celery worker` options, to try a setting side by side (e.g. "
                             "'--prefetch-multiplier 4')")
    parser.add_argument("--sandbox-nodelay", action="store_true",
                        help="TCP_NODELAY on the sandbox AIS's sockets (it answers in two writes; with Nagle "
                             "on, the client's delayed ACK adds ~40 ms to every call)")
    args = parser.parse_args(argv)
    if min(args.orders, args.shoppers, args.workers, *args.concurrency) < 1 or args.latency <= 0:
        parser.error("--orders, --shoppers, --workers and --concurrency must be at least 1, --latency above 0")

    from sandbox.ais import AisSandbox
    from sandbox.woo_orders import shoppers

    VAR_DIR.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    RUN_DIR.mkdir(parents=True)

    rng = random.Random(args.seed)
    people = shoppers(rng, args.shoppers, guests=0)
    plan = []  # (C, warm-up documents, measured documents)
    next_id = FIRST_ORDER_ID
    for c in args.concurrency:
        warmup = make_orders(rng, people, next_id, len(people), round_robin=True)
        measured = make_orders(rng, people, next_id + len(people), args.orders, round_robin=False)
        next_id += len(people) + args.orders
        plan.append((c, warmup, measured))

    if args.sandbox_nodelay:
        from sandbox.ais import server as ais_server

        ais_server._Handler.disable_nagle_algorithm = True  # StreamRequestHandler's own switch
    services: Services | None = None
    sandbox = AisSandbox(seed=args.seed, password=AIS_PASSWORD, latency=args.latency)
    from sandbox.woo_store import WooStoreServer

    shop = WooStoreServer(seed=args.seed)
    db = None
    results: list[Result] = []
    try:
        services = prepare_services(database=BENCH_DATABASE, redis_db=BENCH_REDIS_DB, var_dir=VAR_DIR)
        sandbox.start()
        shop.start()
        env = connector_environment(services, sandbox.url, shop)
        os.environ.clear()
        os.environ.update(env)  # before `tasks` is imported: its runtime reads the environment once
        from connector.store import Database
        from tasks.celery import app, runtime
        from tasks.posting import post_order

        db = Database(services.database_url)
        print(f"sandbox AIS on {sandbox.url} ({args.latency * 1000:.0f} ms a call); database "
              f"{services.database_url}; broker {services.redis_url}", flush=True)
        loaded = []
        started = time.perf_counter()
        for c, warmup, measured in plan:
            loaded.append((c, warmup, load_orders(db, warmup, runtime.mapping.posting.statuses),
                           measured, load_orders(db, measured, runtime.mapping.posting.statuses)))
        print(f"stored {sum(len(w) + len(m) for _, w, _, m, _ in loaded)} ready orders of {len(people)} "
              f"shoppers in {time.perf_counter() - started:.1f}s", flush=True)

        for c, warmup, warmup_ids, measured, ids in loaded:
            result = run_concurrency(c, workers=args.workers, env=env, worker_args=shlex.split(args.worker_args), app=app, post_order=post_order, db=db, sandbox=sandbox,
                                     warmup_docs=warmup, warmup_ids=warmup_ids, docs=measured, ids=ids,
                                     latency=args.latency)
            results.append(result)
            print(f"  C={c} x {args.workers} worker(s): {result.rate:.1f} orders/s, bound {result.bound:.1f}/s, ratio {result.ratio:.2f}, "
                  f"{result.calls_per_order:.2f} calls/order" + (f"  PROBLEMS: {result.problems}"
                                                                  if result.problems else ""), flush=True)

        totals = sandbox.stats()
        reads = shop.stats()["product_reads"]
        sold = {item["product_id"] for _, w, _, m, _ in loaded for doc in w + m for item in doc["line_items"]}
        print_table(results, args.latency)
        print(f"products: {len(sold)} sold, {sum(reads.values())} REST reads of {len(reads)} products "
              f"(at most {max(reads.values(), default=0)} per product)")
        for r in results:
            print(f"C={r.concurrency} workers={r.workers} total_C={r.concurrency * r.workers} ratio={r.ratio:.2f} rate={r.rate:.1f}/s bound={r.bound:.1f}/s "
                  f"calls/order={r.calls_per_order:.2f} tokens={r.token_requests} "
                  f"p50/p99={r.p50_ms:.0f}/{r.p99_ms:.0f}ms ais_ms/call={r.ais_ms_per_call:.0f} "
                  f"observed_ratio={r.observed_ratio:.2f}")
        if any(r.ais_ms_per_call > args.latency * 1000 + 20 for r in results) and not args.sandbox_nodelay:
            print("note: an AIS call took well over the sandbox latency as the workers saw it; the sandbox's "
                  "http.server writes headers and body in two sends with Nagle on, and the client's delayed "
                  "ACK holds the body ~40 ms. --sandbox-nodelay sets TCP_NODELAY on the sandbox's sockets.")
        problems = [f"C={r.concurrency}: {p}" for r in results for p in r.problems]
        print(f"token requests in the whole run: {totals['token_requests']}; targets: ratio >= {TARGET_RATIO}, "
              f"calls/order <= {TARGET_CALLS_PER_ORDER}"
              + ("" if not problems else "\nPROBLEMS: " + "; ".join(problems)))

        result = {
            "results": [{k: v for k, v in asdict(r).items()} for r in results],
            "targets": {"ratio": TARGET_RATIO, "calls_per_order": TARGET_CALLS_PER_ORDER},
            "products": {"sold": len(sold), "rest_reads": sum(reads.values()), "read": len(reads),
                         "max_reads_per_product": max(reads.values(), default=0)},
            "run": {"token_requests": totals["token_requests"], "ais_calls": ais_calls(totals),
                    "calls_by_path": totals["calls"], "orchestrations": totals["orchestrations"],
                    "journal_entries": totals["journal_entries"], "customers": totals["customers"]},
            "problems": problems,
            "settings": {"orders": args.orders, "concurrency": args.concurrency, "workers": args.workers, "latency": args.latency,
                         "shoppers": args.shoppers, "seed": args.seed, "services": services.origin,
                         "sandbox_nodelay": args.sandbox_nodelay, "worker_args": args.worker_args,
                         "pool": "prefork", "cpus": os.cpu_count()},
        }
        RESULT_FILE.write_text(json.dumps(result, indent=2, default=str) + "\n")
        print(f"wrote {RESULT_FILE.relative_to(ROOT)}")
        return 1 if problems else 0
    finally:
        if db is not None:
            db.close()
        sandbox.stop()
        shop.stop()
        release(services, VAR_DIR)


if __name__ == "__main__":
    sys.exit(main())

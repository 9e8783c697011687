"""Slow clients against the web process: gunicorn gthread 2x4 (before) and web.server (after,
waitress: 2 processes x 4 threads).

    python -m bench.slow_clients [--requests 2000] [--warmup 200] [--rounds 2] [--connections 8]
                                 [--slow 50] [--probes 100] [--redis-db 13] [--database NAME]

Both servers serve the bare Flask endpoint (bench/bare_app.py) and the real receiver, in one
run, so every figure below has its baseline measured beside it on the same machine:

1. Throughput, as bench.ingest measures it (same deliveries, same keep-alive client, same
   correctness checks): per round and server, bare then real; the median of the rounds as
   accepted requests per second. Reported: real/bare under each server (bench.ingest's ratio)
   and real after / real before.
2. `/healthz` latency, one request at a time on a new connection each (as a load balancer's
   health check), first with nothing else going on, then while `--slow` connections are held:
   each sends its headers with a Content-Length of 64 KiB and then one body byte a second,
   reconnecting whenever the server closes it (an attacker keeps the pressure on). A probe
   unanswered after PROBE_TIMEOUT counts as timed out; after 5 in a row the phase stops.
   During the same attack, signed webhooks to the real receiver are timed the same way.

Services: DATABASE_URL / REDIS_URL when set, else the embedded ones under var/bench (stopped
again if this run started them); the run's own database (--database) and Redis DB (--redis-db)
are emptied first and the Redis DB again at the end. This is a measurement: nothing asserts on
time; the exit status is 1 only if an answer was wrong (non-200, duplicate, missing rows).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path

import psutil

from bench.ingest import PATH, Phase, child_environment, count_outcome, make_deliveries, run_phase
from bench.services import answers_healthz, cpu_seconds, percentile, prepare_services, release, spawn
from connector.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = ROOT / "var" / "bench"
RUN_DIR = ROOT / "var" / "bench-slow-run"
RESULT_FILE = VAR_DIR / "slow_clients.json"
START_TIMEOUT = 30.0
PROBE_TIMEOUT = 2.0  # the issue's bound for an answer while slow clients are held
SLOW_BODY_BYTES = 64 * 1024
APPS = {"bare": "bench.bare_app:create_app()", "real": "web.app:create_app()"}
# Today's Procfile line (without its access log, as bench.ingest runs it) and the new one.
COMMANDS = {
    "gunicorn": lambda app, bind: [sys.executable, "-m", "gunicorn", app, "--worker-class", "gthread",
                                   "--workers", "2", "--threads", "4", "--bind", bind],
    "waitress": lambda app, bind: [sys.executable, "-m", "web.server", "--bind", bind, "--app", app,
                                   "--no-access-log"],
}


class Server:
    """One web process (and its workers) serving `app` on a free port."""

    def __init__(self, kind: str, app_name: str, env: dict[str, str]):
        self.kind, self.app_name, self.env = kind, app_name, env
        self.name = f"{kind}/{app_name}"
        self.port = free_port()
        self.log_path = VAR_DIR / f"slow-{kind}-{app_name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = COMMANDS[self.kind](APPS[self.app_name], f"127.0.0.1:{self.port}")
        self.process = spawn(command, env=self.env, log_path=self.log_path, cwd=ROOT)
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not answering after {START_TIMEOUT:.0f}s; see {self.log_path}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        return answers_healthz(self.port)

    def cpu_seconds(self) -> float:
        try:
            root = psutil.Process(self.process.pid)
            return cpu_seconds([root, *root.children(recursive=True)])
        except psutil.Error:
            return 0.0

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait(timeout=5)


class SlowClients:
    """`count` connections that each send headers and then one body byte a second, reopened
    whenever the server closes one; stopped (and every socket closed) by `stop()`."""

    def __init__(self, port: int, count: int):
        self.port, self.count = port, count
        self.reconnects = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._sockets: list[socket.socket | None] = [None] * count

    def _open(self) -> socket.socket | None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
            sock.sendall((f"POST {PATH} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {SLOW_BODY_BYTES}\r\n\r\n{{").encode())
            return sock
        except OSError:
            return None

    def _run(self) -> None:
        while not self._stop.is_set():
            for i, sock in enumerate(self._sockets):
                if sock is not None:
                    try:
                        sock.send(b" ")
                        continue
                    except OSError:
                        sock.close()
                        self.reconnects += 1
                self._sockets[i] = self._open()
            self._stop.wait(1.0)

    def __enter__(self):
        for i in range(self.count):
            self._sockets[i] = self._open()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)
        for sock in self._sockets:
            if sock is not None:
                sock.close()


def timed_request(port: int, method: str, path: str, body: bytes | None = None,
                  headers: dict | None = None) -> tuple[float | None, int | None]:
    """(seconds, status) of one request on a new connection; (None, None) past PROBE_TIMEOUT."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        response.read()
        elapsed = time.perf_counter() - started
        return (elapsed, response.status) if elapsed < PROBE_TIMEOUT else (None, response.status)
    except (OSError, http.client.HTTPException):
        return None, None
    finally:
        conn.close()


def probe(port: int, count: int, make_request) -> dict:
    """`count` requests one after another; stops after 5 timeouts in a row."""
    latencies, timeouts, statuses, streak = [], 0, {}, 0
    for i in range(count):
        elapsed, status = timed_request(port, *make_request(i))
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        if elapsed is None:
            timeouts, streak = timeouts + 1, streak + 1
            if streak >= 5:
                break
        else:
            latencies.append(elapsed)
            streak = 0
    latencies.sort()
    sent = len(latencies) + timeouts
    # A timed-out probe is slower than any answered one: p99 counts it as PROBE_TIMEOUT or more.
    ranked = latencies + [float("inf")] * timeouts
    return {"sent": sent, "answered": len(latencies), "timed_out": timeouts, "statuses": statuses,
            "p50_ms": percentile(ranked, 50) * 1000, "p99_ms": percentile(ranked, 99) * 1000,
            "max_ms": (ranked[-1] * 1000) if ranked else float("nan")}


def attack_phase(server: Server, slow: int, probes: int, webhooks) -> dict:
    health = lambda i: ("GET", "/healthz")  # noqa: E731
    quiet = probe(server.port, probes, health)
    with SlowClients(server.port, slow) as attackers:
        # A pause for the servers to read the slow clients' headers (gunicorn gives each a thread
        # then), so that the probes meet the attack in place; a measurement, not a test.
        time.sleep(1.0)
        loaded = probe(server.port, probes, health)
        hooks = probe(server.port, len(webhooks),
                      lambda i: ("POST", PATH, webhooks[i][1], webhooks[i][0]))
        reconnects = attackers.reconnects
    return {"healthz_quiet": quiet, "healthz_under_slow_clients": loaded, "webhook_under_slow_clients": hooks,
            "slow_reconnects": reconnects}


def fmt(value: float) -> str:
    return "timeout" if value == float("inf") else f"{value:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.slow_clients", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per server, app and round")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up requests per server, app and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections of the throughput client")
    parser.add_argument("--slow", type=int, default=50, help="slow connections held during the attack phase")
    parser.add_argument("--probes", type=int, default=100, help="/healthz probes per phase")
    parser.add_argument("--redis-db", type=int, default=13, help="the run's Redis DB (emptied)")
    parser.add_argument("--database", default="connector_bench_slow", help="the run's database (dropped, created)")
    args = parser.parse_args(argv)

    VAR_DIR.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    RUN_DIR.mkdir(parents=True)
    per_round = args.warmup + args.requests
    kinds = list(COMMANDS)
    # Each real server gets deliveries of its own (a repeat would be answered as a duplicate);
    # the bare ones reuse the first kind's.
    print("generating signed deliveries ...", flush=True)
    batches = {kind: [make_deliveries((k * args.rounds + r) * per_round, per_round) for r in range(args.rounds)]
               for k, kind in enumerate(kinds)}
    probe_hooks = {kind: make_deliveries(10_000_000 + k * args.probes, args.probes) for k, kind in enumerate(kinds)}

    services = None
    servers: dict[str, Server] = {}
    phases: list[Phase] = []
    try:
        services = prepare_services(database=args.database, redis_db=args.redis_db, var_dir=VAR_DIR)
        env = dict(child_environment(services), CONNECTOR_VAR_DIR=str(RUN_DIR))
        for kind in kinds:
            for app_name in APPS:
                servers[f"{kind}/{app_name}"] = Server(kind, app_name, env)
        for server in servers.values():
            server.start()
        for r in range(args.rounds):
            for kind in kinds:
                for app_name in APPS:
                    server = servers[f"{kind}/{app_name}"]
                    batch = batches[kinds[0] if app_name == "bare" else kind][r]
                    phase = run_phase(server, r + 1, batch[:args.warmup], batch[args.warmup:], args.connections)
                    phases.append(phase)
                    print(f"  round {r + 1} {phase.target}: {phase.rps:.0f} req/s, p50 {phase.p50_ms:.2f} ms, "
                          f"p99 {phase.p99_ms:.2f} ms", flush=True)
        # The bare servers are stopped first: the attack phase measures the real receivers alone.
        for kind in kinds:
            servers[f"{kind}/bare"].stop()
        attacks = {}
        for kind in kinds:
            print(f"  {kind}: /healthz and webhooks with {args.slow} slow connections held ...", flush=True)
            attacks[kind] = attack_phase(servers[f"{kind}/real"], args.slow, args.probes, probe_hooks[kind])

        summary = {}
        for name in servers:
            mine = [p for p in phases if p.target == name]
            summary[name] = {"rps": statistics.median(p.rps for p in mine),
                             "p50_ms": statistics.median(p.p50_ms for p in mine),
                             "p99_ms": statistics.median(p.p99_ms for p in mine),
                             "server_cpu_ms_per_request": statistics.median(p.server_cpu_ms_per_request for p in mine),
                             "rounds_rps": [round(p.rps, 1) for p in mine]}
        ratios = {kind: summary[f"{kind}/real"]["rps"] / summary[f"{kind}/bare"]["rps"] for kind in kinds}
        after_before = summary["waitress/real"]["rps"] / summary["gunicorn/real"]["rps"]

        problems = []
        for p in phases:
            non_200 = sum(n for k, n in p.statuses.items() if not k.endswith("200"))
            if non_200 or p.errors or p.duplicates:
                problems.append(f"{p.target} round {p.round}: {non_200} non-200, {p.errors} errors, "
                                f"{p.duplicates} duplicates")
        outcome = count_outcome(services)
        real_sent = len(kinds) * args.rounds * per_round
        # A webhook probe that timed out may still have been stored once its server got to it.
        probes_ok = sum(a["webhook_under_slow_clients"]["statuses"].get("200", 0) for a in attacks.values())
        probes_sent = sum(a["webhook_under_slow_clients"]["sent"] for a in attacks.values())
        if not real_sent + probes_ok <= outcome["deliveries"] <= real_sent + probes_sent:
            problems.append(f"deliveries rows {outcome['deliveries']}: expected {real_sent} sent + {probes_ok} to "
                            f"{probes_sent} webhook probes")

        print()
        print(f"{'server/app':<16}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'srv CPU ms/req':>16}")
        for name, s in summary.items():
            print(f"{name:<16}{s['rps']:>8.0f}{s['p50_ms']:>9.2f}{s['p99_ms']:>9.2f}"
                  f"{s['server_cpu_ms_per_request']:>16.2f}")
        print()
        print(f"{'server':<10}{'phase':<30}{'sent':>6}{'timeouts':>10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
        for kind, a in attacks.items():
            for phase_name in ("healthz_quiet", "healthz_under_slow_clients", "webhook_under_slow_clients"):
                p = a[phase_name]
                print(f"{kind:<10}{phase_name:<30}{p['sent']:>6}{p['timed_out']:>10}{fmt(p['p50_ms']):>9}"
                      f"{fmt(p['p99_ms']):>9}{fmt(p['max_ms']):>9}")
        print()
        print("ratio real/bare: " + ", ".join(f"{kind} {ratio:.3f}" for kind, ratio in ratios.items())
              + f"; waitress ratio / gunicorn ratio {ratios['waitress'] / ratios['gunicorn']:.3f}"
              + f"; real req/s waitress / gunicorn {after_before:.3f}")
        print("correctness: " + ("ok" if not problems else "PROBLEMS: " + "; ".join(problems)))

        result = {"ratios": ratios, "waitress_over_gunicorn_ratio": ratios["waitress"] / ratios["gunicorn"],
                  "real_rps_after_over_before": after_before, "throughput": summary, "attack": attacks,
                  "phases": [asdict(p) for p in phases], "problems": problems, "outcome": outcome,
                  "settings": {**vars(args), "probe_timeout_s": PROBE_TIMEOUT, "slow_body_bytes": SLOW_BODY_BYTES,
                               "commands": {k: " ".join(f(APPS['real'], 'HOST:PORT')[1:]) for k, f in COMMANDS.items()},
                               "cpus": os.cpu_count()}}
        RESULT_FILE.write_text(json.dumps(result, indent=2, default=str) + "\n")
        print(f"wrote {RESULT_FILE.relative_to(ROOT)}")
        return 1 if problems else 0
    finally:
        for server in servers.values():
            server.stop()
        release(services, VAR_DIR)


if __name__ == "__main__":
    sys.exit(main())

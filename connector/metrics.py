"""The connector's Prometheus series (the README's *Metrics* table lists every one).

Two kinds:
- counters and a histogram, incremented where the event happens (web: webhooks; worker pool
  processes: postings, AIS calls, logins). Every process writes its values to a file of its own in
  PROMETHEUS_MULTIPROC_DIR and a scrape sums the files, so the web server's processes and the
  worker's pool children count as one (connector/runner.py says who gets the directory);
- gauges of state (deliveries and orders by state, queue depth, the circuit, the last
  reconciliation), which no process keeps: `StateCollector` reads them from Postgres, Redis and the
  broker when /metrics is scraped, each with a short timeout, and a source that does not answer
  leaves its gauges out (and says so in connector_scrape_source_up) while the counters are still
  answered.

Counting never breaks the work it counts: the helpers below swallow (and log once) any failure.
"""
from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from typing import Callable

# A directory named but missing (a fresh dyno, a cleared /tmp) would make the first count fail.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

from prometheus_client import CollectorRegistry, Counter, Histogram  # noqa: E402
from prometheus_client.core import GaugeMetricFamily  # noqa: E402
from connector.store import orders as order_rows  # noqa: E402

log = logging.getLogger(__name__)

WEBHOOKS = Counter("connector_webhooks_total", "WooCommerce webhook requests by outcome", ["outcome"])
POSTINGS = Counter("connector_postings_total", "Posting attempts of an order by outcome", ["outcome"])
AIS_CALLS = Counter("connector_ais_calls_total", "Calls to the JDE AIS server by service and outcome",
                    ["service", "outcome"])
AIS_SECONDS = Histogram("connector_ais_call_seconds", "Duration of calls to the JDE AIS server, by service",
                        ["service"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
AIS_LOGINS = Counter("connector_ais_logins_total", "AIS token requests that returned a token (logins)")

# The states the tables' CHECK constraints allow (migrations 0001): every one is exported, zero
# included, so a state that empties shows 0 instead of vanishing (tests/unit/test_metrics.py
# checks these against the database).
DELIVERY_STATES = ("received", "queued", "done", "error", "ignored")
ORDER_STATES = order_rows.STATES   # every state the orders table allows (tests/unit/test_metrics.py checks)

_failed_once: set[str] = set()


def _count(what: str, step: Callable[[], None]) -> None:
    try:
        step()
    except Exception as exc:   # a full disk, a removed directory: the order is posted all the same
        if what not in _failed_once:
            _failed_once.add(what)
            log.warning("metric %s not counted: %s: %s", what, type(exc).__name__, exc)


def webhook(outcome: str) -> None:
    _count("webhooks", lambda: WEBHOOKS.labels(outcome).inc())


def posting(outcome: str) -> None:
    _count("postings", lambda: POSTINGS.labels(outcome).inc())


def ais_call(service: str, outcome: str, seconds: float) -> None:
    def step():
        AIS_CALLS.labels(service, outcome).inc()
        AIS_SECONDS.labels(service).observe(seconds)

    _count("ais_calls", step)


def ais_login() -> None:
    _count("ais_logins", AIS_LOGINS.inc)


# -- reading --------------------------------------------------------------------------------
def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def counters():
    """What the counters and histograms hold: every process's files summed (multiprocess mode),
    else this process's own registry."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    from prometheus_client import REGISTRY

    return REGISTRY


class Exposition:
    """What one scrape reads: the counters, then the state gauges (when a collector is given)."""

    def __init__(self, *collectors):
        self.collectors = collectors

    def collect(self):
        for collector in self.collectors:
            yield from collector.collect()


def authorized(header: str | None, token: str | None = None) -> bool:
    """`Authorization: Bearer <CONNECTOR_METRICS_TOKEN>` when that variable is set (blank = unset)."""
    token = (os.environ.get("CONNECTOR_METRICS_TOKEN", "") if token is None else token).strip()
    if not token:
        return True
    scheme, _, sent = (header or "").partition(" ")
    # Bytes: compare_digest refuses non-ASCII str, and a header may carry anything.
    return scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode("utf-8", "surrogateescape"),
                                                               token.encode("utf-8", "surrogateescape"))


# -- state gauges, read at scrape time -------------------------------------------------------------
class StateCollector:
    """Gauges read from Postgres, Redis and the broker at each scrape.

    `database_url`: a connection of its own per scrape (2 s to connect, 2 s per statement), so a
    scrape never waits for the web's pool; `redis_url`: the circuit breaker's keys (1 s timeouts);
    `queue_depths`: a function returning {queue: messages or None} (tasks.enqueue.queue_depths).
    """

    def __init__(self, *, database_url: str | None, redis_url: str | None,
                 queue_depths: Callable[[], dict] | None = None, clock: Callable[[], float] = time.time):
        self.database_url = database_url
        self.redis_url = redis_url
        self.queue_depths = queue_depths
        self.clock = clock
        self._redis = None
        self._lock = threading.Lock()

    def describe(self):
        # Nothing to check at registration: collect() reaches the services, only when scraped.
        return []

    def collect(self):
        up = GaugeMetricFamily("connector_scrape_source_up",
                               "Whether a source of the state gauges answered this scrape (1) or not (0)",
                               labels=["source"])
        sources = [(name, read) for name, read, configured in (
            ("postgres", self._database, self.database_url), ("redis", self._circuit, self.redis_url),
            ("broker", self._queues, self.queue_depths)) if configured]
        for source, read in sources:
            try:
                families = read()
            except Exception as exc:   # that source's gauges are left out; the rest is answered
                log.warning("metrics: %s did not answer: %s", source, type(exc).__name__)
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
            yield from families
        yield up

    # Postgres: deliveries and orders by state, the last reconciliation.
    def _database(self):
        import psycopg2.extras

        from connector.store import deliveries, orders, reconciliation
        from connector.store.database import connect_once

        conn = connect_once(self.database_url, connect_timeout=2, options="-c statement_timeout=2000",
                            cursor_factory=psycopg2.extras.RealDictCursor)
        try:
            conn.set_session(readonly=True, autocommit=True)
            with conn.cursor() as cur:
                delivery_counts = deliveries.counts_by_state(cur)
                order_counts = orders.counts_by_state(cur)
                run = reconciliation.latest_done_run(cur)
        finally:
            conn.close()
        families = [_by_state("connector_deliveries", "Webhook deliveries by state", DELIVERY_STATES,
                              delivery_counts),
                    _by_state("connector_orders", "Orders by state", ORDER_STATES, order_counts)]
        if run is not None:
            families.append(GaugeMetricFamily("connector_reconciliation_discrepancies",
                                              "Discrepancies found by the last finished reconciliation",
                                              value=run["discrepancies"] or 0))
            families.append(GaugeMetricFamily("connector_reconciliation_age_seconds",
                                              "Seconds since the last finished reconciliation ended",
                                              value=max(0.0, self.clock() - run["finished_at"].timestamp())))
        return families

    # Redis: the fleet's AIS circuit breaker.
    def _circuit(self):
        from connector.jde.breaker import BREAKER_KEY, Breaker

        state = Breaker(self._redis_client(), BREAKER_KEY).state()["state"]
        if state == "unknown":
            raise ConnectionError("Redis did not answer")
        return [GaugeMetricFamily("connector_ais_circuit_open",
                                  "1 while the AIS circuit breaker is open (JDE unreachable, posting paused), else 0",
                                  value=1 if state == "open" else 0)]

    def _redis_client(self):
        import redis

        with self._lock:
            if self._redis is None:
                self._redis = redis.Redis.from_url(self.redis_url, socket_connect_timeout=1, socket_timeout=1)
            return self._redis

    # The broker: messages waiting per queue.
    def _queues(self):
        depths = self.queue_depths()
        if all(n is None for n in depths.values()):
            raise ConnectionError("the broker did not answer")
        family = GaugeMetricFamily("connector_queue_depth", "Messages waiting in a broker queue", labels=["queue"])
        for queue, n in sorted(depths.items()):
            if n is not None:
                family.add_metric([queue], n)
        return [family]


def _by_state(name: str, documentation: str, states: tuple[str, ...], counts: dict) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["state"])
    for state in dict.fromkeys(states + tuple(sorted(counts))):
        family.add_metric([state], counts.get(state, 0))
    return family


# -- a worker's own /metrics ------------------------------------------------------------------------
def metrics_server(host: str, port: int):
    """A small threaded HTTP server (bound, not yet serving: call serve_forever) answering
    `GET /metrics` with the counters of PROMETHEUS_MULTIPROC_DIR, behind the same bearer token as the
    web's /metrics. For a worker whose directory the web process cannot read."""
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args):   # a line per scrape is noise
            pass

    def app(environ, start_response):
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"see /metrics\n"]
        if not authorized(environ.get("HTTP_AUTHORIZATION")):
            start_response("401 Unauthorized", [("Content-Type", "text/plain"),
                                                ("WWW-Authenticate", 'Bearer realm="metrics"')])
            return [b"a bearer token is required (CONNECTOR_METRICS_TOKEN)\n"]
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
        return [generate_latest(counters())]

    return make_server(host, port, app, server_class=Server, handler_class=QuietHandler)

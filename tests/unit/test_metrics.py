"""connector/metrics.py: the state gauges read at scrape time, on the real Postgres, Redis and broker;
the worker's own metrics server."""
import dataclasses
import hashlib
import re
import threading
import time
from datetime import datetime, timedelta, timezone

import psycopg2
import psycopg2.extras
import pytest
import redis
import requests

from connector import deliveries, metrics
from connector.jde.breaker import BREAKER_KEY, Breaker
from connector.store import deliveries as delivery_rows
from sandbox.woo_webhooks import php_json_encode
from tests.support import free_port, query

STATUSES = frozenset({"processing", "completed"})


def _samples(collector) -> dict:
    """{(name, labels as a sorted tuple): value} of one collection."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in collector.collect() for sample in family.samples}


def _store_orders(database_url, payload, woo_ids, *, state=None):
    conn = psycopg2.connect(database_url, cursor_factory=psycopg2.extras.RealDictCursor)
    try:
        with conn, conn.cursor() as cur:
            for woo_id in woo_ids:
                body = php_json_encode(dict(payload, id=woo_id, number=str(woo_id)))
                delivery_id, _ = delivery_rows.insert(
                    cur, source="https://shop.example.com/", topic="order.created", webhook_id="1",
                    wc_delivery_id=None, body=body, body_sha256=hashlib.sha256(body).digest(),
                    dedupe_key=hashlib.sha256(body).digest(), state="received", error=None, lease_seconds=60)
                deliveries.process(cur, delivery_id, posting_statuses=STATUSES)
            if state:
                cur.execute("UPDATE orders SET state = %s WHERE woo_id = ANY(%s)", (state, list(woo_ids)))
    finally:
        conn.close()


@pytest.fixture
def no_runs(clean_db):
    """clean_db, without reconciliation runs either (committed: the collector reads with its own connection)."""
    conn = psycopg2.connect(clean_db)
    with conn, conn.cursor() as cur:
        cur.execute("TRUNCATE reconciliation_runs CASCADE")
    conn.close()
    return clean_db


@pytest.fixture
def flushed_redis(redis_url):
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.mark.parametrize("table, states", [("orders", metrics.ORDER_STATES), ("deliveries", metrics.DELIVERY_STATES)])
def test_states_are_those_the_database_allows(database_url, table, states):
    [row] = query(database_url, "SELECT pg_get_constraintdef(oid) AS check FROM pg_constraint "
                                f"WHERE conrelid = '{table}'::regclass AND contype = 'c' AND conname = %s",
                  f"{table}_state_check")
    assert sorted(re.findall(r"'(\w+)'::text", row["check"])) == sorted(states)


def test_collector_reads_states_and_the_last_finished_reconciliation(no_runs, fixture_payload, flushed_redis,
                                                                     redis_url):
    clean_db = no_runs
    _store_orders(clean_db, fixture_payload("order-727"), [1001, 1002, 1003])
    _store_orders(clean_db, fixture_payload("order-727"), [1004], state="needs_attention")
    finished = datetime(2026, 11, 29, 6, 0, tzinfo=timezone.utc)
    conn = psycopg2.connect(clean_db)
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO reconciliation_runs (gl_date_from, gl_date_to, state, finished_at, discrepancies) "
                    "VALUES ('2026-11-01', '2026-11-28', 'done', %s, 2), "
                    "       ('2026-11-01', '2026-11-29', 'running', NULL, NULL)", (finished,))
    conn.close()
    collector = metrics.StateCollector(database_url=clean_db, redis_url=redis_url,
                                       queue_depths=lambda: {"celery": 3, "posting": 0},
                                       clock=lambda: (finished + timedelta(seconds=90)).timestamp())
    found = _samples(collector)

    assert found[("connector_orders", (("state", "ready"),))] == 3
    assert found[("connector_orders", (("state", "needs_attention"),))] == 1
    # Every state is there, the empty ones at 0.
    assert {labels[0][1] for name, labels in found if name == "connector_orders"} == set(metrics.ORDER_STATES)
    assert found[("connector_orders", (("state", "posted"),))] == 0
    assert found[("connector_deliveries", (("state", "done"),))] == 4
    # The run still running is not the last reconciliation: the one that finished is.
    assert found[("connector_reconciliation_discrepancies", ())] == 2
    assert found[("connector_reconciliation_age_seconds", ())] == pytest.approx(90)
    assert found[("connector_queue_depth", (("queue", "celery"),))] == 3
    assert found[("connector_ais_circuit_open", ())] == 0
    assert {labels: value for (name, labels), value in found.items() if name == "connector_scrape_source_up"} == {
        (("source", "broker"),): 1, (("source", "postgres"),): 1, (("source", "redis"),): 1}


def test_collector_without_a_reconciliation_leaves_its_gauges_out(no_runs, flushed_redis, redis_url):
    found = _samples(metrics.StateCollector(database_url=no_runs, redis_url=redis_url))
    assert not [name for name, _ in found if name.startswith("connector_reconciliation")]
    assert found[("connector_orders", (("state", "posted"),))] == 0


def test_collector_circuit_open_is_one(clean_db, flushed_redis, redis_url):
    breaker = Breaker(flushed_redis, BREAKER_KEY, threshold=2)
    collector = metrics.StateCollector(database_url=None, redis_url=redis_url)
    assert _samples(collector)[("connector_ais_circuit_open", ())] == 0
    breaker.record_outage("connection refused")
    breaker.record_outage("connection refused")
    assert _samples(collector)[("connector_ais_circuit_open", ())] == 1
    breaker.close()
    assert _samples(collector)[("connector_ais_circuit_open", ())] == 0


def test_collector_counts_messages_waiting_in_the_real_broker(flushed_redis):
    from tasks import app as celery_app
    from tasks.enqueue import queue_depths

    for _ in range(2):
        celery_app.send_task("sweep_deliveries")
    celery_app.send_task("post_order", args=[727], queue="posting")
    collector = metrics.StateCollector(database_url=None, redis_url=None,
                                       queue_depths=lambda: queue_depths(celery_app))
    found = _samples(collector)
    assert found[("connector_queue_depth", (("queue", "celery"),))] == 2
    assert found[("connector_queue_depth", (("queue", "posting"),))] == 1


def test_collector_answers_within_seconds_when_services_are_down(flushed_redis):
    """Postgres and Redis refusing, the broker not answering: no state gauge, each source 0, fast."""
    dead = free_port()
    collector = metrics.StateCollector(database_url=f"postgresql://postgres@127.0.0.1:{dead}/connector",
                                       redis_url=f"redis://127.0.0.1:{dead}/0",
                                       queue_depths=lambda: {"celery": None, "posting": None})
    started = time.monotonic()
    found = _samples(collector)
    assert time.monotonic() - started < 5
    assert found == {("connector_scrape_source_up", (("source", source),)): 0
                     for source in ("postgres", "redis", "broker")}


def test_metrics_page_answers_counters_while_postgres_is_down(runtime, flushed_redis):
    """The scrape is still 200, with the counters; only the database's gauges are missing."""
    from web.app import create_app

    dead = dataclasses.replace(runtime, database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/connector")
    app = create_app({"TESTING": True, "RUNTIME": dead, "WEBHOOK_SECRETS": ("s3cret",), "ENQUEUE": lambda _: True,
                      "BROKER_CHECK": lambda: True, "QUEUE_DEPTHS": lambda: {"celery": 0, "posting": 0}})
    metrics.webhook("ping")
    response = app.test_client().get("/metrics")
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'connector_webhooks_total{outcome="ping"}' in text
    assert 'connector_scrape_source_up{source="postgres"} 0.0' in text
    assert 'connector_scrape_source_up{source="redis"} 1.0' in text
    assert "connector_orders{" not in text and 'connector_queue_depth{queue="celery"} 0.0' in text


@pytest.fixture
def worker_metrics_server():
    server = metrics.metrics_server("127.0.0.1", free_port())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("header, status", [(None, 401), ("Bearer wrong", 401), ("Bearer w0rker-metrics-token", 200)])
def test_worker_metrics_server_requires_the_token_when_set(worker_metrics_server, monkeypatch, header, status):
    monkeypatch.setenv("CONNECTOR_METRICS_TOKEN", "w0rker-metrics-token")
    metrics.posting("posted")
    response = requests.get(f"{worker_metrics_server}/metrics", timeout=5,
                            headers={"Authorization": header} if header else {})
    assert response.status_code == status
    assert ('connector_postings_total{outcome="posted"}' in response.text) is (status == 200)


def test_worker_metrics_server_serves_only_metrics(worker_metrics_server):
    assert requests.get(f"{worker_metrics_server}/", timeout=5).status_code == 404

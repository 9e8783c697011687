"""1,000 deliveries over HTTP through gunicorn, a real worker and beat, with a worker killed
by SIGKILL and the broker down for a while: nothing lost, nothing processed twice."""
import copy
import random

import psycopg2
import psycopg2.extras
import pytest
import requests

from sandbox.woo_webhooks import signed_delivery
from tests.conftest import WEBHOOK_SECRET
from tests.support import RedisServer, free_port, start_beat, start_web, start_worker, wait_for

ORDERS = 300
REPEATS = 300
STALE = 100


def _version(base, order_id, minute, status):
    doc = copy.deepcopy(base)
    doc["id"], doc["number"], doc["status"] = order_id, str(order_id), status
    doc["date_modified_gmt"] = f"2026-11-20T10:{minute:02d}:00"
    doc["billing"]["first_name"] = f"Zoë {order_id}"   # non-ASCII, \u-escaped on the wire
    return doc


def _plan(base, rng):
    """1,000 (topic, document) deliveries: 2 versions per order, 100 stale, 300 exact repeats."""
    first = [_version(base, 1000 + i, 1, "pending") for i in range(ORDERS)]
    newest = [_version(base, 1000 + i, 30, "processing") for i in range(ORDERS)]
    main = first + newest
    rng.shuffle(main)   # a newest version may even arrive before the first one
    stale = [_version(base, 1000 + i, 15, "on-hold") for i in rng.sample(range(ORDERS), STALE)]
    bodies = [signed_delivery(doc, topic="order.updated", secret=WEBHOOK_SECRET) for doc in main + stale]
    repeats = [rng.choice(bodies[:len(main)]) for _ in range(REPEATS)]
    tail = bodies[len(main):] + repeats
    rng.shuffle(tail)
    return bodies[:len(main)] + tail


def _scalar(url, sql):
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def stack(clean_db, tmp_path, redis_url):
    """gunicorn + worker + beat on their own Redis broker, with a 3 s lease and a 1 s sweep."""
    broker = RedisServer(tmp_path).start()
    env = dict(__import__("os").environ, CELERY_BROKER_URL=broker.url, CONNECTOR_LEASE_SECONDS="3",
               CONNECTOR_SWEEP_SECONDS="1", CONNECTOR_VAR_DIR=str(tmp_path))
    port = free_port()
    procs = {}
    try:
        procs["web"] = start_web(env, tmp_path, port)
        procs["worker"] = start_worker(env, tmp_path)
        procs["beat"] = start_beat(env, tmp_path)
        yield {"url": f"http://127.0.0.1:{port}/webhooks/woocommerce", "env": env, "broker": broker,
               "procs": procs, "dir": tmp_path, "db": clean_db}
    finally:
        for proc in procs.values():
            proc.stop()
        broker.stop()


@pytest.mark.slow
def test_ingest_survives_sigkill_and_broker_outage(stack, fixture_payload):
    rng = random.Random(20261126)
    plan = _plan(fixture_payload("order-727"), rng)
    assert len(plan) == 1000
    db, session, answers = stack["db"], requests.Session(), []

    def send(items):
        for headers, body in items:
            response = session.post(stack["url"], data=body, headers=headers, timeout=30)
            answers.append((response.status_code, response.json()))

    send(plan[:350])
    # Kill the worker with SIGKILL while it has work in hand: its messages stay unacknowledged.
    wait_for(lambda: _scalar(db, "SELECT count(*) FROM deliveries WHERE state = 'done'") >= 20,
             timeout=60, what="the worker to start processing")
    stack["procs"]["worker"].kill()
    stack["procs"]["worker"].popen.wait(10)
    done_at_kill = _scalar(db, "SELECT count(*) FROM deliveries WHERE state = 'done'")
    send(plan[350:600])
    stack["procs"]["worker"] = start_worker(stack["env"], stack["dir"], name="worker2")

    # The broker goes away: the receiver must still answer 200 and keep every delivery.
    stack["broker"].stop()
    send(plan[600:800])
    stack["broker"].start()
    send(plan[800:])

    assert [code for code, _ in answers] == [200] * 1000
    unique = {bytes(body) for _, body in plan}
    assert sum(1 for _, answer in answers if answer["duplicate"]) == 1000 - len(unique)
    assert done_at_kill < len(unique)

    wait_for(lambda: _scalar(db, "SELECT count(*) FROM deliveries WHERE state IN ('received', 'queued')") == 0,
             timeout=180, interval=0.5, what="every delivery to be processed")

    conn = psycopg2.connect(db, cursor_factory=psycopg2.extras.RealDictCursor)
    with conn.cursor() as cur:
        cur.execute("SELECT state, count(*) AS n FROM deliveries GROUP BY state")
        assert {r["state"]: r["n"] for r in cur.fetchall()} == {"done": len(unique)}
        # Exactly one committed processing per delivery: none lost, none applied twice.
        cur.execute("SELECT subject_id, count(*) AS n FROM audit_log WHERE action = 'delivery.processed' "
                    "GROUP BY subject_id")
        processed = {r["subject_id"]: r["n"] for r in cur.fetchall()}
        assert len(processed) == len(unique) and set(processed.values()) == {1}
        cur.execute("SELECT woo_id, status, state, payload->>'date_modified_gmt' AS modified FROM orders")
        orders = cur.fetchall()
    conn.close()
    # The scenario really happened: publishes failed while the broker was down, and the
    # sweeper handed out again what the killed worker and the outage left behind.
    assert "left for the sweeper" in stack["procs"]["web"].log()
    worker_logs = stack["procs"]["worker"].log()
    assert "sweeper re-enqueued" in worker_logs
    assert len(orders) == ORDERS
    assert {(o["status"], o["modified"]) for o in orders} == {("processing", "2026-11-20T10:30:00")}
    # Paid, so each left `awaiting_payment` for the posting workflow (no JDE runs here).
    assert "awaiting_payment" not in {o["state"] for o in orders}

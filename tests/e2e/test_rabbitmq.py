"""RabbitMQ as the broker: quorum queues, publisher confirms, retries waiting in the broker, and a
clear refusal when the vhost holds queues of another shape. (Each test has a vhost of its own.)"""
import random
import subprocess
import sys
from collections import Counter

import pytest

from sandbox.woo_orders import order_document, shoppers
from tests.support import ROOT, Process, order_states, wait_for

pytestmark = pytest.mark.rabbitmq


@pytest.mark.parametrize("broker", ["rabbitmq"], indirect=True)
def test_rabbitmq_quorum_queues_and_retries_in_the_broker_post_each_order_once(broker, stack, jde, clean_db, rabbitmq):
    # 500s make the worker retry with sub-second countdowns: each goes through RabbitMQ's delay queues.
    stack.env["CONNECTOR_RETRY_BASE_SECONDS"] = "0.2"
    stack.start(workers=1, concurrency=2, beat=True)
    jde.configure(error_rate=0.4)
    rng = random.Random(5)
    people = shoppers(rng, 10)
    orders = [order_document(rng, 4000 + n, rng.choice(people)) for n in range(12)]
    stack.send_orders(orders)
    wait_for(lambda: order_states(clean_db).get("posted", 0) == len(orders), timeout=120, interval=0.3,
             what="12 orders posted")

    assert jde.stats()["faults"]["error"] > 0                       # retries did happen
    batches = Counter(line["VINV"] for line in jde.f0911_rows() if line["AA"] > 0)
    docs = {}
    for line in jde.f0911_rows():
        docs.setdefault(line["VINV"], set()).add(line["DOC"])
    assert set(docs) == {f"WC-{o['id']}" for o in orders} and all(len(d) == 1 for d in docs.values())
    assert sum(batches.values()) >= len(orders)
    queues = rabbitmq.queues()
    for name in ("celery", "posting"):
        assert queues[name]["type"] == "quorum" and queues[name]["durable"], queues
    assert any(name.startswith("celery_delayed_") for name in queues), queues   # countdowns waited there
    logs = stack.logs()
    assert "Global QoS is disabled" in logs
    assert "countdown must be" not in logs and "Traceback" not in logs


@pytest.mark.parametrize("full, sent, waiting", [(False, ["True", "True"], 2), (True, ["True", "False"], 1)])
def test_rabbitmq_publish_is_confirmed_or_reported_as_not_sent(rabbitmq, full, sent, waiting):
    """A publish the broker refuses (here: a full queue) is False for the caller, who leaves the row
    to the sweeper; without publisher confirms it would be lost without a word. (A quorum queue's
    length limit is checked before each message: one gets past max-length 0.)"""
    if full:
        rabbitmq.ctl("set_policy", "-p", rabbitmq.name, "--apply-to", "queues", "full", "^celery$",
                     '{"max-length": 0, "overflow": "reject-publish"}')
    script = ("from tasks import enqueue\nfrom tasks.deliveries import process_delivery\n"
              "for n in (1, 2):\n    print(enqueue.send(process_delivery, n))\n    enqueue._open_until = 0\n")
    env = dict(__import__("os").environ, CELERY_BROKER_URL=rabbitmq.url)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == sent, done.stdout + done.stderr
    assert rabbitmq.depth("celery") == waiting


def test_rabbitmq_classic_queue_left_behind_stops_the_worker_saying_what_to_do(rabbitmq, tmp_path, clean_db):
    from kombu import Connection, Queue

    with Connection(rabbitmq.url) as conn:
        Queue("celery", durable=True).bind(conn.default_channel).declare()   # as a Celery default set-up leaves it
    env = dict(__import__("os").environ, CELERY_BROKER_URL=rabbitmq.url, CONNECTOR_VAR_DIR=str(tmp_path))
    worker = Process("worker", [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--concurrency", "1",
                                "--without-gossip", "--without-mingle"], env, tmp_path)
    try:
        wait_for(lambda: worker.popen.poll() is not None, timeout=60, what="the worker to refuse to start")
    finally:
        worker.stop()
    assert worker.popen.returncode != 0
    text = worker.log()
    assert "worker not started: RabbitMQ queue 'celery'" in text, text
    assert rabbitmq.name in text and "rabbitmqctl delete_queue" in text and "vhost of its own" in text
    assert rabbitmq.queues()["celery"]["type"] == "classic"                 # nothing was changed

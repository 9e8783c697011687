"""RabbitMQ restarted mid-run (`rabbitmqctl stop_app` / `start_app`) while webhooks arrive: every
order the receiver answered 200 for is posted exactly once, worker and beat stay up (they reconnect),
and RabbitMQ is running again afterwards whatever happens."""
import random
import threading
import time
from collections import defaultdict

import pytest

from sandbox.woo_orders import order_document, shoppers
from sandbox.woo_webhooks import signed_delivery
from tests.conftest import WEBHOOK_SECRET
from tests.e2e.conftest import Stack, jde, stack_env  # noqa: F401  (fixtures of the e2e stack)
from tests.faults.figures import record
from tests.support import RabbitVhost, order_states, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.rabbitmq]

ORDERS = 240
RESTARTS = 2


@pytest.fixture
def rabbitmq():
    with RabbitVhost.from_env("restart") as vhost:
        yield vhost


@pytest.fixture
def broker(rabbitmq):
    """The stack's broker (tests/e2e/conftest.stack_env takes it when the test names it)."""
    return rabbitmq.url


@pytest.fixture
def stack(stack_env, tmp_path):
    running = Stack(stack_env, tmp_path)
    yield running
    running.stop()


class Sender:
    """Webhooks one after another, as WooCommerce sends them; keeps each answer's status."""

    def __init__(self, url, documents):
        import requests

        self.url, self.waiting, self.http = url, list(documents), requests.Session()
        self.answers: dict[int, int] = {}

    def send(self, count: int):
        for document in self.waiting[:count]:
            headers, body = signed_delivery(document, topic="order.updated", secret=WEBHOOK_SECRET)
            try:
                status = self.http.post(self.url, data=body, headers=headers, timeout=30).status_code
            except Exception:   # no answer is not a 200: WooCommerce (or the polling bridge) sends it again
                status = 0
            self.answers[document["id"]] = status
        del self.waiting[:count]


def _while(action, sender: Sender, count: int):
    """Run `action` (a rabbitmqctl command) while `count` webhooks arrive."""
    worker = threading.Thread(target=action)
    worker.start()
    sender.send(count)
    worker.join(120)
    assert not worker.is_alive(), "rabbitmqctl did not return within 120 s"


def _start_app():
    RabbitVhost.ctl("start_app")
    RabbitVhost.ctl("await_startup")


def test_rabbitmq_restarted_twice_mid_run_posts_every_accepted_order_once(broker, stack, jde, clean_db, rabbitmq):
    stack.start(workers=1, concurrency=2, beat=True)
    rng = random.Random(31)
    people = shoppers(rng, 60)
    sender = Sender(stack.url, [order_document(rng, 3000 + n, rng.choice(people)) for n in range(ORDERS)])
    started = time.monotonic()
    down_seconds = []
    try:
        for _ in range(RESTARTS):
            sender.send(50)                                   # RabbitMQ up, the worker posting
            went_down = time.monotonic()
            _while(lambda: RabbitVhost.ctl("stop_app"), sender, 10)   # going down
            sender.send(20)                                   # down: the receiver answers from Postgres
            _while(_start_app, sender, 10)                    # coming back
            down_seconds.append(round(time.monotonic() - went_down, 1))
        sender.send(len(sender.waiting))
    finally:
        RabbitVhost.ctl("start_app")   # idempotent: RabbitMQ is left running whatever happened above
    up_again = time.monotonic()
    accepted = {f"WC-{woo_id}" for woo_id, status in sender.answers.items() if status == 200}
    wait_for(lambda: order_states(clean_db).get("posted", 0) >= len(accepted), timeout=300, interval=0.5,
             what=f"the {len(accepted)} accepted orders posted")
    recovered = time.monotonic() - up_again

    documents = defaultdict(set)
    for line in jde.f0911_rows():
        documents[line["VINV"]].add(line["DOC"])
    emails = [row["EMAL"] for row in jde.f01151_rows()]
    figures = dict(orders=ORDERS, accepted=len(accepted), restarts=RESTARTS,
                   seconds_down=down_seconds, lost=len(accepted - set(documents)),
                   doubled=sum(len(d) > 1 for d in documents.values()),
                   duplicate_customers=len(emails) - len(set(emails)), logins=jde.stats()["token_requests"],
                   seconds_to_recover=round(recovered, 1), seconds=round(time.monotonic() - started, 1))
    record("rabbitmq_restart", **figures)

    assert len(accepted) == ORDERS, sender.answers     # the receiver never needed the broker to say 200
    assert figures["lost"] == 0 and figures["doubled"] == 0 and figures["duplicate_customers"] == 0
    assert figures["logins"] == 1                       # RabbitMQ's restart costs no AIS login (Redis has it)
    for name in ("worker0", "beat"):
        assert stack.procs[name].popen.poll() is None, stack.procs[name].log()[-3000:]
    # The worker reconnected to RabbitMQ (it did not just finish what it held): more was posted after.
    assert "Connection to broker lost" in stack.procs["worker0"].log() or \
        "Cannot connect to amqp" in stack.procs["worker0"].log()
    assert rabbitmq.queues()["posting"]["type"] == "quorum"

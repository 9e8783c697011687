"""Several worker hosts: worker processes with their own hostnames, sharing nothing but Postgres,
Redis and the broker, under the AIS faults of the exactly-once test (tests/e2e/test_exactly_once.py)."""
import random
import time
from collections import defaultdict

import pytest

from sandbox.woo_orders import order_document, shoppers
from tests.e2e.conftest import BROKERS
from tests.faults.figures import record
from tests.support import order_states, wait_for

ORDERS = 300


# About 25 s a broker here: not `slow`, so every `make test` runs it.
@pytest.mark.parametrize("broker", BROKERS, indirect=True)
def test_fleet_of_two_workers_posts_each_order_once_with_one_login(broker, stack, jde, clean_db, request):
    stack.env["CONNECTOR_RETRY_BASE_SECONDS"] = "0.2"
    stack.start(workers=2, concurrency=2, beat=True)
    jde.configure(error_rate=0.2, drop_rate=0.05, warning_rate=0.1, invalid_token_403_rate=0.5)
    rng = random.Random(23)
    people = shoppers(rng, 90)
    orders = [order_document(rng, 6000 + n, rng.choice(people)) for n in range(ORDERS)]
    started = time.monotonic()
    stack.send_orders(orders[:ORDERS // 2])
    wait_for(lambda: order_states(clean_db).get("posted", 0) >= 50, timeout=180, interval=0.5, what="50 posted")
    jde.expire_tokens()   # every worker's next call answers 444 or 403: the fleet logs in again, once
    stack.send_orders(orders[ORDERS // 2:])
    wait_for(lambda: order_states(clean_db).get("posted", 0) == ORDERS, timeout=600, interval=0.5,
             what=f"all {ORDERS} orders posted")
    seconds = time.monotonic() - started

    documents = defaultdict(set)
    for line in jde.f0911_rows():
        documents[line["VINV"]].add(line["DOC"])
    expected = {f"WC-{o['id']}" for o in orders}
    emails = [row["EMAL"] for row in jde.f01151_rows()]
    stats = jde.stats()
    figures = dict(broker=request.node.callspec.params["broker"], workers=2, concurrency=2, orders=ORDERS,
                   lost=len(expected - set(documents)), doubled=sum(len(d) > 1 for d in documents.values()),
                   duplicate_customers=len(emails) - len(set(emails)), customers=len(set(emails)),
                   logins=stats["token_requests"], faults=stats["faults"], seconds=round(seconds, 1))
    record(f"{figures['broker']}_two_workers", **figures)

    assert figures["lost"] == 0 and set(documents) == expected
    assert figures["doubled"] == 0                                    # each batch one JDE document
    assert figures["duplicate_customers"] == 0 and len(jde.f0101_rows()) == len(set(emails))
    assert figures["logins"] <= 3                                     # the token is the fleet's
    faults = stats["faults"]
    assert faults["error"] > 0 and faults["drop"] > 0 and faults["warning"] > 0 and faults["token_403"] > 0
    assert order_states(clean_db) == {"posted": ORDERS}
    for name in ("worker0", "worker1"):                              # both hosts did the work
        assert "is in the JDE general ledger" in stack.procs[name].log(), name

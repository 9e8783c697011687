"""Postgres and Redis restarted while webhooks arrive: every order the receiver answered 200 for is
posted exactly once (one JDE document per batch).

Postgres here is a server of the test's own (tests/support.py PostgresServer), stopped with
`pg_ctl stop -m fast` (every session ended, the clients' connections dropped) and started again on
the same port; Redis is a server of the test's own without persistence, killed and started empty
(the broker's messages and the cached AIS token gone). While Postgres is down the receiver answers
503 and WooCommerce does not resend: those orders are counted apart (`refused`), not expected in
JDE — the polling bridge's catching of unanswered orders is test_web_killed.py's scenario.
"""
import random
import time

import pytest

from sandbox.woo_orders import order_document, shoppers
from tests.faults.conftest import Sender, jde_documents
from tests.faults.figures import record
from tests.support import order_states, wait_for


def _posted(db_url) -> int:
    try:
        return order_states(db_url).get("posted", 0)
    except Exception:   # our Postgres is down right now
        return -1


class Faults:
    """Restarts, each with the seconds from the service's return to the next order posted."""

    def __init__(self, db_url, sender):
        self.db_url, self.sender, self.recoveries, self.injected = db_url, sender, [], []

    def restart(self, name, stop, start, *, answers_while_down: int):
        posted_before = _posted(self.db_url)
        stop()
        self.injected.append(name)
        # Down for as many webhooks as `answers_while_down`: the orders keep arriving throughout.
        seen = self.sender.sent()
        wait_for(lambda: self.sender.sent() >= seen + answers_while_down, timeout=60,
                 what=f"webhooks answered while {name} is down")
        start()
        back = time.monotonic()
        wait_for(lambda: _posted(self.db_url) > max(posted_before, 0), timeout=90, interval=0.2,
                 what=f"an order posted after {name} came back")
        self.recoveries.append(time.monotonic() - back)


@pytest.mark.slow
def test_postgres_and_redis_restarted_twice_each_post_every_accepted_order_once(own_stack, jde, own_postgres,
                                                                               own_redis):
    own_stack.start(workers=1, concurrency=2, beat=True)
    db_url = own_postgres.url
    rng = random.Random(500)
    people = shoppers(rng, 150)
    orders = [order_document(rng, 50000 + n, rng.choice(people)) for n in range(500)]
    sender = Sender(own_stack.url, orders, pause=0.04).start()
    faults = Faults(db_url, sender)

    for threshold, (name, server) in zip((60, 160, 260, 360), [("postgres", own_postgres), ("redis", own_redis)] * 2):
        wait_for(lambda: sender.sent() >= threshold, timeout=120, what=f"{threshold} webhooks sent")
        faults.restart(name, server.stop, server.start, answers_while_down=25)
    sender.join(180)

    accepted = sender.accepted()
    wait_for(lambda: _posted(db_url) >= len(accepted), timeout=240, interval=0.5,
             what=f"all {len(accepted)} accepted orders posted")
    entries = jde_documents(jde)
    lost = len(accepted - set(entries))
    doubled = sum(1 for docs in entries.values() if len(docs) > 1)
    logins = jde.stats()["token_requests"]
    refused = sender.refused()
    record("postgres_and_redis_restarts", orders=len(orders), faults=len(faults.injected),
           answered_200=len(accepted), refused=sum(refused.values()), lost=lost, doubled=doubled, logins=logins,
           recovery_seconds=round(max(faults.recoveries), 1))

    assert set(refused) <= {503}, refused                       # down: 503, never a 500 or a hang
    assert 0 < sum(refused.values()) < 100                      # Postgres was really down for some
    assert lost == 0 and doubled == 0
    assert set(entries) <= {f"WC-{o['id']}" for o in orders}    # nothing JDE holds that no one sent
    assert logins <= 1 + faults.injected.count("redis")         # a token lost with Redis: one login each
    for name, proc in own_stack.procs.items():
        assert proc.popen.poll() is None, f"{name} died:\n{proc.log()[-3000:]}"
    assert "Unrecoverable error" not in own_stack.logs()

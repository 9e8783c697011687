"""Redis restarted with its data gone (no persistence) while orders arrive: the broker's messages and
the cached AIS token are lost; the worker and beat stay up, reconnect, and the database (the source of
truth) gets every order posted once."""
import random
import time

from sandbox.woo_orders import order_document, shoppers
from tests.faults.conftest import Sender, jde_documents
from tests.faults.figures import record
from tests.support import order_states, wait_for


def test_redis_restart_without_data_keeps_worker_and_beat_up_and_loses_nothing(redis_stack, jde, own_redis,
                                                                                 clean_db):
    redis_stack.start(workers=1, concurrency=2, beat=True)
    rng = random.Random(14)
    people = shoppers(rng, 40)
    orders = [order_document(rng, 14000 + n, rng.choice(people)) for n in range(120)]
    sender = Sender(redis_stack.url, orders, pause=0.05).start()

    wait_for(lambda: order_states(clean_db).get("posted", 0) >= 10, timeout=60, what="10 orders posted")
    own_redis.stop()                     # messages, queues and the cached token are gone
    down_at, seen = time.monotonic(), sender.sent()
    wait_for(lambda: sender.sent() >= seen + 30, timeout=60, what="30 webhooks received while Redis is down")
    own_redis.start()                    # same port, empty
    recovered_from = time.monotonic()
    posted_at_restart = order_states(clean_db).get("posted", 0)
    wait_for(lambda: order_states(clean_db).get("posted", 0) > posted_at_restart, timeout=30, interval=0.2,
             what="the first order posted after the restart")
    recovery = time.monotonic() - recovered_from
    sender.join(60)

    accepted = sender.accepted()
    wait_for(lambda: order_states(clean_db).get("posted", 0) >= len(accepted), timeout=120, interval=0.5,
             what=f"all {len(accepted)} accepted orders posted")
    entries = jde_documents(jde)
    doubled = sum(1 for docs in entries.values() if len(docs) > 1)
    lost = len(accepted - set(entries))
    logins = jde.stats()["token_requests"]
    record("redis_restart", orders=len(orders), faults=1, answered_200=len(accepted), lost=lost, doubled=doubled,
           logins=logins, recovery_seconds=round(recovery, 1), redis_down_seconds=round(recovered_from - down_at, 1))

    for name in ("worker0", "beat"):
        proc = redis_stack.procs[name]
        assert proc.popen.poll() is None, f"{name} died:\n{proc.log()[-3000:]}"
    assert "Unrecoverable error" not in redis_stack.logs()
    assert len(accepted) == len(orders)  # the receiver never needed Redis to answer 200
    assert lost == 0 and doubled == 0
    assert logins <= 2                   # the cached token went with Redis: one more login at most

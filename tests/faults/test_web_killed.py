"""The web process SIGKILLed mid-request: the sender sees no 200, nothing is half-stored (a delivery row
is committed before the 200 or not at all), and WooCommerce's polling bridge (the sandbox store's REST
API, polled by beat) catches every order whose webhook got no 200."""
import json
import socket
import time

from sandbox.woo_store import WooStoreServer
from sandbox.woo_webhooks import signed_delivery
from tests.conftest import WEBHOOK_SECRET
from tests.e2e.conftest import Stack
from tests.faults.conftest import jde_documents, stack_environment
from tests.faults.figures import record
from tests.support import order_states, query, start_beat, start_web, wait_for


def _half_sent(port: int, document) -> socket.socket:
    """A webhook whose headers and first half of the body are sent: the server is inside the request."""
    headers, body = signed_delivery(document, topic="order.updated", secret=WEBHOOK_SECRET)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"POST /webhooks/woocommerce HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
                 f"{head}\r\n".encode() + body[: len(body) // 2])
    return sock


def _answer(sock: socket.socket) -> bytes:
    try:
        return sock.recv(1024)
    except ConnectionResetError:
        return b""


def test_web_killed_mid_request_orders_caught_by_polling_and_nothing_half_stored(jde, own_redis, clean_db,
                                                                                   tmp_path):
    with WooStoreServer(seed=21, delivery_timeout=5, source_url="https://shop.example.com/") as shop:
        env = stack_environment(jde, tmp_path, database_url=clean_db, redis_url=own_redis.url)
        env.update(WOO_STORE_URL=shop.url, WOO_CONSUMER_KEY="ck_sandbox", WOO_CONSUMER_SECRET="cs_sandbox",
                   CONNECTOR_POLL_SECONDS="3")
        stack = Stack(env, tmp_path)
        try:
            stack.start(workers=1, concurrency=2, beat=False)   # beat (the poller) once the shop has orders
            for topic in ("order.created", "order.updated"):
                shop.add_webhook(topic, stack.url, WEBHOOK_SECRET)
            shop.generate(30, seed=1, pending_share=0.0)
            shop.flush()

            # Killed inside a request: its sender gets no answer at all.
            [placed] = shop.generate(1, seed=2, pending_share=0.0)
            inside = _half_sent(stack.port, shop.order(placed["id"]))
            stack.procs["web"].kill()
            killed_at = time.monotonic()
            stack.procs["web"].popen.wait(10)
            assert _answer(inside) == b""            # the connection closed (or reset) with no status line
            inside.close()

            # Down: the shop's single attempts fail; then it is back.
            shop.generate(10, seed=3, pending_share=0.0)
            shop.flush()
            stack.procs["web"] = start_web(stack.env, stack.log_dir, stack.port)
            shop.generate(10, seed=4, pending_share=0.0)
            shop.flush()
            unanswered = {f"WC-{d['resource_id']}" for d in shop.deliveries()
                          if d.get("kind") == "delivery" and d["outcome"] != 200}
            assert unanswered, "no delivery went unanswered: the web process was not down"
            stack.procs["beat"] = start_beat(stack.env, stack.log_dir)
            paid = {f"WC-{o['id']}" for o in shop.orders() if o["status"] in ("processing", "completed")}
            wait_for(lambda: order_states(clean_db).get("posted", 0) >= len(paid), timeout=120, interval=0.5,
                     what=f"all {len(paid)} paid orders posted")
            recovery = time.monotonic() - killed_at
            rows = query(clean_db, "SELECT state, body, resource_id FROM deliveries")
        finally:
            stack.stop()

    entries = jde_documents(jde)
    half = f"WC-{placed['id']}"
    record("web_killed_mid_request", orders=len(paid), faults=1, unanswered=len(unanswered | {half}),
           lost=len(paid - set(entries)), doubled=sum(1 for docs in entries.values() if len(docs) > 1),
           logins=jde.stats()["token_requests"], recovery_seconds=round(recovery, 1))
    assert set(entries) == paid and half in paid and unanswered <= paid   # caught by the poller
    assert all(len(docs) == 1 for docs in entries.values())
    # Nothing half-stored: every delivery row holds a whole body (the half-sent one left none) and is finished.
    assert rows and all(row["state"] in ("done", "ignored") for row in rows), [r["state"] for r in rows]
    for row in rows:
        assert json.loads(bytes(row["body"]))["id"] == row["resource_id"]

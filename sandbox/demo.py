"""The demo shop of `make run`: a stream of orders delivered to the receiver as WooCommerce would.

Paid orders, pending ones that are paid a little later (and some never), guests and
registered customers who come back. Runs until stopped (or `count` orders).
"""
from __future__ import annotations

import random
import time

import requests

from sandbox.woo_orders import customer_document, order_document, paid_version, shoppers
from sandbox.woo_webhooks import signed_delivery


def _wait_until_up(health_url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(health_url, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the receiver at {health_url} did not come up")


def run(url: str, secret: str, *, interval: float = 2.0, seed: int | None = None, count: int | None = None,
        first_order: int | None = None, echo=print) -> None:
    rng = random.Random(seed)
    # Ids from the clock, so a second demo run over the same database brings new orders.
    first_order = first_order or 100_000 + int(time.time()) % 800_000
    people = shoppers(rng, 25)
    registered: set[int] = set()
    awaiting: list[tuple[int, dict]] = []    # (due at order n, pending document)
    _wait_until_up(url.split("/webhooks/")[0] + "/healthz")

    def deliver(document, topic):
        # One connection per delivery, as WooCommerce's wp_remote_post makes them.
        headers, body = signed_delivery(document, topic=topic, secret=secret)
        try:
            return requests.post(url, data=body, headers=headers, timeout=60).status_code
        except requests.RequestException as exc:
            return f"not delivered ({type(exc).__name__})"

    n = 0
    while count is None or n < count:
        order_id = first_order + n
        shopper = rng.choice(people)
        if shopper.customer_id and shopper.customer_id not in registered:
            registered.add(shopper.customer_id)
            deliver(customer_document(shopper), "customer.created")
        status = "pending" if rng.random() < 0.3 else rng.choice(["processing", "processing", "completed"])
        document = order_document(rng, order_id, shopper, status=status)
        code = deliver(document, "order.created")
        who = "guest" if not shopper.customer_id else f"customer {shopper.customer_id}"
        echo(f"order {order_id}: {status:<10} {document['total']:>8} USD  {who:<13} → {code}")
        if status == "pending" and rng.random() < 0.8:
            awaiting.append((n + rng.randint(2, 4), document))
        for due, pending in [a for a in awaiting if a[0] <= n]:
            awaiting.remove((due, pending))
            code = deliver(paid_version(pending), "order.updated")
            echo(f"order {pending['id']}: paid now              → {code}")
        n += 1
        time.sleep(interval)   # pacing of the demo stream, not synchronisation

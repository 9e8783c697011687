"""The demo shop of `make run`: a sandbox WooCommerce store whose webhooks feed the receiver.

It starts a `WooStoreServer` on loopback, registers webhooks for order.created,
order.updated and customer.created pointing at the connector, and places orders: paid
ones, pending ones that are paid a little later (and some never), guests and registered
customers who come back. The store delivers them as WooCommerce does (asynchronously,
signed, built at delivery time) and answers the REST API for a polling bridge. Runs until
stopped (or `count` orders).
"""
from __future__ import annotations

import random
import time

import requests

from sandbox.woo_orders import order_document, shoppers
from sandbox.woo_store import WooStoreServer

# The topics a shop owner registers for the connector (`connector woo webhooks ensure` registers
# the same ones on a real shop).
TOPICS = ("order.created", "order.updated", "order.deleted", "customer.created", "customer.updated",
          "product.created", "product.updated")
# The store identity of connector.toml, which the demo has always sent as X-WC-Webhook-Source.
DEMO_SOURCE = "https://shop.example.com/"
FLUSH_SECONDS = 10.0   # how long a line waits for its delivery's outcome before saying "queued"


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


def _describe(outcome) -> str:
    if isinstance(outcome, int):
        return str(outcome)
    if outcome == "dropped":
        return "lost (drop rate)"
    return f"not delivered ({str(outcome).split(':')[0]})"


class _Outcomes:
    """Reads the store's delivery log as it grows: what happened to each (topic, resource)."""

    def __init__(self, shop: WooStoreServer, echo):
        self._shop, self._echo, self._seen = shop, echo, 0
        self._latest: dict[tuple[str, int], object] = {}
        self._disabled: set[int] = set()

    def of(self, topic: str, resource_id: int) -> str:
        try:
            self._shop.flush(FLUSH_SECONDS)
        except TimeoutError:
            pass
        entries = self._shop.deliveries(self._seen)
        self._seen += len(entries)
        for entry in entries:
            if entry["kind"] == "delivery":
                self._latest[(entry["topic"], entry["resource_id"])] = entry["outcome"]
        for webhook_id in set(self._shop.stats()["disabled"]) - self._disabled:
            self._disabled.add(webhook_id)
            self._echo(f"webhook {webhook_id} disabled after repeated failed deliveries (the store stops sending it)")
        outcome = self._latest.pop((topic, resource_id), None)
        return "queued" if outcome is None else _describe(outcome)


def run(url: str, secret: str, *, interval: float = 2.0, seed: int | None = None, count: int | None = None,
        first_order: int | None = None, echo=print, store_port: int = 0,
        source: str | None = DEMO_SOURCE) -> None:
    """Run the demo shop; `source` is its X-WC-Webhook-Source (None: the store's own URL)."""
    rng = random.Random(seed)
    # Ids from the clock, so a second demo run over the same database brings new orders.
    first_order = first_order or 100_000 + int(time.time()) % 800_000
    people = shoppers(rng, 25)
    awaiting: list[tuple[int, int]] = []    # (due at order n, pending order id)
    _wait_until_up(url.split("/webhooks/")[0] + "/healthz")
    with WooStoreServer(port=store_port, seed=1 if seed is None else seed, first_order_id=first_order,
                        source_url=source) as shop:
        echo(f"WooCommerce sandbox store: {shop.url} (key {shop.consumer_key})")
        for topic in TOPICS:
            webhook_id = shop.add_webhook(topic, url, secret, name=f"JD Edwards connector: {topic}")
            ping = next(e for e in reversed(shop.deliveries()) if e["kind"] == "ping" and e["webhook_id"] == webhook_id)
            if ping["outcome"] != "ok":
                echo(f"webhook {webhook_id} ({topic}): ping {ping['outcome']}")
        outcomes = _Outcomes(shop, echo)
        n = 0
        while count is None or n < count:
            order_id = first_order + n
            shopper = shop.store.customer_for(rng.choice(people))   # a first visit registers: customer.created
            status = "pending" if rng.random() < 0.3 else rng.choice(["processing", "processing", "completed"])
            document = shop.place_order(order_document(rng, order_id, shopper, status=status))
            who = "guest" if not shopper.customer_id else f"customer {shopper.customer_id}"
            code = outcomes.of("order.created", order_id)
            echo(f"order {order_id}: {status:<10} {document['total']:>8} USD  {who:<13} → {code}")
            if status == "pending" and rng.random() < 0.8:
                awaiting.append((n + rng.randint(2, 4), order_id))
            for due, pending in [a for a in awaiting if a[0] <= n]:
                awaiting.remove((due, pending))
                shop.pay_order(pending)
                echo(f"order {pending}: paid now              → {outcomes.of('order.updated', pending)}")
            n += 1
            time.sleep(interval)   # pacing of the demo stream, not synchronisation

"""The demo shop of `make run`: a sandbox WooCommerce store whose webhooks feed the receiver.

It starts a `WooStoreServer` on loopback, registers webhooks for order.created,
order.updated and customer.created pointing at the connector, and places orders: paid
ones, pending ones that are paid a little later (and some never), guests and registered
customers who come back. A few orders after being paid, some orders are refunded (one item,
the shipping, an amount or everything; through the gateway or by hand) and some cancelled,
a few of those refunded in full later. The store delivers them as WooCommerce does
(asynchronously, signed, built at delivery time) and answers the REST API for a polling
bridge. Runs until stopped (or `count` orders).
"""
from __future__ import annotations

import random
import time
from decimal import Decimal

import requests

from sandbox.woo_orders import order_document, shoppers
from sandbox.woo_store import WooStoreServer, refunds

# The topics a shop owner registers for the connector (`connector woo webhooks ensure` registers
# the same ones on a real shop).
TOPICS = ("order.created", "order.updated", "order.deleted", "customer.created", "customer.updated",
          "product.created", "product.updated")
# The store identity of connector.toml, which the demo has always sent as X-WC-Webhook-Source.
DEMO_SOURCE = "https://shop.example.com/"
FLUSH_SECONDS = 10.0   # how long a line waits for its delivery's outcome before saying "queued"
# Of the paid orders: refunded a few orders later, cancelled a little later; of the cancelled
# ones, refunded in full later on. A third of refunds on a gateway that could refund are by hand.
REFUND_SHARE, CANCEL_SHARE, CANCELLED_REFUNDED_SHARE, BY_HAND_SHARE = 0.15, 0.05, 0.5, 1 / 3
REASONS = {"one item": "Arrived damaged", "shipping only": "Late delivery", "amount only": "Price match",
           "full": "Returned in full"}


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


class _Aftercare:
    """What happens to paid orders later: refunds and cancellations, planned with their own seeded
    generator (the orders the demo places stay those of its seed), one echoed line each."""

    def __init__(self, shop: WooStoreServer, outcomes: _Outcomes, echo, seed: int | None):
        self._shop, self._outcomes, self._echo = shop, outcomes, echo
        self._rng = random.Random(None if seed is None else f"{seed}:aftercare")
        self._planned: list[tuple[int, str, int]] = []   # (due at order n, "refund" | "cancel" | "full", order id)

    def paid(self, n: int, order_id: int) -> None:
        roll = self._rng.random()
        if roll < CANCEL_SHARE:
            self._planned.append((n + self._rng.randint(1, 3), "cancel", order_id))
        elif roll < CANCEL_SHARE + REFUND_SHARE:
            self._planned.append((n + self._rng.randint(2, 4), "refund", order_id))

    def due(self, n: int) -> None:
        for plan in [p for p in self._planned if p[0] <= n]:
            self._planned.remove(plan)
            _, action, order_id = plan
            if action == "cancel":
                self._cancel(n, order_id)
            else:
                self._refund(order_id, full=action == "full")

    def _cancel(self, n: int, order_id: int) -> None:
        self._shop.cancel_order(order_id)
        self._echo(f"order {order_id}: cancelled             → {self._outcomes.of('order.updated', order_id)}")
        if self._rng.random() < CANCELLED_REFUNDED_SHARE:
            self._planned.append((n + self._rng.randint(2, 4), "full", order_id))

    def _refund(self, order_id: int, *, full: bool) -> None:
        order = self._shop.order(order_id)
        left = refunds.remaining(order)
        if left <= 0:
            return
        kinds = ["one item", "amount only", "full"] + (["shipping only"] if Decimal(order["shipping_total"]) else [])
        kind = "full" if full else self._rng.choice(kinds)
        # A shop owner cannot have bank transfers or cash on delivery refunded by the gateway.
        by_gateway = refunds.GATEWAY_REFUNDS.get(order["payment_method"], False) and \
            self._rng.random() >= BY_HAND_SHARE
        request = self._request(order, kind, left, reason=REASONS[kind], api_refund=by_gateway)
        if Decimal(request["amount"]) > left:   # gift cards paid part: the lines are worth more than is left
            kind, request = "full", refunds.full_refund(order, reason=REASONS["full"], api_refund=by_gateway)
        refund = self._shop.refund_order(order_id, **request)
        how = f"via {order['payment_method']}" if by_gateway else "by hand"
        self._echo(f"order {order_id}: refund {refund['id']} {refund['amount']:>8} ({kind}, {how}) "
                   f"→ {self._outcomes.of('order.updated', order_id)}")

    def _request(self, order: dict, kind: str, left: Decimal, **options) -> dict:
        if kind == "one item":
            return refunds.item_refund(order, self._rng.choice(order["line_items"])["id"], **options)
        if kind == "shipping only":
            return refunds.shipping_refund(order, **options)
        if kind == "amount only":
            cents = self._rng.randint(1, max(1, int(left * 100) // 3))
            return refunds.amount_refund(order, Decimal(cents) / 100, **options)
        return refunds.full_refund(order, refunds=self._shop.refunds(order["id"]), **options)


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
        aftercare = _Aftercare(shop, outcomes, echo, seed)
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
            elif status != "pending":
                aftercare.paid(n, order_id)
            for due, pending in [a for a in awaiting if a[0] <= n]:
                awaiting.remove((due, pending))
                shop.pay_order(pending)
                echo(f"order {pending}: paid now              → {outcomes.of('order.updated', pending)}")
                aftercare.paid(n, pending)
            aftercare.due(n)
            n += 1
            time.sleep(interval)   # pacing of the demo stream, not synchronisation

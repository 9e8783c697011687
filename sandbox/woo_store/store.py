"""The shop's state: orders, their refunds, customers, webhooks, behind one lock.

Every change stamps the resource with the store clock and fires its topic; the payload of
that webhook is read back from here when the delivery thread gets to it. A resource changed
twice within one second still gets a strictly later `date_modified_gmt` (the clock is bumped
by a second), so "modified after the last one seen" never misses a change. A refund is kept
as its own record (refunds.py builds it) and changes its order like any other edit.
"""
from __future__ import annotations

import dataclasses
import itertools
import random
import threading
from collections import Counter
from datetime import datetime, timedelta

from sandbox.woo_orders import Shopper, customer_document, order_document, shoppers
from sandbox.woo_store.catalog import (CUSTOMER_NOT_FOUND, ORDER_NOT_FOUND, PAID_STATUSES, parse_gmt, utc_now,
                                       with_local_dates, wp_date)
from sandbox.woo_store import refunds as refunding
from sandbox.woo_store.delivery import Deliverer, Webhook


def _clone(value):
    """A deep copy of JSON-shaped data (dicts, lists, scalars): copy.deepcopy, many times faster."""
    if isinstance(value, dict):
        return {key: _clone(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clone(item) for item in value]
    return value


class WooStore:
    """An in-memory WooCommerce shop; thread-safe. `site_url` is set by the server once bound."""

    def __init__(self, *, seed=1, site_url: str = "https://shop.example.com/", first_order_id: int = 1000,
                 drop_rate: float = 0.0, delivery_timeout: float = 60.0, clock=utc_now,
                 source_url: str | None = None):
        self.site_url, self.seed = site_url, seed
        # What X-WC-Webhook-Source says; None: the site URL. Lets a sandbox on a random port keep
        # the store identity the connector is configured with.
        self.source_url = source_url
        self._clock = clock
        self._lock = threading.RLock()
        # Product reads over REST, by product id: what the connector's category cache costs the shop.
        self.product_reads: Counter = Counter()
        self._orders: dict[int, dict] = {}
        self._customers: dict[int, dict] = {}
        self._customer_by_email: dict[str, int] = {}
        self._next_order_id, self._next_customer_id = first_order_id, 100
        self._refunds: dict[int, dict] = {}   # by refund id; each knows its order as `parent_id`
        self._next_refund_id = refunding.FIRST_REFUND_ID
        self._refund_item_ids = itertools.count(refunding.FIRST_REFUND_ITEM_ID)
        self.deliverer = Deliverer(payload=self._payload, site_url=lambda: self.source_url or self.site_url,
                                   seed=seed, drop_rate=drop_rate, timeout=delivery_timeout, clock=clock)

    def close(self) -> None:
        self.deliverer.close()

    # -- time ----------------------------------------------------------------------------

    def _now(self, *, after: str | None = None) -> datetime:
        now = self._clock().replace(microsecond=0)
        previous = parse_gmt(after)
        return max(now, previous + timedelta(seconds=1)) if previous else now

    # -- orders --------------------------------------------------------------------------

    def place_order(self, document: dict, *, keep_dates: bool = False) -> dict:
        """A checkout: store the order (stamped now unless `keep_dates`), fire `order.created`."""
        with self._lock:
            order = _clone(document)
            order_id = int(order.get("id") or self._next_order_id)
            if order_id in self._orders or order_id in self._refunds:
                raise ValueError(f"order {order_id} exists already")
            order["id"], order.setdefault("number", str(order_id))
            if not keep_dates:
                stamp = wp_date(self._now())
                order.update(date_created_gmt=stamp, date_modified_gmt=stamp,
                             date_paid_gmt=stamp if order.get("status") in PAID_STATUSES else None,
                             date_completed_gmt=stamp if order.get("status") == "completed" else None)
            self._orders[order_id] = order
            self._next_order_id = max(self._next_order_id, order_id + 1)
            self.deliverer.fire("order.created", order_id)
            return self._render_order(order)

    def update_order(self, order_id: int, **changes) -> dict:
        """Change an order (a shallow update), stamp it strictly later, fire `order.updated`.

        Moving to processing/completed sets `date_paid_gmt` if unset, completed sets
        `date_completed_gmt`, as WooCommerce's status transitions do. Moving to refunded refunds
        what is left (`wc_order_fully_refunded`): a refund without items, no money returned.
        """
        with self._lock:
            order = self._order(order_id)
            changes.pop("id", None)
            stamp = wp_date(self._now(after=order.get("date_modified_gmt")))
            was = order.get("status")
            order.update(_clone(changes))
            order["date_modified_gmt"] = stamp
            if order.get("status") in PAID_STATUSES and not order.get("date_paid_gmt"):
                order["date_paid_gmt"] = stamp
            if order.get("status") == "completed" and not order.get("date_completed_gmt"):
                order["date_completed_gmt"] = stamp
            if order.get("status") == "refunded" and was != "refunded" and refunding.remaining(order) > 0:
                self._refund(order, refunding.remaining(order), refunding.FULLY_REFUNDED_REASON, [], False,
                             stamp=stamp)
            self.deliverer.fire("order.updated", order_id)
            return self._render_order(order)

    def cancel_order(self, order_id: int) -> dict:
        """The shop owner cancels: status `cancelled`, `order.updated`; no money goes back (a
        refund is a separate act, possible on a cancelled order too)."""
        return self.update_order(order_id, status="cancelled")

    def pay_order(self, order_id: int, status: str = "processing") -> dict:
        """Payment arrives: status and `date_paid_gmt` set, `order.updated` fired."""
        return self.update_order(order_id, status=status)

    def trash_order(self, order_id: int) -> dict:
        """Move an order to the trash: `order.deleted`, whose payload is only `{"id": N}`."""
        with self._lock:
            order = self._order(order_id)
            order["status"] = "trash"
            order["date_modified_gmt"] = wp_date(self._now(after=order.get("date_modified_gmt")))
            self.deliverer.fire("order.deleted", order_id)
            return self._render_order(order)

    def _order(self, order_id: int) -> dict:
        try:
            return self._orders[int(order_id)]
        except KeyError:
            raise KeyError(f"no order {order_id}") from None

    @property
    def next_order_id(self) -> int:
        """The id the next order placed without one gets."""
        with self._lock:
            return self._next_order_id

    def order_snapshots(self) -> list[dict]:
        """Every order as stored (shallow copies: changes replace values, never edit them), by id.
        Cheap enough to filter thousands per request; `render_order` one for the API."""
        with self._lock:
            return [dict(self._orders[key]) for key in sorted(self._orders)]

    def order(self, order_id: int) -> dict | None:
        with self._lock:
            order = self._orders.get(int(order_id))
            return None if order is None else self._render_order(order)

    def orders(self) -> list[dict]:
        """Every order as the REST API shows it, by id."""
        with self._lock:
            return [self._render_order(self._orders[key]) for key in sorted(self._orders)]

    def render_order(self, order: dict) -> dict:
        return self._render_order(order)

    def _render_order(self, order: dict) -> dict:
        document = with_local_dates(_clone(order))
        base = f"{self.site_url}wp-json/wc/v3"
        links = {"self": [{"href": f"{base}/orders/{order['id']}"}], "collection": [{"href": f"{base}/orders"}]}
        if order.get("customer_id"):
            links["customer"] = [{"href": f"{base}/customers/{order['customer_id']}"}]
        document["_links"] = links
        return document

    # -- refunds -------------------------------------------------------------------------

    def refund_order(self, order_id: int, *, amount=None, reason: str = "", line_items: list | None = None,
                     api_refund: bool = True) -> dict:
        """A refund, as `POST /orders/{id}/refunds` makes it; the refund object (view context).

        `amount` (string or number; None: the lines' refund_total and refund_tax added up),
        `line_items` [{id: order item id, quantity, refund_total, refund_tax: [{id: rate id,
        refund_total}]}], `api_refund`: the gateway gives the money back. The order lists the
        refund, turns `refunded` once nothing is left to refund, is stamped strictly later and
        fires `order.updated`. Raises `refunds.RefundRefused` (nothing changed) as WooCommerce
        refuses: unknown order, negative amount, more than is left, a gateway that cannot refund.
        """
        with self._lock:
            order = self._orders.get(int(order_id))
            if order is None:
                raise refunding.invalid_order()
            value = refunding.requested_amount(amount, line_items)
            record = self._refund(order, value, reason, line_items or [], api_refund,
                                  stamp=wp_date(self._now(after=order.get("date_modified_gmt"))))
            self.deliverer.fire("order.updated", order["id"])
            return self._render_refund(record)

    def _refund(self, order: dict, amount, reason: str, line_items: list, api_refund: bool, *, stamp: str) -> dict:
        refunding.check(order, amount, api_refund)
        record = refunding.build(order, refund_id=self._next_refund_id, amount=amount, reason=reason,
                                 line_items=line_items, refunded_payment=api_refund,
                                 created_gmt=wp_date(self._now()), ids=self._refund_item_ids)
        self._next_refund_id += 1
        self._refunds[record["id"]] = record
        refunding.apply(order, record, stamp=stamp)
        return record

    def refunds(self, order_id: int) -> list[dict]:
        """The order's refund objects, newest first; none for an unknown order (WooCommerce looks
        refunds up by their parent and finds none)."""
        with self._lock:
            return [self._render_refund(record) for record in sorted(self._refunds.values(), key=lambda r: -r["id"])
                    if record["parent_id"] == int(order_id)]

    def refund(self, order_id: int, refund_id: int) -> dict:
        """One refund object of the order; raises `refunds.RefundRefused` with WooCommerce's 404s."""
        with self._lock:
            record = self._refunds.get(int(refund_id))
            if record is None and int(refund_id) not in self._orders:
                raise refunding.invalid_refund_id()
            if int(order_id) not in self._orders:
                raise refunding.invalid_order()
            if record is None or record["parent_id"] != int(order_id):
                raise refunding.not_of_order()
            return self._render_refund(record)

    def _render_refund(self, record: dict) -> dict:
        dated = with_local_dates(record)
        document = {key: _clone(dated[key]) for key in refunding.FIELDS}
        base = f"{self.site_url}wp-json/wc/v3/orders/{record['parent_id']}"
        document["_links"] = {"self": [{"href": f"{base}/refunds/{record['id']}"}],
                              "collection": [{"href": f"{base}/refunds"}], "up": [{"href": base}]}
        return document

    # -- customers -----------------------------------------------------------------------

    def add_customer(self, document: dict, *, keep_dates: bool = False) -> dict:
        """A registration: store the customer, fire `customer.created`."""
        with self._lock:
            customer = _clone(document)
            customer_id = int(customer.get("id") or self._next_customer_id)
            if customer_id in self._customers:
                raise ValueError(f"customer {customer_id} exists already")
            customer["id"] = customer_id
            if not keep_dates:
                stamp = wp_date(self._now())
                customer.update(date_created_gmt=stamp, date_modified_gmt=stamp)
            self._customers[customer_id] = customer
            self._customer_by_email.setdefault(str(customer.get("email") or "").lower(), customer_id)
            self._next_customer_id = max(self._next_customer_id, customer_id + 1)
            self.deliverer.fire("customer.created", customer_id)
            return self._render_customer(customer)

    def update_customer(self, customer_id: int, **changes) -> dict:
        with self._lock:
            customer = self._customer(customer_id)
            changes.pop("id", None)
            customer.update(_clone(changes))
            if "email" in changes:
                self._customer_by_email[str(changes["email"] or "").lower()] = customer["id"]
            customer["date_modified_gmt"] = wp_date(self._now(after=customer.get("date_modified_gmt")))
            self.deliverer.fire("customer.updated", customer_id)
            return self._render_customer(customer)

    def _customer(self, customer_id: int) -> dict:
        try:
            return self._customers[int(customer_id)]
        except KeyError:
            raise KeyError(f"no customer {customer_id}") from None

    def customer(self, customer_id: int) -> dict | None:
        with self._lock:
            customer = self._customers.get(int(customer_id))
            return None if customer is None else self._render_customer(customer)

    def customers(self) -> list[dict]:
        with self._lock:
            return [self._render_customer(self._customers[key]) for key in sorted(self._customers)]

    def customer_snapshots(self) -> list[dict]:
        with self._lock:
            return [dict(self._customers[key]) for key in sorted(self._customers)]

    def render_customer(self, customer: dict) -> dict:
        return self._render_customer(customer)

    def _render_customer(self, customer: dict) -> dict:
        document = with_local_dates(_clone(customer))
        base = f"{self.site_url}wp-json/wc/v3/customers"
        document["_links"] = {"self": [{"href": f"{base}/{customer['id']}"}], "collection": [{"href": base}]}
        return document

    def customer_for(self, shopper: Shopper) -> Shopper:
        """The shopper as a customer of this store: registered (once) under a store id; guests as they are."""
        if not shopper.customer_id:
            return shopper
        with self._lock:
            known = self._customer_by_email.get(shopper.email.lower())
            if known is not None:
                return dataclasses.replace(shopper, customer_id=known)
            registered = dataclasses.replace(shopper, customer_id=self._next_customer_id)
            self.add_customer(customer_document(registered))
            return registered

    # -- a batch of orders ---------------------------------------------------------------

    def generate(self, n: int, *, seed=None, pending_share: float = 0.3, guests: float = 0.3) -> list[dict]:
        """Place `n` realistic orders (registering their customers first): paid ones and pending ones."""
        rng = random.Random(self.seed if seed is None else seed)
        people = shoppers(rng, max(10, n // 3), guests=guests)
        placed = []
        for _ in range(n):
            shopper = self.customer_for(rng.choice(people))
            status = "pending" if rng.random() < pending_share else rng.choice(["processing", "processing",
                                                                                  "completed"])
            with self._lock:
                order_id = self._next_order_id
                document = order_document(rng, order_id, shopper, status=status, created=self._now())
                placed.append(self.place_order(document))
        return placed

    # -- webhooks (delegated to the deliverer) -------------------------------------------

    def add_webhook(self, topic: str, delivery_url: str, secret: str | None = None, name: str | None = None, *,
                    status: str = "active") -> int:
        return self.deliverer.add(topic, delivery_url, secret, name=name, status=status).id

    def update_webhook(self, webhook_id: int, **changes) -> Webhook | None:
        return self.deliverer.update(webhook_id, **changes)

    def disable_webhook(self, webhook_id: int) -> Webhook | None:
        """Sandbox convenience: disabled at once, as if deliveries had kept failing."""
        return self.deliverer.disable(webhook_id)

    def redirect_webhooks(self, delivery_url: str) -> list[Webhook]:
        """Sandbox convenience: point every webhook at `delivery_url`, each saved as an edit
        would save it (active ones whose URL changed are pinged)."""
        return [self.deliverer.update(w.id, delivery_url=delivery_url) for w in self.deliverer.all()]

    def webhooks(self) -> list[dict]:
        return [w.as_json(self.site_url) for w in self.deliverer.all()]

    def flush(self, timeout: float = 30.0) -> None:
        self.deliverer.flush(timeout)

    def stats(self) -> dict:
        with self._lock:
            counts = {"orders": len(self._orders), "refunds": len(self._refunds), "customers": len(self._customers),
                      "product_reads": dict(self.product_reads)}
        return counts | self.deliverer.stats()

    def configure(self, *, drop_rate: float | None = None, delivery_timeout: float | None = None) -> dict:
        if drop_rate is not None:
            if not 0.0 <= float(drop_rate) <= 1.0:
                raise ValueError("drop_rate must be between 0 and 1")
            self.deliverer.drop_rate = float(drop_rate)
        if delivery_timeout is not None:
            self.deliverer.timeout = float(delivery_timeout)
        return {"drop_rate": self.deliverer.drop_rate, "delivery_timeout": self.deliverer.timeout}

    def deliveries(self, since: int = 0) -> list[dict]:
        return self.deliverer.log(since)

    # -- the payload of a delivery, read at delivery time --------------------------------

    def _payload(self, resource: str, event: str, resource_id: int) -> dict:
        if event == "deleted":
            return {"id": resource_id}
        with self._lock:
            if resource == "order":
                order = self._orders.get(resource_id)
                return ORDER_NOT_FOUND if order is None else self._render_order(order)
            if resource == "customer":
                customer = self._customers.get(resource_id)
                return CUSTOMER_NOT_FOUND if customer is None else self._render_customer(customer)
        return {}

"""Processing a stored delivery into the connector's own orders and customers.

Processing is idempotent: a delivery is claimed under a row lock and finished in the same
transaction, so a worker killed half-way leaves it unfinished (and the sweeper hands it
out again), and a delivery that is already done is never applied twice.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


from connector.faults import is_outage, reason
from connector.ledger import reversals as refunds
from connector.ledger import tenders
from connector.store import audit, journal_entries
from connector.store import customers as customer_rows
from connector.store import deliveries as delivery_rows
from connector.store import orders as order_rows
from connector.store import products as product_rows
from connector.woo.schemas import PayloadError, decode_json, load_customer, load_deleted, load_order, load_product


@dataclass(frozen=True)
class Processed:
    delivery_id: int
    topic: str
    outcome: str                # applied | stale | deleted | unknown_resource | error
    resource_id: int | None = None   # WooCommerce id
    row_id: int | None = None        # our orders / customers row
    order_state: str | None = None
    error: str | None = None

    @property
    def order_ready(self) -> bool:
        """An order that this delivery made (or kept) ready to post."""
        return self.topic.startswith("order.") and self.order_state == "ready"

    @property
    def customer_changed(self) -> bool:
        """A registered customer that may need its Address Book entry."""
        return self.topic.startswith("customer.") and self.outcome == "applied"


def process(cur, delivery_id: int, *, posting_statuses, expected_source: str | None = None,
            mapping=None) -> Processed | None:
    """Apply one delivery; None when it is already finished or another worker holds it.

    With `expected_source`, a delivery from another store is kept as an error: the mapping
    file books one store's orders, and another store's order 727 is not ours to post.
    """
    row = delivery_rows.claim(cur, delivery_id)
    if row is None:
        return None
    topic, source = row["topic"], row["source"]
    # A savepoint, so that a value Postgres refuses (an id beyond bigint, a string jsonb cannot
    # hold) rolls back only this delivery's changes and the delivery can still be marked `error`.
    cur.execute("SAVEPOINT apply_delivery")
    try:
        if expected_source and source != expected_source:
            raise PayloadError(f"delivery from {source}, but the mapping file's [store] source is "
                               f"{expected_source}: fix the mapping or the webhook")
        document = decode_json(bytes(row["body"]))
        result = _apply(cur, row, document, posting_statuses, mapping)
        cur.execute("RELEASE SAVEPOINT apply_delivery")
    except PayloadError as exc:
        cur.execute("ROLLBACK TO SAVEPOINT apply_delivery")
        result = Processed(delivery_id, topic, "error", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - any failure but an outage is this delivery's, never a loop
        if is_outage(exc):
            raise       # the database or a service is down: the delivery is tried again
        cur.execute("ROLLBACK TO SAVEPOINT apply_delivery")
        result = Processed(delivery_id, topic, "error", error=reason(exc))
    delivery_rows.finish(
        cur, delivery_id,
        state="error" if result.outcome == "error" else "done",
        error=result.error, resource_id=result.resource_id,
    )
    audit.record(
        cur, subject_type="delivery", subject_id=delivery_id, action="delivery.processed",
        outcome=result.outcome, detail=result.error,
        response={"topic": topic, "source": source, "resource_id": result.resource_id,
                  "order_state": result.order_state},
    )
    return result


def shape_of(document) -> str:
    """What a body is, from its own keys (the topic header is not signed, the body is)."""
    if not isinstance(document, dict):
        return "not an object"
    keys = set(document)
    if keys == {"id"}:
        return "deleted"
    if "line_items" in keys or "order_key" in keys:
        return "order"
    if "email" in keys and ({"username", "role", "is_paying_customer"} & keys):
        return "customer"
    if {"sku", "categories", "price"} & keys:
        return "product"
    return "unknown"


def _check_shape(topic: str, document) -> None:
    """A body must be what its topic says: an order under order.*, `{"id": N}` only under *.deleted."""
    resource, _, event = topic.partition(".")
    shape = shape_of(document)
    expected = "deleted" if event == "deleted" else resource
    if shape != expected:
        raise PayloadError(f"topic {topic} carries {_SHAPES.get(expected, expected)}, but the body is {_SHAPES[shape]}: "
                           "not applied")


_SHAPES = {"order": "an order", "customer": "a customer", "product": "a product", "deleted": 'only {"id": N}',
           "unknown": "none of order, customer, product", "not an object": "not a JSON object"}


def _apply(cur, row, document, posting_statuses, mapping=None) -> Processed:
    delivery_id, topic, source = row["id"], row["topic"], row["source"]
    body_text = bytes(row["body"]).decode("utf-8")
    resource, _, event = topic.partition(".")
    _check_shape(topic, document)
    if event == "deleted":
        woo_id = load_deleted(document)["id"]
        mark = order_rows.mark_deleted if resource == "order" else customer_rows.mark_deleted
        found = mark(cur, source=source, woo_id=woo_id, delivery_id=delivery_id)
        return Processed(delivery_id, topic, "deleted" if found else "unknown_resource", woo_id)
    if resource == "product":
        product = load_product(document)
        stored = product_rows.upsert(cur, source=source, product=product)
        return Processed(delivery_id, topic, "applied" if stored else "stale", product["id"])
    if resource == "order":
        order = load_order(document)
        stored = order_rows.upsert(
            cur, source=source, order=order, payload_json=body_text, delivery_id=delivery_id,
            payable=order["status"] in posting_statuses or _paid_then_reversed(order),
        )
        if stored is None:
            return Processed(delivery_id, topic, "stale", order["id"])
        state = stored["state"]
        if state in ("posted", "reversed") and _reversal_due(cur, stored["id"], order, mapping):
            order_rows.reopen_for_reversal(cur, stored["id"])
            state = "ready"
        return Processed(delivery_id, topic, "applied", order["id"], stored["id"], order_state=state)
    customer = load_customer(document)
    stored = customer_rows.upsert(cur, source=source, customer=customer, payload_json=body_text,
                                  delivery_id=delivery_id)
    if stored is None:
        return Processed(delivery_id, topic, "stale", customer["id"])
    return Processed(delivery_id, topic, "applied", customer["id"], stored["id"])


def _paid_then_reversed(order: dict) -> bool:
    """A paid order first seen refunded or cancelled: the money moved both ways, so its sale is
    posted and then reversed, and clearing (or refunds_payable) explains every cent."""
    return order["status"] in refunds.REVERSED_STATUSES and order.get("date_paid_gmt") is not None


def _reversal_due(cur, order_row_id: int, order: dict, mapping=None) -> bool:
    """A refund, cancellation or late gateway fee of an order already in the GL, not posted yet."""
    sale = journal_entries.posted_sale(cur, order_row_id)
    if sale is None:
        return False
    if refunds.unrecorded(order, journal_entries.batches(cur, order_row_id)):
        return True
    posted = journal_entries.posted_batches(cur, order_row_id)
    lines = [(line["account"], Decimal(line["amount"])) for line in sale["lines"]]
    return mapping is not None and tenders.late_fee_entry(order, mapping, lines, posted) is not None


def take_due(cur, *, lease_seconds: int, limit: int = 500) -> list[int]:
    """Deliveries left unfinished past their lease (broker down, worker killed): enqueue again."""
    return delivery_rows.take_expired_leases(cur, lease_seconds=lease_seconds, limit=limit)

"""Receiving a WooCommerce webhook: what is a ping, what is a repeat, what gets stored.

The receiver stores first and answers second: a delivery is durable in Postgres before
the connector says 200, and the broker is only a fast path (docs/design.md §2).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timezone

from connector.mapping import normalise_source, same_store
from connector.store import deliveries as delivery_rows

HANDLED_TOPICS = frozenset({
    "order.created", "order.updated", "order.deleted", "order.restored",
    "customer.created", "customer.updated", "customer.deleted",
    "product.created", "product.updated",
})


@dataclass(frozen=True)
class Receipt:
    delivery_id: int
    duplicate: bool
    state: str

    @property
    def needs_processing(self) -> bool:
        return not self.duplicate and self.state == "queued"


def is_ping(headers, form_body: bytes) -> bool:
    """WooCommerce's creation ping: form body `webhook_id=N` and no X-WC-* headers."""
    if any(name.lower().startswith("x-wc-") for name in headers.keys()):
        return False
    return form_body.startswith(b"webhook_id=")


def dedupe_key(topic: str, body: bytes, wc_delivery_id: str | None, *, today: date | None = None) -> bytes:
    """What makes two deliveries the same event: the signed body alone, whatever the unsigned
    headers say (a captured body resent under other topics or sources is one row).

    A body carries the resource's date_modified, so a changed resource is a new body. A
    `*.deleted` body is only `{"id": N}`: deleting, restoring and deleting again are real
    events, so the same deletion body is one row per resource kind and UTC day.
    """
    if topic.endswith(".deleted"):
        day = (today or datetime.now(timezone.utc).date()).isoformat()
        resource = topic.partition(".")[0]
        return hashlib.sha256(b"deleted\0" + resource.encode() + b"\0" + day.encode() + b"\0" + body).digest()
    return hashlib.sha256(body).digest()


# Headers WooCommerce sends, and how long they may be: longer or non-printable ones are no
# WooCommerce's (400, nothing stored).
HEADER_LIMITS = {"X-WC-Webhook-Topic": 64, "X-WC-Webhook-Source": 2048, "X-WC-Webhook-Resource": 32,
                 "X-WC-Webhook-Event": 32, "X-WC-Webhook-ID": 32, "X-WC-Webhook-Delivery-ID": 64}


class HeaderError(ValueError):
    """A webhook header no WooCommerce sends; the message names it."""


def check_headers(headers) -> None:
    for name, limit in HEADER_LIMITS.items():
        value = headers.get(name)
        if value is None:
            continue
        if len(value) > limit:
            raise HeaderError(f"{name} is {len(value)} characters long (at most {limit})")
        if not value.isprintable() or not value.isascii():
            raise HeaderError(f"{name} holds characters that are not printable ASCII")


def store(cur, *, headers, body: bytes, default_source: str, lease_seconds: int) -> Receipt:
    """Store an authenticated delivery; a topic the connector does not handle is kept as `ignored`."""
    topic = (headers.get("X-WC-Webhook-Topic") or "").strip().lower() or "unknown"
    source = normalise_source(headers.get("X-WC-Webhook-Source") or default_source)
    if same_store(source, default_source):
        source = default_source   # one key per store, as the poller stores it
    wc_delivery_id = headers.get("X-WC-Webhook-Delivery-ID") or None
    # Stored as `queued`: the caller enqueues right after the commit and turns the row back
    # to `received` only if the broker refuses it, so the common path costs one transaction.
    # A crash between commit and publish leaves a `queued` row that never reached the
    # broker, which is the case the sweeper exists for anyway.
    state = "queued" if topic in HANDLED_TOPICS else "ignored"
    error = None if state == "queued" else f"topic {topic!r} is not handled by the connector"
    resource = (headers.get("X-WC-Webhook-Resource") or "").strip().lower()
    if resource and resource != topic.partition(".")[0]:
        state, error = "error", f"X-WC-Webhook-Resource {resource!r} does not match topic {topic!r}"
    key = dedupe_key(topic, body, wc_delivery_id)
    delivery_id, new = delivery_rows.insert(
        cur,
        source=source,
        topic=topic,
        webhook_id=headers.get("X-WC-Webhook-ID") or None,
        wc_delivery_id=wc_delivery_id,
        body=body,
        body_sha256=hashlib.sha256(body).digest(),
        dedupe_key=key,
        state=state,
        error=error,
        lease_seconds=lease_seconds,
    )
    return Receipt(delivery_id=delivery_id, duplicate=not new, state=state)

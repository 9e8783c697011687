"""The polling bridge: orders WooCommerce changed that no webhook brought.

WooCommerce never retries a webhook and disables one after repeated failures, so every few
minutes the connector lists the orders modified since its watermark and stores each exactly
as a webhook would (a delivery row with the bytes the store sent, then the same processing).
The API's `modified_after` is exclusive and second-grained, so each window starts a margin
before the watermark; repeats are harmless (a stored payload is only replaced by a newer
one). The watermark moves in the same transaction as the page it covers, so a crash never
leaves an order behind it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from connector import deliveries
from connector.store import deliveries as delivery_rows
from connector.store import orders as order_rows
from connector.store import sync_state

OVERLAP = timedelta(minutes=10)
FIRST_LOOKBACK = timedelta(days=7)
POLL_TOPIC = "order.updated"
_DECODER = json.JSONDecoder(parse_float=Decimal)


def watermark_key(source: str) -> str:
    return f"woo.orders.modified_after:{source}"


def last_poll_key(source: str) -> str:
    """sync_state key of the last cycle's outcome (what it found, or why it failed), which the
    health facts (connector/health.py) show."""
    return f"woo.orders.last_poll:{source}"


@dataclass
class PollResult:
    pages: int = 0
    seen: int = 0
    stored: int = 0             # new deliveries (not exact repeats)
    ready: list[int] = field(default_factory=list)   # WooCommerce order ids now ready to post
    watermark: str | None = None


def split_array(text: str) -> list[str]:
    """The exact text of each element of a JSON array, so each order keeps the store's bytes."""
    index, end, items = 0, len(text), []
    while index < end and text[index].isspace():
        index += 1
    if index >= end or text[index] != "[":
        raise ValueError("not a JSON array")
    index += 1
    while True:
        while index < end and text[index] in " \t\r\n,":
            index += 1
        if index >= end:
            raise ValueError("unterminated JSON array")
        if text[index] == "]":
            return items
        _, stop = _DECODER.raw_decode(text, index)
        items.append(text[index:stop])
        index = stop


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def poll_orders(db, woo, *, source: str, posting_statuses, lease_seconds: int,
                now: datetime | None = None, on_page=None, since: datetime | None = None,
                mapping=None) -> PollResult:
    """One poll cycle over every page; returns what it stored and which orders became ready.

    `since` reaches further back than the watermark (the time a webhook was disabled); the
    watermark itself never moves back. The outcome, or the failure, is recorded
    (`last_poll_key`).
    """
    try:
        result = _poll(db, woo, source=source, posting_statuses=posting_statuses, lease_seconds=lease_seconds,
                       now=now, on_page=on_page, since=since, mapping=mapping)
    except Exception as exc:
        try:
            _record(db, source, error=f"{type(exc).__name__}: {exc}"[:300])
        except Exception:   # Postgres itself is what failed: the poll's own error is the one to raise
            pass
        raise
    _record(db, source, result=result)
    return result


def _record(db, source: str, *, result: PollResult | None = None, error: str | None = None) -> None:
    at = datetime.now(timezone.utc).isoformat()
    with db.transaction() as cur:
        previous = sync_state.get(cur, last_poll_key(source)) or {}
        if error is not None:
            value = {"at": at, "error": error, "failing_since": previous.get("failing_since") or at,
                     "last_ok": previous.get("last_ok")}
        else:
            value = {"at": at, "pages": result.pages, "seen": result.seen, "stored": result.stored,
                     "ready": len(result.ready), "watermark": result.watermark, "last_ok": at}
        sync_state.put(cur, last_poll_key(source), value)


def _poll(db, woo, *, source, posting_statuses, lease_seconds, now, on_page, since, mapping) -> PollResult:
    now = now or datetime.now(timezone.utc)
    key = watermark_key(source)
    with db.transaction() as cur:
        mark = sync_state.get(cur, key)
    start = (datetime.fromisoformat(mark["at"]) - OVERLAP) if mark else now - FIRST_LOOKBACK
    since = min(start, since - OVERLAP) if since is not None else start
    result = PollResult(watermark=mark["at"] if mark else None)
    page = 1
    while True:
        listing = woo.orders_modified_after(since, page=page)
        if not listing.orders:
            break
        with db.transaction() as cur:
            # The overlap brings back orders already held at this version: skip those.
            held = order_rows.versions(cur, source=source, woo_ids=[o["id"] for o in listing.orders
                                                                    if isinstance(o, dict) and "id" in o])
            for text, document in zip(split_array(listing.raw.decode("utf-8")), listing.orders):
                result.seen += 1
                modified = document.get("date_modified_gmt") if isinstance(document, dict) else None
                stored_at = held.get(document.get("id")) if isinstance(document, dict) else None
                if modified and stored_at and stored_at >= _utc(modified):
                    continue
                body = text.encode("utf-8")
                delivery_id, new = delivery_rows.insert(
                    cur, source=source, topic=POLL_TOPIC, webhook_id=None, wc_delivery_id=None, body=body,
                    body_sha256=hashlib.sha256(body).digest(), dedupe_key=hashlib.sha256(body).digest(),
                    state="queued", error=None, lease_seconds=lease_seconds)
                if not new:
                    continue
                result.stored += 1
                processed = deliveries.process(cur, delivery_id, posting_statuses=posting_statuses,
                                               expected_source=source, mapping=mapping)
                if processed is not None and processed.order_ready:
                    result.ready.append(processed.resource_id)
            newest = max((o.get("date_modified_gmt") or "" for o in listing.orders), default="")
            if newest:
                newest = _utc(newest).isoformat()
                if result.watermark is None or newest > result.watermark:
                    result.watermark = newest
                    sync_state.put(cur, key, {"at": newest})
        result.pages += 1
        if on_page:
            on_page(listing)
        if page >= listing.total_pages:
            break
        page += 1
    return result

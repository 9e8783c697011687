"""Posting tasks: one order into the GL; a customer into the Address Book; the AIS token."""
from __future__ import annotations

from celery.utils.log import get_task_logger

import psycopg2

from connector import address_book, ledger, logs, metrics, posting
from connector.jde import breaker
from connector.jde.errors import AisUnavailable
from connector.audit_trail import AuditTrail
from connector.store import orders as order_rows
from tasks.celery import app, runtime
from tasks.enqueue import resend_due, send

log = get_task_logger(__name__)


@app.task(name="post_order", bind=True, max_retries=None)
def post_order(self, woo_id: int):
    """Post WooCommerce order `woo_id` (its claim, retries and outcome live in Postgres).

    Called with the shop's order number, so Flower and `celery -A tasks call` read as the
    finance team speaks: post_order(727). A retry, or a post deferred while JDE is unreachable,
    shows in Flower as RETRY with its countdown.
    """
    # Every line logged while posting it names the order and its (sale) batch.
    with logs.context(order=woo_id, batch=ledger.batch_number(woo_id)):
        return _post_order(self, woo_id)


def _post_order(self, woo_id: int):
    # Before claiming: without a usable AIS configuration the order stays `ready`.
    runtime.ais_session  # noqa: B018
    _probe_jde()
    with runtime.db.transaction() as cur:
        row = order_rows.get(cur, source=runtime.mapping.store.source, woo_id=woo_id)
    if row is None:
        metrics.posting("unknown_order")
        return {"order": woo_id, "outcome": "unknown_order"}
    order_id = row["id"]

    def post():
        result = posting.post_order(runtime.db, runtime.mapping, runtime.ais_client, order_id,
                                    lease_seconds=runtime.settings.lease_seconds,
                                    retry_base=runtime.settings.retry_base_seconds, breaker=runtime.breaker)
        metrics.posting(result.outcome)
        return result

    result, fetched = post(), set()
    # What the ledger rules need from the shop (product categories, refund records) is read once
    # per run, then the order is posted again at once.
    while result.outcome in ("needs_products", "needs_refunds") and result.outcome not in fetched:
        fetched.add(result.outcome)
        delay = (_fetch_products(result.product_ids) if result.outcome == "needs_products"
                 else _fetch_refunds(order_id, woo_id))
        if delay is not None:
            raise self.retry(countdown=delay, exc=_Deferred(f"{result.outcome}: {result.error}"))
        result = post()
    if result.outcome in fetched:
        # The shop names a product or refund its REST API does not give (yet): ask again later.
        log.warning("order %s: %s, which WooCommerce does not give", woo_id, result.error)
        raise self.retry(countdown=posting.retry_delay(6, runtime.settings.retry_base_seconds),
                         exc=_Deferred(result.error))
    if result.outcome in ("retry", "deferred", "needs_products", "needs_refunds"):
        raise self.retry(countdown=result.retry_in or posting.retry_delay(1, runtime.settings.retry_base_seconds),
                         exc=_Deferred(f"{result.outcome}: {result.error}"))
    if result.outcome in ("posted", "already_posted"):
        log.info("batch %s is in the JDE general ledger as document %s", result.batch_number,
                 result.document_number)
    elif result.outcome in ("needs_attention", "failed"):
        log.warning("order %s %s: %s", woo_id, result.outcome, result.error)
    return {"order": woo_id, "outcome": result.outcome, "document_number": result.document_number}


def _fetch_products(product_ids) -> float | None:
    """Fetch and keep the products an order needs: one REST call per product, fleet-wide (under a
    Redis lock, the table is read again before fetching). None when done, else the seconds to wait
    while the store cannot be reached."""
    from connector.store import products as product_rows
    from connector.woo.client import WooError
    from connector.woo.schemas import PayloadError, load_product

    source = runtime.mapping.store.source
    woo = runtime.woo_client()
    for product_id in product_ids:
        with runtime.redis.lock(f"connector:products:{product_id}", timeout=60, blocking_timeout=70):
            with runtime.db.transaction() as cur:
                if product_rows.categories_of(cur, source=source, woo_ids=[product_id]):
                    continue    # another worker fetched it meanwhile
            try:
                product = load_product(woo.product(product_id))
            except (WooError, PayloadError) as exc:
                log.warning("product %s: %s; the order waits", product_id, exc)
                return posting.retry_delay(3, runtime.settings.retry_base_seconds)
            with runtime.db.transaction() as cur:
                product_rows.upsert(cur, source=source, product=product)
    return None


def _fetch_refunds(order_id: int, woo_id: int) -> float | None:
    """Read and keep WooCommerce's record of every refund of an order (one REST call a page).
    None when done, else the seconds to wait while the store cannot be reached: the reversal
    waits, it is never guessed."""
    from connector.store import refunds as refund_rows
    from connector.woo.client import WooError
    from connector.woo.schemas import PayloadError, load_refund

    try:
        documents = runtime.woo_client().refunds(woo_id)
        loaded = [(document, load_refund(document)) for document in documents]
    except (WooError, PayloadError) as exc:
        log.warning("refunds of order %s: %s; the reversal waits", woo_id, exc)
        return posting.retry_delay(3, runtime.settings.retry_base_seconds)
    with runtime.db.transaction() as cur:
        for document, refund in loaded:
            refund_rows.store(cur, source=runtime.mapping.store.source, order_id=order_id, woo_order_id=woo_id,
                              document=document, refund=refund)
    return None


class _Deferred(Exception):
    """Why a post is retried later (shown by Flower; the order row holds the whole story)."""


def _probe_jde() -> str:
    """While JDE is unreachable: one probe per interval, fleet-wide; on recovery, send the
    orders that waited for it at once, so the backlog drains at full concurrency."""
    outcome = breaker.probe(runtime.breaker, runtime.ais_session)
    if outcome == "recovered":
        sent = 0
        while True:
            with runtime.db.transaction() as cur:
                waiting = order_rows.take_deferred(cur, lease_seconds=runtime.settings.lease_seconds, limit=1000)
            sent += sum(send(post_order, woo_id) for woo_id in waiting)
            if len(waiting) < 1000:
                break
        log.warning("JDE answers again: %s orders that waited for it sent to posting", sent)
    return outcome


@app.task(name="sync_customer", autoretry_for=(AisUnavailable, psycopg2.OperationalError), retry_backoff=2, retry_backoff_max=300,
          retry_jitter=True, max_retries=8)
def sync_customer(customer_id: int):
    """Create or link the Address Book entry of customer row `customer_id`."""
    trail = AuditTrail(runtime.db, "customer", customer_id)
    address_number = address_book.ensure_for_customer_row(runtime.db, runtime.ais_client(trail.ais_call),
                                                          runtime.mapping, customer_id)
    return {"customer_id": customer_id, "address_number": address_number}


@app.task(name="refresh_ais_token")
def refresh_ais_token():
    """Touch the shared AIS token before it idles out; log in again if it is invalid."""
    if not runtime.breaker.allow():
        return {"token": "not touched: JDE is unreachable (watch_ais probes it)"}
    return {"token": runtime.ais_session.keep_alive()}


@app.task(name="watch_ais")
def watch_ais():
    """While JDE is unreachable, probe it (once per interval, fleet-wide) and send the
    waiting orders the moment it answers; nothing to do while it answers."""
    return {"jde": _probe_jde()}


@app.task(name="sweep_orders")
def sweep_orders(limit: int = 500):
    """Re-enqueue orders left `ready` or `posting` past their lease (not while JDE is
    unreachable: they would only be deferred again; the probe sends them on recovery)."""
    if not runtime.breaker.allow():
        return {"due": 0, "sent": 0, "paused": "JDE unreachable"}
    return resend_due(order_rows.take_unfinished, post_order, "orders", limit=limit)

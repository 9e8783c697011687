"""Delivery tasks: apply a stored webhook; sweep up deliveries a lost message left behind."""
from __future__ import annotations

import psycopg2
from celery.utils.log import get_task_logger

from connector import deliveries
from connector.store import deliveries as delivery_rows
from tasks.celery import MAX_RETRY_BACKOFF, app, runtime
from tasks.enqueue import resend_due, send

log = get_task_logger(__name__)

# Worth another try later; anything else is a bug or bad data and is not retried blindly.
TRANSIENT = (psycopg2.OperationalError, psycopg2.InterfaceError)


@app.task(name="process_delivery", autoretry_for=TRANSIENT, retry_backoff=2,
          retry_backoff_max=MAX_RETRY_BACKOFF, retry_jitter=True, max_retries=8)
def process_delivery(delivery_id: int):
    with runtime.db.transaction() as cur:
        if not delivery_rows.count_try(cur, delivery_id, max_tries=runtime.settings.max_tries):
            return {"delivery_id": delivery_id, "outcome": "not_processed (finished, or parked after too many tries)"}
    with runtime.db.transaction() as cur:
        result = deliveries.process(cur, delivery_id, posting_statuses=runtime.mapping.posting.statuses,
                                    expected_source=runtime.mapping.store.source, mapping=runtime.mapping)
    if result is None:
        return {"delivery_id": delivery_id, "outcome": "already_processed"}
    if result.outcome == "error":
        log.warning("delivery %s stored as error: %s", delivery_id, result.error)
    # After the commit: the posting task must find the order row as this delivery left it.
    from tasks.posting import post_order, sync_customer

    if result.order_ready:
        send(post_order, result.resource_id)
    elif result.customer_changed:
        send(sync_customer, result.row_id)
    return {"delivery_id": delivery_id, "topic": result.topic, "outcome": result.outcome,
            "resource_id": result.resource_id}


@app.task(name="sweep_deliveries")
def sweep_deliveries(limit: int = 500):
    """Re-enqueue deliveries left unfinished past their lease (broker down, worker killed)."""
    return resend_due(deliveries.take_due, process_delivery, "deliveries", limit=limit)

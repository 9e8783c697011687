"""Delivery tasks: apply a stored webhook; sweep up deliveries a lost message left behind."""
from __future__ import annotations

import psycopg2
from celery.utils.log import get_task_logger

from connector import deliveries
from tasks.celery import MAX_RETRY_BACKOFF, app, runtime
from tasks.enqueue import send

log = get_task_logger(__name__)

# Worth another try later; anything else is a bug or bad data and is not retried blindly.
TRANSIENT = (psycopg2.OperationalError, psycopg2.InterfaceError)


@app.task(name="process_delivery", autoretry_for=TRANSIENT, retry_backoff=2,
          retry_backoff_max=MAX_RETRY_BACKOFF, retry_jitter=True, max_retries=8)
def process_delivery(delivery_id: int):
    with runtime.db.transaction() as cur:
        result = deliveries.process(cur, delivery_id, posting_statuses=runtime.mapping.posting.statuses)
    if result is None:
        return {"delivery_id": delivery_id, "outcome": "already_processed"}
    if result.outcome == "error":
        log.warning("delivery %s stored as error: %s", delivery_id, result.error)
    return {"delivery_id": delivery_id, "topic": result.topic, "outcome": result.outcome,
            "resource_id": result.resource_id}


@app.task(name="sweep_deliveries")
def sweep_deliveries(limit: int = 500):
    with runtime.db.transaction() as cur:
        due = deliveries.take_due(cur, lease_seconds=runtime.settings.lease_seconds, limit=limit)
    sent = sum(send(process_delivery, delivery_id) for delivery_id in due)
    if due:
        log.info("sweeper re-enqueued %s of %s unfinished deliveries", sent, len(due))
    return {"due": len(due), "sent": sent}

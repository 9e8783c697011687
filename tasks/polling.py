"""The polling bridge task: catch the orders whose webhook never arrived."""
from __future__ import annotations

from celery.utils.log import get_task_logger

from connector import polling
from tasks.celery import app, runtime
from tasks.enqueue import send

log = get_task_logger(__name__)


@app.task(name="poll_woocommerce")
def poll_woocommerce():
    """List orders modified since the watermark; store, process, and post the paid ones."""
    from tasks.posting import post_order

    result = polling.poll_orders(runtime.db, runtime.woo_client(), source=runtime.mapping.store.source,
                                 posting_statuses=runtime.mapping.posting.statuses,
                                 lease_seconds=runtime.settings.lease_seconds, mapping=runtime.mapping)
    for order_id in result.ready:
        send(post_order, order_id)
    if result.stored:
        log.info("poll stored %s changed orders (%s seen), %s ready to post", result.stored, result.seen,
                 len(result.ready))
    return {"pages": result.pages, "seen": result.seen, "stored": result.stored, "ready": len(result.ready),
            "watermark": result.watermark}


@app.task(name="ensure_webhooks")
def ensure_webhooks():
    """Keep the shop's webhooks registered and active (when CONNECTOR_PUBLIC_URL is set); after
    re-activating one, poll for the time it was off so no order of that time is missed."""
    from connector import webhook_upkeep
    from tasks.posting import post_order

    outcome = webhook_upkeep.run(runtime)
    for order_id in outcome.get("ready", []):
        send(post_order, order_id)
    return {k: v for k, v in outcome.items() if k != "ready"}

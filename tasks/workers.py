"""The real hand-over of an operator's action to the workers (connector/operator_actions.Workers),
for the CLI and the admin pages."""
from __future__ import annotations

from connector.operator_actions import Workers


def workers() -> Workers:
    # `enqueue.send` is looked up at each call, not bound here: what the broker is handed goes
    # through the one place that never blocks on a broker that is down.
    from tasks import enqueue
    from tasks.deliveries import process_delivery
    from tasks.posting import post_order

    return Workers(post_order=lambda woo_id: enqueue.send(post_order, woo_id),
                   process_delivery=lambda delivery_id: enqueue.send(process_delivery, delivery_id))

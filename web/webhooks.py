"""`POST /webhooks/woocommerce`: verify, store, commit, enqueue, answer.

Answers as WooCommerce needs them: it never retries and disables a webhook after a few
non-2xx answers, so an authentic payload is answered 200 even when it cannot be used
(it is stored and flagged). Only a header no WooCommerce sends (over-long, not printable: 400),
a bad signature (401), an oversized body (413) — nothing stored — and a database that cannot
store (503) get anything else.
"""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from connector import webhooks
from connector.store.database import CONNECTION_ERRORS
from connector.woo.signature import is_authentic
from web.metrics import WEBHOOKS

bp = Blueprint("webhooks", __name__)
log = logging.getLogger(__name__)


@bp.post("/webhooks/woocommerce")
def receive():
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        WEBHOOKS.labels("too_large").inc()
        return jsonify(error="body larger than 2 MiB"), 413

    if webhooks.is_ping(request.headers, body):
        WEBHOOKS.labels("ping").inc()
        return jsonify(status="pong"), 200

    try:
        webhooks.check_headers(request.headers)
    except webhooks.HeaderError as exc:
        WEBHOOKS.labels("bad_header").inc()
        return jsonify(error=str(exc)), 400

    topic = request.headers.get("X-WC-Webhook-Topic", "")
    if not is_authentic(current_app.config["WEBHOOK_SECRETS"], body,
                        request.headers.get("X-WC-Webhook-Signature")):
        WEBHOOKS.labels("bad_signature").inc()
        # Never the body: an unauthenticated request is not ours to keep or show.
        log.warning("webhook refused: missing or wrong signature (topic=%r, source=%r, %d bytes, from %s)",
                    topic, request.headers.get("X-WC-Webhook-Source", ""), len(body), request.remote_addr)
        return jsonify(error="missing or invalid X-WC-Webhook-Signature"), 401

    runtime = current_app.config["RUNTIME"]
    try:
        with runtime.db.transaction() as cur:
            receipt = webhooks.store(cur, headers=request.headers, body=body,
                                     default_source=runtime.mapping.store.source,
                                     lease_seconds=runtime.settings.lease_seconds)
    except CONNECTION_ERRORS as exc:
        WEBHOOKS.labels("database_unavailable").inc()
        log.error("webhook not stored, database unavailable: %s", type(exc).__name__)
        return jsonify(error="database unavailable, delivery not stored"), 503

    # After the commit: a worker must find the row it is told about.
    state = receipt.state
    if receipt.needs_processing and not current_app.config["ENQUEUE"](receipt.delivery_id):
        state = _mark_not_queued(runtime, receipt.delivery_id)
    outcome = "duplicate" if receipt.duplicate else state
    WEBHOOKS.labels(outcome).inc()
    return jsonify(delivery_id=receipt.delivery_id, duplicate=receipt.duplicate, state=state), 200


def _mark_not_queued(runtime, delivery_id: int) -> str:
    from connector.store import deliveries

    try:
        with runtime.db.transaction() as cur:
            deliveries.mark_not_queued(cur, delivery_id)
        return "received"
    except CONNECTION_ERRORS:
        return "queued"  # stored all the same; the sweeper sends it once its lease runs out

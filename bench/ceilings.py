"""Receivers that do only part of the real receiver's work, for `bench.ingest`.

Measured in the same run as the bare endpoint and the real receiver, they show what each
step of the hot path costs, and so how high the ratio could go if a step were free:

- `verify_only()`: read the body and check its signature (the real check), nothing stored;
- `store_only()`: the real receiver, committing every delivery to Postgres, with the broker
  publish left out (the rows stay `queued`, as after a broker outage).
"""
from __future__ import annotations

from flask import Flask, jsonify, request


def verify_only() -> Flask:
    from connector.runtime import current
    from connector.woo.signature import is_authentic

    secrets = current().webhook_secrets()
    app = Flask(__name__)

    @app.post("/webhooks/woocommerce")
    def receive():
        body = request.get_data(cache=False)
        if not is_authentic(secrets, body, request.headers.get("X-WC-Webhook-Signature")):
            return jsonify(error="missing or invalid X-WC-Webhook-Signature"), 401
        return jsonify(received=len(body)), 200

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok"), 200

    return app


def store_only() -> Flask:
    from web.app import create_app

    return create_app({"ENQUEUE": lambda delivery_id: True, "BROKER_CHECK": lambda: True})

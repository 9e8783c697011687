"""The baseline of `bench.ingest`: a Flask endpoint that reads the body and answers 200.

Served by gunicorn with exactly the settings of the real receiver, so the ratio between the
two shows what the receiver's own work (verify, store, commit, publish) costs.
"""
from __future__ import annotations

from flask import Flask, jsonify, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/webhooks/woocommerce")
    def receive():
        body = request.get_data(cache=False)
        return jsonify(received=len(body)), 200

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok"), 200

    return app

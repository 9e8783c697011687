"""Prometheus counters and `GET /metrics`.

Under gunicorn with several workers, set PROMETHEUS_MULTIPROC_DIR (connector run does) so
that /metrics sums every worker's counters.
"""
from __future__ import annotations

import os

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest, multiprocess

bp = Blueprint("metrics", __name__)

WEBHOOKS = Counter(
    "connector_webhooks_total", "WooCommerce webhook requests by outcome", ["outcome"],
)


@bp.get("/metrics")
def metrics():
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY as registry
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

"""Prometheus counters and `GET /metrics`.

Under gunicorn with several workers, set PROMETHEUS_MULTIPROC_DIR (connector run does) so
that /metrics sums every worker's counters.

Open by default: it counts webhook outcomes, nothing about orders or people. With
CONNECTOR_METRICS_TOKEN set it answers only `Authorization: Bearer <that token>` (Prometheus's
`authorization` / `bearer_token` scrape setting), for deployments that would rather not show even that.
"""
from __future__ import annotations

import hmac
import os

from flask import Blueprint, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest, multiprocess

bp = Blueprint("metrics", __name__)

WEBHOOKS = Counter(
    "connector_webhooks_total", "WooCommerce webhook requests by outcome", ["outcome"],
)


def _authorized() -> bool:
    # Read per request, like PROMETHEUS_MULTIPROC_DIR below; blank counts as unset.
    token = os.environ.get("CONNECTOR_METRICS_TOKEN", "").strip()
    if not token:
        return True
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    # Bytes: compare_digest refuses non-ASCII str, and a header may carry anything.
    return scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode("utf-8", "surrogateescape"),
                                                               token.encode("utf-8", "surrogateescape"))


@bp.get("/metrics")
def metrics():
    if not _authorized():
        return Response("a bearer token is required (CONNECTOR_METRICS_TOKEN)\n", 401,
                        {"WWW-Authenticate": 'Bearer realm="metrics"'}, mimetype="text/plain")
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY as registry
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

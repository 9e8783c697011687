"""`GET /metrics`: the connector's series (connector/metrics.py; the README's *Metrics* table).

The counters are summed over every process that shares PROMETHEUS_MULTIPROC_DIR (this server's
processes, and the worker's when it runs on the same host: connector/runner.py); the state
gauges are read from Postgres, Redis and the broker at each scrape.

Open by default: counts and states, nothing about orders or people. With CONNECTOR_METRICS_TOKEN
set it answers only `Authorization: Bearer <that token>` (Prometheus's `authorization` /
`bearer_token` scrape setting), for deployments that would rather not show even that.
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from connector import metrics
from connector.metrics import WEBHOOKS  # noqa: F401  (web/webhooks.py and web/server.py count with it)

bp = Blueprint("metrics", __name__)


def _state_collector() -> metrics.StateCollector:
    """One per app (per process): its Redis client is reused from scrape to scrape."""
    collector = current_app.extensions.get("connector_state_collector")
    if collector is None:
        runtime = current_app.config["RUNTIME"]
        depths = current_app.config.get("QUEUE_DEPTHS")
        if depths is None:
            from tasks import app as celery_app
            from tasks.enqueue import queue_depths

            def depths():
                return queue_depths(celery_app)

        collector = metrics.StateCollector(database_url=runtime.database_url, redis_url=runtime.redis_url,
                                           queue_depths=depths)
        current_app.extensions["connector_state_collector"] = collector
    return collector


@bp.get("/metrics")
def metrics_page():
    if not metrics.authorized(request.headers.get("Authorization")):
        return Response("a bearer token is required (CONNECTOR_METRICS_TOKEN)\n", 401,
                        {"WWW-Authenticate": 'Bearer realm="metrics"'}, mimetype="text/plain")
    exposition = metrics.Exposition(metrics.counters(), _state_collector())
    return Response(generate_latest(exposition), mimetype=CONTENT_TYPE_LATEST)

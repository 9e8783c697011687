"""`/healthz` (the process is up) and `/readyz` (this process can take webhooks, and how the
rest of the connector is doing).

Readiness is whether a load balancer should send webhooks here: Postgres (where a webhook is
kept before the 200) and the broker answer, else 503. JDE being down does not make it unready:
webhooks are still taken and kept, and posted once JDE answers. So the status is `ready`, or
`degraded` (still 200) naming the parts of the health facts (connector/health.py) that need a
person, or `unavailable` (503).
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from connector import health
from connector.store.database import CONNECTION_ERRORS

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks = {"postgres": _postgres_ok(), "broker": bool(current_app.config["BROKER_CHECK"]())}
    ready = all(checks.values())
    facts = health_facts()
    status = "unavailable" if not ready else "degraded" if facts.degraded else "ready"
    return jsonify(status=status, checks=checks, degraded=facts.degraded, jde=facts["jde"].line(),
                   health=facts.as_json()), 200 if ready else 503


def health_facts() -> health.Health:
    """The health facts for this app's runtime and broker (the dashboard's strip too)."""
    return health.facts(current_app.config["RUNTIME"], queue_depths=_queue_depths())


def _queue_depths():
    measure = current_app.config.get("QUEUE_DEPTHS")
    if measure is None:
        # Imported on first use, as create_app does for the broker: a test app may run without one.
        from tasks import app as celery_app
        from tasks.enqueue import queue_depths

        measure = current_app.config["QUEUE_DEPTHS"] = lambda: queue_depths(celery_app)
    return measure


def _postgres_ok() -> bool:
    try:
        with current_app.config["RUNTIME"].db.transaction() as cur:
            cur.execute("SELECT 1")
        return True
    except CONNECTION_ERRORS:
        return False

"""`/healthz` (the process is up) and `/readyz` (Postgres and the broker answer)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from connector.store.database import CONNECTION_ERRORS

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks = {"postgres": _postgres_ok(), "broker": bool(current_app.config["BROKER_CHECK"]())}
    ready = all(checks.values())
    # JDE's state is detail, not readiness: webhooks are still taken and kept while it is down.
    return jsonify(status="ready" if ready else "unavailable", checks=checks, jde=_jde()), 200 if ready else 503


def _jde() -> str:
    from connector.jde.breaker import describe

    return describe(current_app.config["RUNTIME"].breaker.state())


def _postgres_ok() -> bool:
    try:
        with current_app.config["RUNTIME"].db.transaction() as cur:
            cur.execute("SELECT 1")
        return True
    except CONNECTION_ERRORS:
        return False

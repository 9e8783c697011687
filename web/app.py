"""Flask app factory: `gunicorn 'web.app:create_app()'`."""
from __future__ import annotations

import logging

from flask import Flask

from connector.config import MAX_WEBHOOK_BYTES


def create_app(test_config: dict | None = None) -> Flask:
    """Build the receiver. `test_config` may set RUNTIME, ENQUEUE, BROKER_CHECK, WEBHOOK_SECRETS."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_WEBHOOK_BYTES
    if test_config:
        app.config.update(test_config)

    if "RUNTIME" not in app.config:
        from connector.runtime import current

        app.config["RUNTIME"] = current()
    runtime = app.config["RUNTIME"]
    if "WEBHOOK_SECRETS" not in app.config:
        app.config["WEBHOOK_SECRETS"] = runtime.webhook_secrets()
    if "ENQUEUE" not in app.config or "BROKER_CHECK" not in app.config:
        # Imported here so that a test app can run without a broker configured.
        from tasks import app as celery_app
        from tasks.deliveries import process_delivery
        from tasks.enqueue import broker_reachable, send

        app.config.setdefault("ENQUEUE", lambda delivery_id: send(process_delivery, delivery_id))
        app.config.setdefault("BROKER_CHECK", lambda: broker_reachable(celery_app))
    if not app.config["WEBHOOK_SECRETS"]:
        logging.getLogger(__name__).warning(
            "no WOO_WEBHOOK_SECRET (or WOO_CONSUMER_SECRET): every webhook will be refused with 401")

    from web import admin, health, metrics, webhooks

    app.secret_key = admin.session_key(runtime.settings)
    app.config.update(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=not runtime.settings.sandbox)
    app.register_blueprint(admin.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    # On every response, not only the admin pages': no page of this app is meant to be framed.
    app.after_request(admin.security_headers)
    return app

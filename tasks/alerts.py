"""Alerts task: every CONNECTOR_ALERT_SECONDS, tell a person what needs one (connector/alerts/)."""
from __future__ import annotations

from celery import signals
from celery.utils.log import get_task_logger

from connector import alerts
from connector.alerts.channels import describe
from tasks.celery import app, runtime

log = get_task_logger(__name__)


@app.task(name="send_alerts")
def send_alerts():
    """Notice new facts (orders needing attention, webhooks disabled, JDE down, reconciliation
    differences) and send the digests that are due; nothing when no channel is configured."""
    outcome = alerts.run(runtime)
    if "sent" in outcome:
        outcome["sent"] = [f"{kind} via {channel} ({n})" for channel, kind, n in outcome["sent"]]
        outcome["failed"] = [f"{kind} via {channel}: {reason}" for channel, kind, reason in outcome["failed"]]
    return outcome


@signals.beat_init.connect
def _say_where_alerts_go(**_):
    # One line at start: where alerts go (hosts only), or that they are off.
    log.info(describe(runtime.settings.alerts))

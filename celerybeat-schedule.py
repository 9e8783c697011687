"""The beat schedule (docs/design.md §2). A plain dict, loaded by path from tasks/celery.py.

Beat keeps its state file under var/ (never `celerybeat-schedule` in the project root).
Intervals are seconds; the CONNECTOR_*_SECONDS variables change them (tests, demos).
"""
import os

from celery.schedules import crontab


def _seconds(name, default):
    return float(os.environ.get(name, default))


beat_schedule = {
    # Re-enqueue deliveries left unfinished past their lease (broker down, worker killed).
    "sweep_deliveries": {"task": "sweep_deliveries", "schedule": _seconds("CONNECTOR_SWEEP_SECONDS", 30)},
    # Re-enqueue orders left `ready` or `posting` past their lease.
    "sweep_orders": {"task": "sweep_orders", "schedule": _seconds("CONNECTOR_SWEEP_SECONDS", 30)},
    # Touch the shared AIS token well inside the server's inactivity timeout.
    "refresh_ais_token": {"task": "refresh_ais_token",
                          "schedule": _seconds("CONNECTOR_TOKEN_REFRESH_SECONDS", 600)},
    # While JDE is unreachable: probe it, and send the waiting orders the moment it answers.
    "watch_ais": {"task": "watch_ais", "schedule": _seconds("CONNECTOR_PROBE_SECONDS", 30)},
    # Keep the shop's webhooks registered and active (needs CONNECTOR_PUBLIC_URL).
    "ensure_webhooks": {"task": "ensure_webhooks", "schedule": _seconds("CONNECTOR_WEBHOOKS_SECONDS", 900)},
    # The polling bridge: orders whose webhook never arrived.
    "poll_woocommerce": {"task": "poll_woocommerce", "schedule": _seconds("CONNECTOR_POLL_SECONDS", 300)},
    # Reconcile the recent days of the GL often, and the whole previous month every night.
    "reconcile_gl_recent": {"task": "reconcile_gl", "schedule": _seconds("CONNECTOR_RECONCILE_SECONDS", 900),
                            "kwargs": {"days": 3}},
    "reconcile_gl_previous_month": {"task": "reconcile_gl", "schedule": crontab(hour=2, minute=15),
                                    "kwargs": {"period": "previous_month"}},
    # Tell a person what needs one (connector/alerts/); a no-op without an alert channel. A tick
    # still queued when the next is due is dropped: the next cycle sees everything anyway.
    "send_alerts": {"task": "send_alerts", "schedule": _seconds("CONNECTOR_ALERT_SECONDS", 60),
                    "options": {"expires": _seconds("CONNECTOR_ALERT_SECONDS", 60)}},
}

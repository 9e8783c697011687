"""The beat schedule (DESIGN §2). A plain dict, loaded by path from tasks/celery.py.

Beat keeps its state file under var/ (never `celerybeat-schedule` in the project root).
Intervals are seconds; CONNECTOR_SWEEP_SECONDS shortens the sweeps for tests and demos.
"""
import os

_sweep = float(os.environ.get("CONNECTOR_SWEEP_SECONDS", 30))

beat_schedule = {
    # Re-enqueue deliveries left unfinished past their lease (broker down, worker killed).
    "sweep_deliveries": {"task": "sweep_deliveries", "schedule": _sweep},
    # Re-enqueue orders left `ready` or `posting` past their lease.
    "sweep_orders": {"task": "sweep_orders", "schedule": _sweep},
    # Touch the shared AIS token well inside the server's inactivity timeout.
    "refresh_ais_token": {"task": "refresh_ais_token",
                          "schedule": float(os.environ.get("CONNECTOR_TOKEN_REFRESH_SECONDS", 600))},
}

"""The beat schedule (DESIGN §2). A plain dict, loaded by path from tasks/celery.py.

Beat keeps its state file under var/ (never `celerybeat-schedule` in the project root).
Intervals are seconds; CONNECTOR_SWEEP_SECONDS shortens the sweep for tests and demos.
"""
import os

beat_schedule = {
    # Re-enqueue deliveries left unfinished past their lease (broker down, worker killed).
    "sweep_deliveries": {
        "task": "sweep_deliveries",
        "schedule": float(os.environ.get("CONNECTOR_SWEEP_SECONDS", 30)),
    },
}

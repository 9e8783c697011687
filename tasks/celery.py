"""The Celery app and its settings.

Reliability settings, and why:
- acks_late + reject_on_worker_lost: a message is acknowledged only after its task ran,
  so a crashed worker's task is delivered again;
- prefetch 1: a worker holds no messages it is not working on;
- the Redis visibility timeout outlasts the longest retry countdown, or a countdown
  task would be handed to a second worker while it waits;
- posting has its own queue, so webhooks are processed at once even behind a backlog of
  posts (a JDE outage, a bulk replay); a plain `celery -A tasks worker` consumes both;
- the database, not the broker, is the truth: the sweeper re-enqueues what a lost
  message left unfinished, so none of this has to be perfect.
"""
from __future__ import annotations

import runpy
from pathlib import Path

from celery import Celery, signals
from kombu import Queue

from connector.runtime import current

# Longest countdown a retry may wait (seconds); the visibility timeout is well beyond it.
MAX_RETRY_BACKOFF = 600
VISIBILITY_TIMEOUT = 2 * 3600

_ROOT = Path(__file__).resolve().parent.parent


def load_beat_schedule(path: Path | None = None) -> dict:
    """The plain dict of celerybeat-schedule.py, loaded by path (its name is no module name)."""
    path = path or _ROOT / "celerybeat-schedule.py"
    if not path.exists():
        path = Path.cwd() / "celerybeat-schedule.py"
    return runpy.run_path(str(path))["beat_schedule"]


runtime = current()
runtime.settings.var_dir.mkdir(parents=True, exist_ok=True)

from tasks.broker import transport_for  # noqa: E402

app = Celery("tasks", broker=runtime.broker_url, include=["tasks.deliveries", "tasks.posting", "tasks.polling", "tasks.reconciliation", "tasks.alerts"])
app.conf.update(
    broker_transport=transport_for(runtime.broker_url),
    task_queues=(Queue("celery"), Queue("posting")),
    task_default_queue="celery",
    task_routes={"post_order": {"queue": "posting"}, "sync_customer": {"queue": "posting"}},
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    broker_transport_options={
        "visibility_timeout": VISIBILITY_TIMEOUT,
        "socket_connect_timeout": 2,
        "socket_timeout": 10,
    },
    # Publishing gives up fast: the webhook answer must not wait on a dead broker.
    task_publish_retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.2},
    beat_schedule=load_beat_schedule(),
    beat_schedule_filename=str(runtime.settings.var_dir / "celerybeat-schedule"),
    # Task events cost three Redis publishes per task (bench/e2e); Flower switches them on
    # in the workers while it runs (its --enable-events default), so they are off otherwise.
    worker_send_task_events=False,
)


@signals.worker_init.connect
def _refuse_mixed_ledgers(**_):
    """A worker configured for one JDE never posts with the records of another."""
    from connector.ledger_target import MixedLedgers
    from connector.store.database import CONNECTION_ERRORS

    try:
        runtime.check_jde_target()
    except MixedLedgers as exc:
        # Celery logs and swallows a handler's exception; SystemExit stops the worker.
        raise SystemExit(f"worker not started: {exc}") from None
    except CONNECTION_ERRORS:
        pass   # Postgres is down: nothing can be posted now anyway; the next start checks again


@signals.task_prerun.connect
def _fresh_mapping(**_):
    """A mapping file fixed while the worker runs is used from the next task on (a stat per task;
    a file that no longer parses keeps the old mapping and logs why: connector/runtime.py)."""
    runtime.refresh_mapping()

"""The Celery app and its settings.

Reliability settings, and why:
- acks_late + reject_on_worker_lost: a message is acknowledged only after its task ran,
  so a crashed worker's task is delivered again;
- prefetch 1: a worker holds no messages it is not working on;
- the Redis visibility timeout outlasts the longest retry countdown, or a countdown
  task would be handed to a second worker while it waits;
- on RabbitMQ (CELERY_BROKER_URL=amqp://…): durable quorum queues, publisher confirms,
  countdowns in the broker (tasks/broker.py says why and how);
- posting has its own queue, so webhooks are processed at once even behind a backlog of
  posts (a JDE outage, a bulk replay); a plain `celery -A tasks worker` consumes both;
- the database, not the broker, is the truth: the sweeper re-enqueues what a lost
  message left unfinished, so none of this has to be perfect.

Logs and metrics (the signal handlers at the end): Celery's logging is replaced by
connector/logs.py's (one timestamp a line, the task as fields, CONNECTOR_LOG_FORMAT=json); the
worker's banner and Celery's multi-line root warning become one line each; pool processes count
into PROMETHEUS_MULTIPROC_DIR, and CONNECTOR_WORKER_METRICS_PORT serves the worker's own /metrics.
"""
from __future__ import annotations

import logging
import os
import runpy
import threading
import warnings
from pathlib import Path

from celery import Celery, signals
from celery.exceptions import SecurityWarning

from connector import logs
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

from tasks.broker import queues_for, transport_for, transport_options_for  # noqa: E402

app = Celery("tasks", broker=runtime.broker_url, task_cls="tasks.broker:Task", include=["tasks.deliveries", "tasks.posting", "tasks.polling", "tasks.reconciliation", "tasks.alerts"])
app.conf.update(
    broker_transport=transport_for(runtime.broker_url),
    task_queues=queues_for(runtime.broker_url),
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
    broker_transport_options=transport_options_for(runtime.broker_url, visibility_timeout=VISIBILITY_TIMEOUT),
    task_default_delivery_mode="persistent",
    # Reconnect for as long as the broker is away (Celery's default gives up after 100 tries and the
    # worker exits): a restarted Redis or RabbitMQ is waited for, not a reason to stop.
    broker_connection_max_retries=None,
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
    from tasks.broker import QueueMismatch, check_queues

    try:
        check_queues(app)
    except QueueMismatch as exc:
        raise SystemExit(f"worker not started: {exc}") from None


# -- logs ---------------------------------------------------------------------------------------
log = logging.getLogger(__name__)


@signals.setup_logging.connect
def _setup_logging(loglevel=None, **_):
    """Celery's own log set-up (a second format, with its own timestamp) is replaced, in the worker
    and in beat: connecting to this signal is how Celery lets an application do that."""
    logs.configure(loglevel or logging.INFO)


_task_contexts: dict = {}


@signals.task_prerun.connect
def _task_started(task_id=None, task=None, **_):
    _task_contexts[task_id] = logs.bind(task=getattr(task, "name", None), task_id=task_id)


@signals.task_postrun.connect
def _task_ended(task_id=None, **_):
    token = _task_contexts.pop(task_id, None)
    if token is not None:
        logs.unbind(token)


# Celery's check_privileges() warns in 9 lines, at every start, when the worker runs as root (or in
# group sudo / wheel). It is about the user, not the serializer: with pickle accepted it would refuse
# to start; this app accepts JSON only, so it only warns. The one line logged instead says the same.
_SUPERUSER_WARNING = "You're running the worker with superuser privileges"


@signals.celeryd_init.connect
def _before_worker_starts(instance=None, **_):
    # Sent just before check_privileges() and long before the banner is printed.
    warnings.filterwarnings("ignore", message=_SUPERUSER_WARNING, category=SecurityWarning)
    if instance is not None:
        instance.quiet = True   # the banner: 28 lines a start; its facts are one line (below)


def _privileged() -> str | None:
    """Why Celery would call this worker privileged (its own test), or None."""
    if os.getuid() == 0 or os.geteuid() == 0:
        return "as root (uid 0)"
    try:
        import grp

        groups = {grp.getgrgid(os.getgid()).gr_name, grp.getgrgid(os.getegid()).gr_name} & {"sudo", "wheel"}
    except (ImportError, KeyError):
        return None
    return f"in group {', '.join(sorted(groups))}" if groups else None


@signals.celeryd_after_setup.connect
def _worker_started(sender=None, instance=None, **_):
    pool = getattr(instance, "pool_cls", "")
    pool = pool if isinstance(pool, str) else pool.__module__.rsplit(".", 1)[-1]
    log.info("worker %s: queues %s; %s %s processes; broker %s", sender, ", ".join(sorted(app.amqp.queues)),
             getattr(instance, "concurrency", "?"), pool, app.connection().as_uri())
    privileged = _privileged()
    if privileged:
        log.warning("the worker runs %s: run it as an unprivileged user (a container's USER, celery's --uid); "
                    "its tasks need no privileges", privileged)


@signals.worker_ready.connect
def _quiet_shutdown(sender=None, **_):
    """Celery's SIGTERM handler writes "worker: Warm shutdown (MainProcess)" straight to stdout,
    outside any log format (not JSON either); the same handler without that write, and the stop
    logged as a line by _shutting_down below. (Installed once Celery has installed its own.)"""
    from celery.apps.worker import install_worker_term_handler

    worker = getattr(sender, "controller", None)
    if worker is not None and threading.current_thread() is threading.main_thread():
        install_worker_term_handler(worker, verbose=False)


@signals.worker_shutting_down.connect
def _shutting_down(sender=None, sig=None, how=None, **_):
    log.info("worker %s: %s shutdown on %s", sender, str(how).lower(), sig)


@signals.beat_init.connect
def _beat_started(sender=None, **_):
    log.info("beat: %d scheduled tasks, state in %s", len(app.conf.beat_schedule), app.conf.beat_schedule_filename)


# -- metrics ------------------------------------------------------------------------------------
_metrics_server = None


@signals.worker_init.connect
def _bind_metrics_port(**_):
    """CONNECTOR_WORKER_METRICS_PORT: the worker serves its own counters (where the web process
    cannot read its PROMETHEUS_MULTIPROC_DIR: another host, another dyno). Bound here, so a port in
    use or a missing directory stops the start; served once the worker is ready."""
    global _metrics_server
    port = os.environ.get("CONNECTOR_WORKER_METRICS_PORT", "").strip()
    if not port:
        return
    from connector import metrics

    if not metrics.multiprocess_dir():
        raise SystemExit("worker not started: CONNECTOR_WORKER_METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR "
                         "(a directory of the worker's own, where its pool processes write their counts)")
    try:
        _metrics_server = metrics.metrics_server(os.environ.get("CONNECTOR_WORKER_METRICS_HOST", "0.0.0.0"),
                                                 int(port))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"worker not started: CONNECTOR_WORKER_METRICS_PORT={port}: {exc}") from None


@signals.worker_ready.connect
def _serve_metrics(**_):
    if _metrics_server is not None:
        threading.Thread(target=_metrics_server.serve_forever, name="metrics", daemon=True).start()
        log.info("worker metrics on http://%s:%s/metrics", *_metrics_server.server_address[:2])


@signals.worker_process_shutdown.connect
def _pool_process_exits(pid=None, **_):
    """A pool process ends: its live gauges go (prometheus_client's rule); its counts stay summed."""
    from connector import metrics

    if metrics.multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())


@signals.task_prerun.connect
def _fresh_mapping(**_):
    """A mapping file fixed while the worker runs is used from the next task on (a stat per task;
    a file that no longer parses keeps the old mapping and logs why: connector/runtime.py)."""
    runtime.refresh_mapping()

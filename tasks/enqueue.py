"""Sending work to the broker without ever blocking on a broker that is down.

The database already holds every piece of work, so a failed send loses nothing: the
sweeper finds the row once its lease has run out. After a failure the breaker stays open
for a few seconds, so a burst of webhooks does not pay a connect timeout each.
"""
from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)

BREAKER_SECONDS = 5.0
_open_until = 0.0
_lock = threading.Lock()


def send(task, *args, **options) -> bool:
    """apply_async, or False when the broker cannot take it now."""
    global _open_until
    if time.monotonic() < _open_until:
        return False
    try:
        task.apply_async(args=args, **options)
        return True
    except Exception as exc:  # any broker failure; the row waits for the sweeper
        with _lock:
            _open_until = time.monotonic() + BREAKER_SECONDS
        log.warning("broker unavailable, %s(%s) left for the sweeper: %s", task.name,
                    ", ".join(map(str, args)), type(exc).__name__)
        return False


def broker_reachable(app, timeout: float = 2.0) -> bool:
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
        return True
    except Exception:
        return False


def resend_due(take_due, task, what: str, *, limit: int) -> dict:
    """A sweep: take the rows whose lease ran out (re-leasing them) and enqueue them again."""
    from tasks.celery import runtime

    with runtime.db.transaction() as cur:
        due = take_due(cur, lease_seconds=runtime.settings.lease_seconds, limit=limit)
    sent = sum(send(task, row_id) for row_id in due)
    if due:
        log.info("sweeper re-enqueued %s of %s unfinished %s", sent, len(due), what)
    return {"due": len(due), "sent": sent}


def queue_depths(app, queues=("celery", "posting"), timeout: float = 2.0) -> dict[str, int | None]:
    """Messages waiting in each queue (not counting those a worker holds); None when the broker
    does not answer. Works for Redis (a list per queue) and AMQP (a passive declare)."""
    depths: dict[str, int | None] = {}
    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
            channel = conn.default_channel
            for name in queues:
                if hasattr(channel, "_size"):   # kombu's Redis channel: a list per queue
                    depths[name] = int(channel._size(name))
                else:
                    depths[name] = _amqp_depth(conn, name)
    except Exception as exc:   # any broker failure: unknown, not zero
        log.debug("queue depth unknown: %s", type(exc).__name__)
        return {name: depths.get(name) for name in queues}
    return depths


def _amqp_depth(conn, name: str) -> int:
    # A passive declare of a queue no one declared yet fails and closes its channel: its own channel.
    from amqp.exceptions import NotFound

    channel = conn.channel()
    try:
        return int(channel.queue_declare(queue=name, passive=True).message_count)
    except NotFound:
        return 0
    finally:
        try:
            channel.close()
        except Exception:
            pass

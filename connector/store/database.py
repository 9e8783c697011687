"""Connections and transactions.

Money comes back as `Decimal` (psycopg2's default for numeric) and JSON documents are
decoded with `parse_float=Decimal`, so no amount ever passes through a float.
"""
from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from decimal import Decimal
from functools import partial

import psycopg2
import psycopg2.extras
import psycopg2.pool

psycopg2.extras.register_default_jsonb(loads=partial(json.loads, parse_float=Decimal), globally=True)
psycopg2.extras.register_default_json(loads=partial(json.loads, parse_float=Decimal), globally=True)

POOL_WAIT_SECONDS = 30

# Errors after which a pooled connection cannot be trusted any more.
CONNECTION_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError)


def connect_once(url: str, **kwargs):
    """A single connection with short timeouts (for health checks and migrations)."""
    return psycopg2.connect(url, connect_timeout=kwargs.pop("connect_timeout", 3), **kwargs)


def _discard_idle(pool) -> None:
    """After a broken connection, close the idle ones too: when the server restarted they are all dead,
    and each would otherwise fail one more transaction (a webhook answered 503, a task failed) before
    being replaced. New ones are opened as they are needed. (psycopg2's pool has no public call for
    this: its idle list and lock are used as it uses them.)"""
    with pool._lock:
        idle, pool._pool = pool._pool, []
    for conn in idle:
        try:
            conn.close()
        except psycopg2.Error:
            pass


class Database:
    """A small thread-safe pool; `transaction()` yields a dict cursor and commits on exit."""

    def __init__(self, url: str, size: int = 4):
        self.url = url
        self._size = size
        self._pool: psycopg2.pool.ThreadedConnectionPool | None = None
        self._lock = threading.Lock()
        # psycopg2's pool raises when exhausted; more threads than connections wait here instead.
        self._slots = threading.BoundedSemaphore(size)

    def _get_pool(self):
        # Created lazily so that a forked worker opens its own sockets.
        with self._lock:
            if self._pool is None:
                # minconn = maxconn: psycopg2 closes a returned connection whenever more
                # than minconn are idle, and a new connection per transaction costs ~20 ms
                # (a fresh backend with cold caches). Four covers gunicorn's four threads.
                self._pool = psycopg2.pool.ThreadedConnectionPool(
                    self._size, self._size, self.url, connect_timeout=3,
                    cursor_factory=psycopg2.extras.RealDictCursor,
                )
            return self._pool

    @contextmanager
    def transaction(self):
        if not self._slots.acquire(timeout=POOL_WAIT_SECONDS):
            raise psycopg2.OperationalError(f"no database connection free within {POOL_WAIT_SECONDS} s")
        try:
            pool = self._get_pool()
            conn = pool.getconn()
            broken = False
            try:
                with conn:  # commit on success, roll back on error
                    with conn.cursor() as cur:
                        yield cur
            except CONNECTION_ERRORS:
                broken = True
                raise
            finally:
                broken = broken or conn.closed != 0
                pool.putconn(conn, close=broken)
                if broken:
                    _discard_idle(pool)
        finally:
            self._slots.release()

    def close(self):
        with self._lock:
            if self._pool is not None:
                self._pool.closeall()
                self._pool = None

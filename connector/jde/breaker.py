"""A circuit breaker for the AIS server, shared by every process of the fleet (in Redis).

JDE has maintenance windows that last hours. Without a breaker every worker slot would keep
calling a dead server (a maintenance page answers hundreds of calls a minute) and every try
would use up one of an order's attempts, so a long window would end every order in flight
`failed`. With it:

- after `threshold` consecutive outage answers (connection refused or timed out, a proxy's
  502/503/504 or HTML page; see errors.py), the breaker opens, fleet-wide;
- while it is open no AIS call is made: posting defers orders (they stay `ready`, no attempt
  counted) and frees its worker slot at once;
- one probe (`tokenrequest/validate`, or a token request) runs every `probe_seconds`, in
  whichever process gets the probe slot first (beat's `watch_ais` or a deferred post);
- any answer from JDE, a probe's or a call's, closes it; the caller then re-enqueues the
  deferred backlog, which drains at full concurrency.

Redis keys: `<prefix>:failures` (consecutive outage answers, expiring), `<prefix>:open` (JSON
`{"since", "reason"}`, no expiry: only an answer from JDE closes it), `<prefix>:probe` (the
probe slot, `SET NX EX`). If Redis itself is down the breaker stays closed: calls go through.
"""
from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone

import redis as redis_lib

log = logging.getLogger(__name__)

# One connector deployment talks to one AIS server: one breaker per Redis (readable by
# `connector status` and /readyz without an AIS login).
BREAKER_KEY = "connector:ais:breaker"
FAILURE_WINDOW_SECONDS = 120   # outage answers further apart than this are not "consecutive"
_REDIS_DOWN = (redis_lib.RedisError, OSError)


class Breaker:
    def __init__(self, redis, prefix: str, *, threshold: int = 3, probe_seconds: float = 30.0):
        self.redis = redis
        self.threshold = threshold
        self.probe_seconds = probe_seconds
        self._failures_key, self._open_key, self._probe_key = (f"{prefix}:failures", f"{prefix}:open",
                                                               f"{prefix}:probe")
        self._saw_failures = False

    def allow(self) -> bool:
        """True when calls may go to JDE (one Redis round trip)."""
        try:
            opened, failures = self.redis.mget(self._open_key, self._failures_key)
        except _REDIS_DOWN:
            return True
        self._saw_failures = bool(failures) or bool(opened)
        return opened is None

    def record_outage(self, reason: str) -> bool:
        """Count an outage answer; True when this one opened the breaker."""
        try:
            pipe = self.redis.pipeline()
            pipe.incr(self._failures_key)
            pipe.expire(self._failures_key, FAILURE_WINDOW_SECONDS)
            failures, _ = pipe.execute()
            self._saw_failures = True
            if failures < self.threshold:
                return False
            opened = self.redis.set(self._open_key, json.dumps({"since": time.time(), "reason": reason[:300]}),
                                    nx=True)
        except _REDIS_DOWN:
            return False
        if opened:
            # The probe waits a full interval: the server just failed `threshold` times.
            self._take_probe_slot()
            log.warning("JDE AIS unreachable (%s consecutive outage answers, last: %s): posting paused, "
                        "probing every %.0f s", failures, reason, self.probe_seconds)
        return bool(opened)

    def record_answer(self) -> bool:
        """JDE answered: the breaker closes. True when it was open (the backlog can go now)."""
        if not self._saw_failures:
            return False
        return self.close()

    def close(self) -> bool:
        try:
            pipe = self.redis.pipeline()
            pipe.delete(self._open_key)
            pipe.delete(self._failures_key)
            was_open, _ = pipe.execute()
        except _REDIS_DOWN:
            return False
        self._saw_failures = False
        if was_open:
            log.warning("JDE AIS answers again: posting resumes")
        return bool(was_open)

    def probe_due(self) -> bool:
        """While open: True for the one caller (fleet-wide) whose turn it is to probe."""
        return not self.allow() and self._take_probe_slot()

    def _take_probe_slot(self) -> bool:
        try:
            return bool(self.redis.set(self._probe_key, b"1", nx=True, px=int(self.probe_seconds * 1000)))
        except _REDIS_DOWN:
            return False

    def state(self) -> dict:
        """{"state": "closed"} or {"state": "open", "since": datetime (UTC), "reason": …}."""
        try:
            raw = self.redis.get(self._open_key)
        except _REDIS_DOWN:
            return {"state": "unknown"}
        if raw is None:
            return {"state": "closed"}
        try:
            opened = json.loads(raw)
            since = datetime.fromtimestamp(float(opened["since"]), timezone.utc)
        except (ValueError, KeyError, TypeError):
            return {"state": "open", "since": None, "reason": ""}
        return {"state": "open", "since": since, "reason": opened.get("reason", "")}


def describe(state: dict) -> str:
    """One line for a person: "reachable", or "unreachable since … (reason)"."""
    if state.get("state") == "open":
        since = state["since"].strftime("%Y-%m-%d %H:%M:%S UTC") if state.get("since") else "?"
        return f"unreachable since {since}: {state.get('reason') or ''}".rstrip(": ")
    return "reachable" if state.get("state") == "closed" else "unknown (Redis unavailable)"


def probe(breaker: Breaker, session) -> str:
    """One probe if it is this caller's turn: "closed" (nothing to do), "waiting" (another
    caller's turn), "down" (still unreachable) or "recovered" (closed now: send the backlog)."""
    if breaker.allow():
        return "closed"
    if not breaker.probe_due():
        return "waiting"
    if session.probe():
        return "recovered" if breaker.close() else "closed"
    return "down"

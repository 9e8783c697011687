"""Wrong passwords at the admin login: counted per user name in Redis, shared by every process.

Ten wrong passwords for one user name within fifteen minutes and that name is refused, without
its password being checked, until the fifteen minutes are over: plenty for typing mistakes,
far too few to guess a password. Counting by user name rather than by address works behind
a platform's router too, where every request comes from the router's address.

When Redis cannot answer, the login is not blocked: finance must not be locked out of the
admin pages by a cache outage (the password is still checked, and the outage is logged).
"""
from __future__ import annotations

import hashlib
import logging

import redis

log = logging.getLogger(__name__)

MAX_FAILURES = 10
WINDOW_SECONDS = 15 * 60


def _key(username: str) -> str:
    # Hashed: the key holds no user input, however long or odd the name typed.
    return "connector:admin-login-failures:" + hashlib.sha256(username.casefold().encode()).hexdigest()


def locked_for(client: redis.Redis, username: str) -> int:
    """Seconds until `username` may try again; 0 when it may now."""
    try:
        pipe = client.pipeline(transaction=False)
        key = _key(username)
        failures, ttl = pipe.get(key).ttl(key).execute()
        return 0 if int(failures or 0) < MAX_FAILURES else max(ttl, 1)
    except redis.RedisError as exc:
        log.warning("admin login throttle unavailable (%s): not enforced", type(exc).__name__)
        return 0


def record_failure(client: redis.Redis, username: str) -> None:
    try:
        key = _key(username)
        # The window starts at the first failure; INCR keeps the expiry SET gave the key.
        client.pipeline(transaction=True).set(key, 0, ex=WINDOW_SECONDS, nx=True).incr(key).execute()
    except redis.RedisError as exc:
        log.warning("admin login throttle unavailable (%s): failure not counted", type(exc).__name__)


def clear(client: redis.Redis, username: str) -> None:
    try:
        client.delete(_key(username))
    except redis.RedisError:
        pass  # the count runs out with its window anyway

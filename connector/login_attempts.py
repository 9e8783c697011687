"""Attempts at the admin login: counted per user name in Redis, shared by every process.

Ten attempts for one user name that do not end in a sign-in, within fifteen minutes, and that
name is refused, without its password being checked, until the fifteen minutes are over: plenty
for typing mistakes, far too few to guess a password. Counting by user name rather than by
address works behind a platform's router too, where every request comes from the router's
address.

Each attempt is counted *before* its password is checked, in one atomic step, and only the
first ten of a window are checked: counting after the check let concurrent guesses all read
"nine so far" and all be checked. A sign-in clears the count.

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
    # Hashed: the key holds no user input, however long or odd the name typed (any script;
    # "surrogatepass" so that even a lone surrogate hashes rather than raises).
    name = username.casefold().encode("utf-8", "surrogatepass")
    return "connector:admin-login-failures:" + hashlib.sha256(name).hexdigest()


def admit(client: redis.Redis, username: str) -> int:
    """Count one attempt for `username`; return 0 when its password may be checked, else the
    seconds until the name may try again (the attempt is then refused unchecked)."""
    key = _key(username)
    try:
        # One MULTI: the window starts at the first attempt (SET NX EX), INCR keeps that expiry,
        # and no two attempts can read the same count.
        _, attempts, ttl = (client.pipeline(transaction=True)
                            .set(key, 0, ex=WINDOW_SECONDS, nx=True).incr(key).ttl(key).execute())
    except redis.RedisError as exc:
        log.warning("admin login throttle unavailable (%s): not enforced", type(exc).__name__)
        return 0
    return 0 if attempts <= MAX_FAILURES else max(int(ttl), 1)


def clear(client: redis.Redis, username: str) -> None:
    """A sign-in: the name starts from zero again."""
    try:
        client.delete(_key(username))
    except redis.RedisError:
        pass  # the count runs out with its window anyway

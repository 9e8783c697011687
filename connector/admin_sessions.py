"""Admin sign-ins that can be ended: kept in Redis, and tied to the password they were made with.

A signed cookie alone cannot be revoked: a copy taken before a sign-out, or before the password
was changed, would keep opening the admin pages. So the cookie carries only a random session id
(and the password generation), and a session is valid while

- Redis still holds that id (sign-out deletes it; it expires after SESSION_SECONDS), and
- the admin password is still the one it was made with: the generation is a digest of the stored
  password hash, which `connector credentials set admin` replaces (a new salt each time, even for
  the same password), so every session of the old password ends at once, Redis or not.

Redis down (the stance of connector.login_attempts: finance must not be locked out of the admin
pages by a cache outage): a sign-in still succeeds, with a *stateless* session that only the
signature, the password generation and a short lifetime (STATELESS_SECONDS) protect. It is
accepted only while Redis stays unreachable: once Redis answers, it is refused and the user signs
in again into a revocable session. What is lost during the outage is the server-side sign-out of
such a session, and of Redis sessions made before it, which are refused while Redis cannot
confirm them (a sign-out may have been recorded there); a password change still ends everything.
"""
from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time

import redis

log = logging.getLogger(__name__)

SESSION_SECONDS = 8 * 3600       # a working day; signing in again after it is cheap
STATELESS_SECONDS = 3600         # while Redis is down: short, as sign-out cannot end it server-side
_PREFIX = "connector:admin-session:"


def generation(stored: dict | None) -> str:
    """The password generation of the stored admin credential (`None`: the sandbox's built-in login).

    A digest of the salted password hash (and the user name): it changes whenever the password is
    set again and reveals nothing usable, as the hash itself never leaves the vault."""
    if not stored:
        return "sandbox"
    material = f"{stored.get('username', '')}\0{stored.get('password_hash', '')}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(b"connector admin session generation\0" + material).hexdigest()[:32]


def _key(session_id: str) -> str:
    # The id is hashed: whoever can read Redis's keys cannot turn them into cookies.
    return _PREFIX + hashlib.sha256(session_id.encode("ascii", "replace")).hexdigest()


def start(client: redis.Redis, user: str, password_generation: str, *, now: float | None = None) -> dict:
    """A new session for `user`: the fields its cookie carries."""
    session_id = secrets.token_urlsafe(32)
    record = json.dumps({"user": user, "generation": password_generation})
    try:
        client.set(_key(session_id), record, ex=SESSION_SECONDS)
    except redis.RedisError as exc:
        log.warning("admin session store unavailable (%s): a stateless session of %d s, which sign-out "
                    "cannot end before Redis answers again", type(exc).__name__, STATELESS_SECONDS)
        now = time.time() if now is None else now
        return {"user": user, "generation": password_generation, "stateless_until": int(now) + STATELESS_SECONDS}
    return {"user": user, "generation": password_generation, "sid": session_id}


def _redis_answers(client: redis.Redis) -> bool:
    try:
        client.ping()
        return True
    except redis.RedisError:
        return False


def valid(client: redis.Redis, cookie: dict, password_generation: str, *, now: float | None = None) -> bool:
    """Whether the session a cookie carries is still open for the current password generation."""
    user = cookie.get("user")
    if not user or cookie.get("generation") != password_generation:
        return False
    session_id = cookie.get("sid")
    if isinstance(session_id, str):
        try:
            raw = client.get(_key(session_id))
        except redis.RedisError:
            # Fail closed: Redis may hold this session's sign-out. The user can sign in again
            # (statelessly) while it is down.
            return False
        if raw is None:
            return False
        record = json.loads(raw)
        return record.get("user") == user and record.get("generation") == password_generation
    until = cookie.get("stateless_until")
    if isinstance(until, int) and not isinstance(until, bool):
        now = time.time() if now is None else now
        return now < until and not _redis_answers(client)
    return False


def end(client: redis.Redis, cookie: dict) -> bool:
    """Sign-out: True when the session is over server-side too (a cookie copy no longer opens anything)."""
    session_id = cookie.get("sid")
    if not isinstance(session_id, str):
        # Stateless: nothing on the server to end; it is refused anyway once Redis answers.
        return _redis_answers(client)
    try:
        client.delete(_key(session_id))
        return True
    except redis.RedisError as exc:
        log.warning("admin session store unavailable (%s): the session could not be ended server-side; "
                    "it ends when it expires or the password changes", type(exc).__name__)
        return False


def on_sandbox(cur, settings, vault) -> bool:
    """Whether the sandbox's public logins apply (admin / sandbox; Flower's default): no AIS server
    named in the environment *nor stored*. settings.sandbox looks at AIS_BASE_URL only, and a real
    server stored with `connector credentials set ais` makes this a real deployment."""
    from connector.vault import UndecryptableCredentials, load_credentials

    if not settings.sandbox:
        return False
    try:
        stored = load_credentials(cur, vault, "ais") or {}
    except UndecryptableCredentials:
        return False   # unreadable: assume the stricter case
    return not stored.get("base_url")

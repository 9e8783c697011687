"""Which failures are outages (tried again later, as long as they last) and which are the
work's own (ended with a reason a person can read), so that nothing loops for ever.

An outage is a part that will come back: Postgres or Redis unreachable, a connection dropped,
the server shutting down or out of connections. Postgres answering with an error of its own
about the statement (a value out of range, an index row too big, a statement cancelled) is
not an outage: the same work would fail the same way every time.
"""
from __future__ import annotations

import psycopg2
import redis

# SQLSTATE classes of a server that cannot serve now: connection exception (08), insufficient
# resources (53: too many connections, out of memory, disk full), operator intervention (57P:
# shutdown, crash, cannot connect now).
_OUTAGE_STATES = ("08", "53", "57P")


def is_outage(exc: BaseException) -> bool:
    if isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, psycopg2.InterfaceError)):
        return True
    if isinstance(exc, psycopg2.OperationalError):
        code = getattr(exc, "pgcode", None)
        return code is None or code.startswith(_OUTAGE_STATES)
    return False


def reason(exc: BaseException, limit: int = 300) -> str:
    """A readable cause: the exception's class and message, cut short (never a payload)."""
    text = " ".join(str(exc).split())
    if not text:
        return type(exc).__name__
    return f"{type(exc).__name__}: {text[:limit]}{'…' if len(text) > limit else ''}"

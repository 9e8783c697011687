"""What every `connector` command shares: failures told in one line an operator can act on.

An expected failure (a system that cannot be reached, a login refused, a bad mapping, a port
in use, no such order) is printed as one line — the system, where, what happened, the fix —
and the command exits 2. The traceback is shown only with `connector --debug …`.
"""
from __future__ import annotations

import errno
import sys
from urllib.parse import urlsplit, urlunsplit

import click


class OperatorError(Exception):
    """An expected failure, already worded for the operator."""


def fail(message: str):
    click.secho(message, fg="red", err=True)
    sys.exit(2)


def urls_of(settings):
    from connector import embedded

    try:
        return embedded.resolve_urls(settings)
    except embedded.ServicesNotRunning as exc:
        fail(str(exc))


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=f"{parts.username}:***@{parts.hostname}" +
                               (f":{parts.port}" if parts.port else ""))
    return urlunsplit(parts)


def one_line(exc: BaseException) -> str | None:
    """The operator's line for an expected failure, or None for a bug (shown with its traceback)."""
    import psycopg2
    import redis
    import requests

    from connector import embedded
    from connector.jde.errors import AisError, AisInvalidToken, AisOutage, AisRejected
    from connector.ledger_target import MixedLedgers
    from connector.mapping import MappingError
    from connector.vault import InvalidSecretKey, MissingSecretKey
    from connector.woo.client import WooError

    if isinstance(exc, OperatorError):
        return str(exc)
    if isinstance(exc, AisOutage):
        return (f"JDE AIS unreachable: {exc.text}. Fix: check AIS_BASE_URL (or `connector credentials set ais`) "
                "and that this machine may reach it — AIS servers often allow-list their callers; "
                "`connector check` shows this machine's address.")
    if isinstance(exc, (AisRejected, AisInvalidToken)) and "tokenrequest" in exc.text:
        return (f"JDE AIS refused the login: {exc.text}. Fix: check the AIS user, password, environment and role "
                "(`connector credentials set ais`).")
    if isinstance(exc, AisError):
        return f"JDE AIS: {exc.text}"
    if isinstance(exc, WooError):
        return f"WooCommerce: {exc}. Fix: check WOO_STORE_URL and the REST consumer key (`connector credentials set woo`)."
    if isinstance(exc, (MappingError, MissingSecretKey, InvalidSecretKey, embedded.ServicesNotRunning,
                        MixedLedgers)):
        return str(exc)
    if isinstance(exc, psycopg2.OperationalError):
        first = (str(exc).strip().splitlines() or ["unreachable"])[0]
        return f"Postgres: {first}. Fix: check DATABASE_URL, or start the embedded one (`connector services start`)."
    if isinstance(exc, redis.ConnectionError):
        return f"Redis: {exc}. Fix: check REDIS_URL, or start the embedded one (`connector services start`)."
    if isinstance(exc, requests.RequestException):
        url = _without_password(exc.request.url) if getattr(exc, "request", None) is not None else "?"
        return f"HTTP request to {url} failed: {type(exc).__name__}."
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return f"{exc.strerror or 'address already in use'}: another process holds the port. Fix: stop it, or " \
               "choose another port (PORT=…)."
    return None

"""What every `connector` command shares: failures told in one line an operator can act on.

An expected failure (a system that cannot be reached, a login refused, a bad mapping, a port
in use, no such order) is printed as one line — the system, where, what happened, the fix —
and the command exits 2. The traceback is shown only with `connector --debug …`.
"""
from __future__ import annotations

import errno
import math
import re
import sys
from urllib.parse import urlsplit, urlunsplit

import click

# Orders and deliveries are looked up in Postgres bigint columns: an id outside 1 … 2^63−1 can
# match nothing, and one past the top makes the query itself fail.
BIGINT_MAX = 2 ** 63 - 1


class OperatorError(Exception):
    """An expected failure, already worded for the operator."""


def fail(message: str):
    click.secho(message, fg="red", err=True)
    sys.exit(2)


class Count(click.IntRange):
    """How many of something (a LIMIT, a page size): at least one, and within what Postgres accepts."""

    name = "count"
    what = "a count"

    def __init__(self):
        super().__init__(1, BIGINT_MAX)

    def convert(self, value, param, ctx):
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            # IntRange's own wording shows the range as `1<=x<=…`; say what is wanted instead.
            self.fail(f"{value} is not {self.what} (a whole number from 1 to {BIGINT_MAX}).", param, ctx)


class RowId(Count):
    """An order or delivery id: refused on the command line when no row could have it."""

    name = "id"

    def __init__(self, what: str):
        super().__init__()
        self.what = what


ORDER_ID = RowId("an order id")
DELIVERY_ID = RowId("a delivery id")
COUNT = Count()


class Seconds(click.FloatRange):
    """A positive, finite number of seconds (FloatRange alone lets `nan` through: it compares false)."""

    name = "seconds"

    def __init__(self):
        super().__init__(0, min_open=True)

    def convert(self, value, param, ctx):
        seconds = super().convert(value, param, ctx)
        if not math.isfinite(seconds):
            self.fail(f"{value} is not a number of seconds.", param, ctx)
        return seconds


_NEGATIVE_NUMBER = re.compile(r"-\d+")


class IdsCommand(click.Command):
    """A command whose arguments are ids: `-1` is refused as an id, not as an unknown option `-1`.

    Click reads any word that starts with `-` as an option, so `connector requeue -1` would
    say "No such option: -1", which sends the operator looking for a typo in an option.
    """

    def parse_args(self, ctx, args):
        argument = next((p for p in self.params if isinstance(p, click.Argument)), None)
        # `--since -1`: there the number is the option's value, and the option's type judges it.
        wants_value = {name for p in self.params if isinstance(p, click.Option) and not p.is_flag
                       for name in p.opts + p.secondary_opts}
        previous = None
        for word in args:
            if word == "--":
                break
            if argument is not None and _NEGATIVE_NUMBER.fullmatch(word) and previous not in wants_value:
                argument.type.convert(word, argument, ctx)
            previous = word
        return super().parse_args(ctx, args)


def ordered_window(first, last, *, first_name: str, last_name: str, fix: str = "give the dates in order") -> None:
    """Refuse a window whose start is after its end: it would select nothing, and say all is well."""
    if first > last:
        raise click.UsageError(f"{first_name} {first} is after {last_name} {last}: no date is in that window. "
                               f"Fix: {fix}.")


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
    from connector.config import ConfigError
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
    if isinstance(exc, (ConfigError, MappingError, MissingSecretKey, InvalidSecretKey, embedded.ServicesNotRunning,
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

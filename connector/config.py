"""Process settings, read from the environment (and a `.env` file when present).

The names are the external contract of docs/design.md §4. Everything that is a secret is
kept out of `repr()` so that a settings object can never leak into a log line.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dotenv import load_dotenv

# Webhook bodies above this are refused with 413 (WooCommerce orders are a few KiB).
MAX_WEBHOOK_BYTES = 2 * 1024 * 1024


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


class ConfigError(ValueError):
    """A setting that cannot be used, worded for the operator (never quoting a secret)."""


@dataclass(frozen=True)
class SmtpServer:
    """SMTP_URL, parsed: smtp:// (STARTTLS when the server offers it) or smtps:// (TLS from the start)."""

    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def implicit_tls(self) -> bool:
        return self.scheme == "smtps"

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


_ADDRESS = re.compile(r"[^@\s,<>\"]+@[^@\s,<>\"]+")


def parse_smtp_url(value: str) -> SmtpServer:
    """smtp://user:password@host:port or smtps://…; the error names what is wrong, never the value."""
    fix = "Fix: write it as smtp://user:password@host:587 or smtps://user:password@host:465 " \
          "(percent-encode @ : / in the password)."
    parts = urlsplit(value.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise ConfigError(f"SMTP_URL must start with smtp:// or smtps://. {fix}")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"SMTP_URL has a port that is not a number from 1 to 65535. {fix}") from None
    if not parts.hostname:
        raise ConfigError(f"SMTP_URL names no host. {fix}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"SMTP_URL has a path or query; it takes none. {fix}")
    if (parts.password is not None) and not parts.username:
        raise ConfigError(f"SMTP_URL has a password but no user name. {fix}")
    return SmtpServer(scheme=parts.scheme, host=parts.hostname,
                      port=port or (465 if parts.scheme == "smtps" else 25),
                      username=unquote(parts.username) if parts.username else None,
                      password=unquote(parts.password) if parts.password is not None else None)


def _alert_webhook_url(value: str | None) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # The URL is a secret (its path is the token): say what is wrong, not what it is.
        raise ConfigError("CONNECTOR_ALERT_WEBHOOK_URL must be an http:// or https:// URL with a host "
                          "(a Slack-compatible incoming webhook). Fix: copy the webhook's URL as the service shows it.")
    return value


def _addresses(name: str, value: str | None) -> tuple[str, ...]:
    addresses = _split(value)
    for address in addresses:
        if not _ADDRESS.fullmatch(address):
            raise ConfigError(f"{name}: {address!r} is not an e-mail address (name@example.com; several: "
                              "comma-separated).")
    return addresses


def _positive_seconds(environ, name: str, default: float) -> float:
    raw = (environ.get(name) or "").strip()
    if not raw:
        return default
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise ConfigError(f"{name} must be a positive number of seconds, not {raw!r}.")
    return seconds


@dataclass(frozen=True)
class AlertSettings:
    """Where alerts go (connector/alerts/); both channels may be off."""

    email_to: tuple[str, ...] = ()
    email_from: str | None = None
    smtp: SmtpServer | None = None
    # Secret: the path of an incoming webhook is its token.
    webhook_url: str | None = field(default=None, repr=False)
    # At most one message per kind per window; JDE unreachable this long is an alert.
    window_seconds: float = 900.0
    jde_down_seconds: float = 900.0

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_url or self.email_to)


def load_alert_settings(environ) -> AlertSettings:
    get = environ.get
    smtp = parse_smtp_url(get("SMTP_URL")) if (get("SMTP_URL") or "").strip() else None
    email_to = _addresses("CONNECTOR_ALERT_EMAIL", get("CONNECTOR_ALERT_EMAIL"))
    if email_to and smtp is None:
        raise ConfigError("CONNECTOR_ALERT_EMAIL is set but SMTP_URL is not: e-mail alerts need an SMTP server. "
                          "Fix: set SMTP_URL=smtp://user:password@host:587 (or unset CONNECTOR_ALERT_EMAIL).")
    sender = (get("CONNECTOR_ALERT_FROM") or "").strip()
    if sender:
        _addresses("CONNECTOR_ALERT_FROM", sender)
    elif smtp is not None:
        # The SMTP login is usually a mailbox the server lets send; otherwise a name at its host.
        sender = smtp.username if smtp.username and _ADDRESS.fullmatch(smtp.username) else \
            f"woo-jde-connector@{smtp.host}"
    return AlertSettings(email_to=email_to, email_from=sender or None, smtp=smtp,
                         webhook_url=_alert_webhook_url(get("CONNECTOR_ALERT_WEBHOOK_URL")),
                         window_seconds=_positive_seconds(environ, "CONNECTOR_ALERT_WINDOW_SECONDS", 900.0),
                         jde_down_seconds=_positive_seconds(environ, "CONNECTOR_ALERT_JDE_SECONDS", 900.0))


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    redis_url: str | None
    broker_url: str | None
    config_path: Path
    var_dir: Path
    ais_base_url: str | None
    ais_username: str | None
    ais_environment: str | None
    ais_role: str | None
    ais_device_name: str
    woo_store_url: str | None
    woo_consumer_key: str | None
    # Secrets: never shown by repr().
    secret_keys: tuple[str, ...] = field(default=(), repr=False)
    ais_password: str | None = field(default=None, repr=False)
    woo_consumer_secret: str | None = field(default=None, repr=False)
    woo_webhook_secrets: tuple[str, ...] = field(default=(), repr=False)
    # How long a claimed delivery or order may stay unfinished before the sweeper
    # hands it out again (a worker killed with SIGKILL never acknowledges).
    lease_seconds: int = 120
    # Base of the exponential backoff between posting attempts (seconds).
    retry_base_seconds: float = 2.0
    # A delivery a worker took up this many times without finishing it (the worker died on it
    # each time) is parked as `error` instead of being handed out again.
    max_tries: int = 10
    # JDE outages: consecutive outage answers that open the circuit breaker, and how often
    # one probe asks whether JDE answers again.
    breaker_threshold: int = 3
    probe_seconds: float = 30.0
    # The receiver's public base URL (webhook registration), the address AIS sees this
    # machine as (allow-lists), and whether the embedded services may serve real systems.
    public_url: str | None = None
    egress_ip: str | None = None
    embedded_allowed: bool = False
    alerts: AlertSettings = field(default_factory=AlertSettings)
    # How long the health facts' probe of AIS (connector/health.py) is reused, fleet-wide, so
    # page loads and /readyz do not hammer AIS; and the beat intervals (celerybeat-schedule.py
    # reads the same variables) by which the health facts judge whether a job is overdue.
    health_cache_seconds: float = 15.0
    poll_seconds: float = 300.0
    reconcile_seconds: float = 900.0
    webhooks_seconds: float = 900.0

    @property
    def sandbox(self) -> bool:
        """True when no JDE server is configured: the product runs against `sandbox/`."""
        return not self.ais_base_url


def load_settings(environ: dict | None = None, *, dotenv: bool = True) -> Settings:
    """Build settings from `environ` (default: the process environment plus `.env`)."""
    if environ is None:
        if dotenv:
            # Real environment variables win over the file, as on Heroku.
            load_dotenv(Path.cwd() / ".env", override=False)
        environ = os.environ
    get = environ.get
    consumer_secret = get("WOO_CONSUMER_SECRET") or None
    webhook_secrets = _split(get("WOO_WEBHOOK_SECRET")) or _split(consumer_secret)
    return Settings(
        database_url=get("DATABASE_URL") or None,
        redis_url=get("REDIS_URL") or None,
        broker_url=get("CELERY_BROKER_URL") or None,
        config_path=Path(get("CONNECTOR_CONFIG") or "connector.toml"),
        var_dir=Path(get("CONNECTOR_VAR_DIR") or "var").resolve(),
        ais_base_url=get("AIS_BASE_URL") or None,
        ais_username=get("AIS_USERNAME") or None,
        ais_environment=get("AIS_ENVIRONMENT") or None,
        ais_role=get("AIS_ROLE") or None,
        ais_device_name=get("AIS_DEVICE_NAME") or "woo-jde-connector",
        woo_store_url=get("WOO_STORE_URL") or None,
        woo_consumer_key=get("WOO_CONSUMER_KEY") or None,
        secret_keys=_split(get("CONNECTOR_SECRET_KEY")),
        ais_password=get("AIS_PASSWORD") or None,
        woo_consumer_secret=consumer_secret,
        woo_webhook_secrets=webhook_secrets,
        lease_seconds=int(get("CONNECTOR_LEASE_SECONDS") or 120),
        retry_base_seconds=float(get("CONNECTOR_RETRY_BASE_SECONDS") or 2.0),
        max_tries=max(1, int(get("CONNECTOR_MAX_TRIES") or 10)),
        breaker_threshold=int(get("CONNECTOR_BREAKER_THRESHOLD") or 3),
        probe_seconds=float(get("CONNECTOR_PROBE_SECONDS") or 30.0),
        public_url=(get("CONNECTOR_PUBLIC_URL") or "").strip().rstrip("/") or None,
        egress_ip=(get("CONNECTOR_EGRESS_IP") or "").strip() or None,
        embedded_allowed=(get("CONNECTOR_EMBEDDED") or "").strip().lower() in ("1", "true", "yes", "on"),
        alerts=load_alert_settings(environ),
        health_cache_seconds=max(0.0, min(15.0, float(get("CONNECTOR_HEALTH_CACHE_SECONDS") or 15.0))),
        poll_seconds=float(get("CONNECTOR_POLL_SECONDS") or 300.0),
        reconcile_seconds=float(get("CONNECTOR_RECONCILE_SECONDS") or 900.0),
        webhooks_seconds=float(get("CONNECTOR_WEBHOOKS_SECONDS") or 900.0),
    )

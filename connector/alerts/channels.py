"""Where alerts go: a Slack-compatible incoming webhook, and e-mail over SMTP.

The webhook's URL and the SMTP password are secrets. Neither appears in a log line, an error or
a repr: a channel is named by its host (`where`), and a failure by what happened (connection
refused, HTTP 404, login refused), never by the exception's text. The webhook is posted with
http.client rather than requests: urllib3 logs each request's path at DEBUG, and an incoming
webhook's path is its token.
"""
from __future__ import annotations

import json
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from urllib.parse import urlsplit, urlunsplit

from connector.config import AlertSettings, SmtpServer

# A channel that does not answer within this is failed for this cycle (tried again next cycle).
TIMEOUT_SECONDS = 10


class ChannelFailed(Exception):
    """A message did not go; the reason is safe to show and to log."""


def _network_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"its TLS certificate is not trusted ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return "the TLS handshake failed"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return f"no answer within {TIMEOUT_SECONDS} s"
    if isinstance(exc, socket.gaierror):
        return "host name not found"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__


def _host_port(host: str, port: int | None) -> str:
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" if port else host


class WebhookChannel:
    name = "webhook"

    def __init__(self, url: str):
        self._url = url
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self.where = _host_port(parts.hostname, parts.port)
        self.fix = f"check CONNECTOR_ALERT_WEBHOOK_URL and that this machine may reach {self.where}"

    def __repr__(self):
        return f"WebhookChannel({self.where})"

    def send(self, message) -> None:
        parts = urlsplit(self._url)
        path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
        body = json.dumps({"text": message.text}).encode("utf-8")
        if self._https:
            conn = HTTPSConnection(self._host, self._port, timeout=TIMEOUT_SECONDS,
                                   context=ssl.create_default_context())
        else:
            conn = HTTPConnection(self._host, self._port, timeout=TIMEOUT_SECONDS)
        try:
            conn.request("POST", path, body, {"Content-Type": "application/json", "User-Agent": "woo-jde-connector"})
            response = conn.getresponse()
            response.read(65536)
        except (OSError, HTTPException) as exc:
            raise ChannelFailed(f"{self.where}: {_network_reason(exc)}") from None
        finally:
            conn.close()
        if not 200 <= response.status < 300:
            raise ChannelFailed(f"{self.where} answered HTTP {response.status}")


class EmailChannel:
    name = "e-mail"

    def __init__(self, smtp: SmtpServer, sender: str, recipients: tuple[str, ...]):
        self.smtp, self.sender, self.recipients = smtp, sender, recipients
        self.where = _host_port(smtp.host, smtp.port)
        self.fix = ("check SMTP_URL (scheme, host, port, user, password), CONNECTOR_ALERT_FROM and "
                    "CONNECTOR_ALERT_EMAIL")

    def __repr__(self):
        return f"EmailChannel({self.where}, {len(self.recipients)} recipients)"

    def _message(self, message) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = message.subject
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.recipients)
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = make_msgid(domain=self.smtp.host)
        mail.set_content(message.body)
        return mail

    def send(self, message) -> None:
        smtp, context = self.smtp, ssl.create_default_context()
        try:
            if smtp.implicit_tls:
                client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=TIMEOUT_SECONDS, context=context)
            else:
                client = smtplib.SMTP(smtp.host, smtp.port, timeout=TIMEOUT_SECONDS)
            with client:
                client.ehlo()
                if not smtp.implicit_tls:
                    if client.has_extn("starttls"):
                        client.starttls(context=context)
                        client.ehlo()
                    elif smtp.username:
                        # Without TLS the password would cross the network readable by anyone on the way.
                        raise ChannelFailed(f"{self.where} offers no STARTTLS, so the password would be sent in "
                                            "clear: not sent. Use smtps://, or a server that offers STARTTLS")
                if smtp.username:
                    client.login(smtp.username, smtp.password or "")
                client.send_message(self._message(message), from_addr=self.sender, to_addrs=list(self.recipients))
        except ChannelFailed:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise ChannelFailed(f"{self.where} refused the login ({exc.smtp_code})") from None
        except smtplib.SMTPNotSupportedError:
            raise ChannelFailed(f"{self.where} offers no login (AUTH): remove the user from SMTP_URL") from None
        except smtplib.SMTPSenderRefused as exc:
            raise ChannelFailed(f"{self.where} refused the sender {self.sender} ({exc.smtp_code}): "
                                "set CONNECTOR_ALERT_FROM") from None
        except smtplib.SMTPRecipientsRefused:
            raise ChannelFailed(f"{self.where} refused the recipients") from None
        except smtplib.SMTPResponseException as exc:
            raise ChannelFailed(f"{self.where} answered {exc.smtp_code}") from None
        except smtplib.SMTPServerDisconnected:
            raise ChannelFailed(f"{self.where} closed the connection") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise ChannelFailed(f"{self.where}: {_network_reason(exc)}") from None


def configured(alerts: AlertSettings) -> list:
    """The channels the settings name, webhook first."""
    channels = []
    if alerts.webhook_url:
        channels.append(WebhookChannel(alerts.webhook_url))
    if alerts.email_to:
        channels.append(EmailChannel(alerts.smtp, alerts.email_from, alerts.email_to))
    return channels


def describe(alerts: AlertSettings) -> str:
    """One line for the log at start: where alerts go (hosts only), or that they are off."""
    channels = configured(alerts)
    if not channels:
        return "alerts: off (set CONNECTOR_ALERT_WEBHOOK_URL, or CONNECTOR_ALERT_EMAIL and SMTP_URL)"
    named = ", ".join(f"webhook to {c.where}" if c.name == "webhook" else
                      f"e-mail to {len(c.recipients)} recipient(s) via {c.where}" for c in channels)
    return f"alerts: {named}; at most one message per kind every {alerts.window_seconds:.0f} s"

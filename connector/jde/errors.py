"""What can go wrong talking to the AIS server, sorted by what the caller should do.

An answer is judged by its body, not its status alone (docs/ais.md has the table):

| answer | class | what the connector does |
|---|---|---|
| connection refused / connect timeout / 503 | `AisNotSent` (outage) | wait it out; nothing reached JDE, no attempt counted |
| read timeout, dropped connection, 502, 504, non-JSON 5xx (a proxy or server page) | `AisOutcomeUnknown` (outage) | wait it out; look the batch up before sending again |
| 444, or 403 "Token is Invalid" | `AisInvalidToken` | log in again (single-flight), retry once |
| JSON 5xx whose text is a timeout, "busy", a lost connection inside JDE | `AisTransient` | retry with backoff; counts towards `failed`; look up first |
| 500 `sysErrors` JAS_MSG347 (data service) | `AisResultSetExpired` | restart the query from its first page, once |
| JSON 5xx with form errors, `jde__status` ERROR, an unknown orchestration; any other 4xx | `AisRejected` | look the batch up; absent → `needs_attention` with JDE's text |
| 200 with `jde__status` WARNING, `Errors/Warnings` or `continuedOnError` | `AisWarning` | look the batch up; absent → `needs_attention` |

An outage is what the fleet-wide circuit breaker counts (connector/jde/breaker.py).
"""
from __future__ import annotations

import re

# Texts of a JSON error from the AIS server or a business service that mean "try again later",
# not "this input is wrong". Matched case-insensitively against every message of the body.
TRANSIENT_TEXTS = (
    r"time ?out", r"timed out", r"server (is )?busy", r"too busy", r"temporarily unavailable",
    r"service unavailable", r"server failed to process request", r"unable to connect",
    r"could not connect", r"connection (refused|reset|closed|lost)", r"try again later",
    r"maximum number of (users|sessions)", r"deadlock",
)
_TRANSIENT = re.compile("|".join(TRANSIENT_TEXTS), re.I)
_RESULT_SET_EXPIRED = re.compile(r"JAS_MSG347|query results expired", re.I)
_TOKEN_INVALID = re.compile(r"token is invalid|invalid token|token.*(expired|not valid)", re.I)
_NOT_FOUND = re.compile(r"orchestration .* (was )?not found|not found", re.I)


def readable(value) -> str:
    """AIS puts messages in strings or in nested objects ({"Form": {"errors": [{"DESC": …}]}})."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        keys = ("CODE", "TITLE", "DESC", "message", "MESSAGE", "Title")
        parts = [f"[{value[key]}]" if key == "CODE" else str(value[key]).strip() for key in keys
                 if isinstance(value.get(key), (str, int)) and str(value[key]).strip()]
        parts += [readable(v) for k, v in value.items() if k not in keys and isinstance(v, (dict, list))]
        return " ".join(dict.fromkeys(p for p in parts if p))
    if isinstance(value, list):
        return "; ".join(filter(None, (readable(v) for v in value)))
    return str(value)


def form_errors(value) -> list[dict]:
    """Every JDE form or business-function error ({CODE, TITLE, DESC}) nested anywhere in a body."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("errors", "Errors", "sysErrors") and isinstance(item, list):
                found.extend(e for e in item if isinstance(e, dict) and (e.get("CODE") or e.get("TITLE")
                                                                        or e.get("DESC")))
            found.extend(form_errors(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(form_errors(item))
    return found


class AisError(Exception):
    """An AIS call failed. `text` is for a person; `body` is the server's error document."""

    def __init__(self, text: str, *, status: int | None = None, body: dict | None = None):
        super().__init__(text)
        self.text = text
        self.status = status
        self.body = body or {}

    @property
    def exception_id(self) -> str | None:
        value = self.body.get("exceptionId")
        return str(value) if value else None

    @classmethod
    def from_response(cls, status: int, body, **options) -> "AisError":
        body = body if isinstance(body, dict) else {"message": body}
        parts = [readable(body.get(key)) for key in
                 ("jde__simpleMessage", "userDefinedErrorText", "message", "errorText", "sysErrors",
                  "Errors/Warnings", "continuedOnError")]
        text = " | ".join(dict.fromkeys(p.strip() for p in parts if p and p.strip())) or f"HTTP {status}"
        if body.get("exceptionId"):
            text += f" (exceptionId {body['exceptionId']})"
        elif body.get("exception") and body["exception"] not in ("Exception", "java.lang.Exception"):
            text += f" ({body['exception']})"
        return cls(f"AIS answered {status}: {text}", status=status, body=body, **options)

    def summary(self) -> dict:
        return {"status": self.status, "error": self.text[:500]}


class AisRejected(AisError):
    """JDE understood the request and refused it (form errors, bad input, unknown orchestration):
    sending it again will not help."""


class AisWarning(AisError):
    """An orchestration answered 200 but says it did not (all) go well ("Continue on Error")."""


class AisInvalidToken(AisError):
    """444, or 403 "Token is Invalid": the token is unknown, expired, idle or bound to another device."""


class AisUnavailable(AisError):
    """Transient: retry later. `outage`: JDE could not be reached (the circuit breaker counts it,
    the order's attempt is not counted). `maybe_done`: the request may have been carried out, so
    look the result up in JDE before doing it again."""

    outage = False
    maybe_done = True


class AisTransient(AisUnavailable):
    """JDE answered, with an error that is worth another try later (a timeout inside JDE, busy)."""


class AisOutage(AisUnavailable):
    outage = True


class AisNotSent(AisOutage):
    """Nothing reached JDE (connection refused, connect timeout, a proxy's 503): safe to send again."""

    maybe_done = False


class AisOutcomeUnknown(AisOutage):
    """The request may have been carried out (read timeout, connection dropped after sending, a
    gateway's 502/504, a server's HTML error page): look the result up before doing it again."""


class AisCircuitOpen(AisNotSent):
    """The fleet-wide circuit breaker is open: JDE is unreachable, so nothing was sent."""


class AisResultSetExpired(AisError):
    """JAS_MSG347: a data-service result set expired between pages."""


def classify(status: int, body, *, json_body: bool, service: str, url: str = "") -> AisError | None:
    """The error an answer means, or None when it is a success (judged by the body, not the status)."""
    where = f"AIS {service}" + (f" at {url}" if url else "")
    if status == 444:
        return AisInvalidToken(f"{where} answered 444: invalid or expired token", status=status,
                               body=body if isinstance(body, dict) else None)
    if status == 403 and _TOKEN_INVALID.search(readable(body)):
        return AisInvalidToken(f"{where} answered 403: token is invalid", status=status,
                               body=body if isinstance(body, dict) else None)
    if status == 503:
        # Maintenance page or overloaded server: the request was turned away before AIS ran it.
        return AisNotSent(f"{where} answered 503: the server is unavailable", status=status)
    if status in (502, 504) or (status >= 500 and not json_body):
        return AisOutcomeUnknown(f"{where} answered {status} from a gateway or an error page: JDE did not "
                                 "answer", status=status)
    if status >= 500:
        text = readable(body)
        if _RESULT_SET_EXPIRED.search(text):
            return AisResultSetExpired.from_response(status, body)
        if _TRANSIENT.search(text):
            return AisTransient.from_response(status, body)
        if form_errors(body) or (isinstance(body, dict) and body.get("jde__status") == "ERROR") \
                or (service.startswith("orchestrator/") and _NOT_FOUND.search(text)):
            return AisRejected.from_response(status, body)
        # A JSON 5xx that says nothing we know: JDE answered, so it is no outage; retry it
        # (counted), and look the result up first.
        return AisTransient.from_response(status, body)
    if status >= 400:
        return AisRejected.from_response(status, body)
    if isinstance(body, dict):
        if body.get("jde__status") == "ERROR":
            return AisRejected.from_response(status, body)
        if body.get("jde__status") == "WARNING" or body.get("Errors/Warnings") or body.get("continuedOnError"):
            return AisWarning.from_response(status, body)
    return None

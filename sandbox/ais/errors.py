"""The error bodies AIS answers with.

Oracle-documented shapes: the ServiceErrorResponse (`message`, `exception`, `timeStamp`) most
endpoints use; a failed orchestration's 500 nesting the form's errors under its service
request; 403 "Token is Invalid"; a 500 naming an unknown orchestration; the data service's
500 `sysErrors` JAS_MSG347 when a result set has expired; and the HTML page a load balancer
answers while AIS is down for maintenance. The `status` and `userDefinedErrorText` the
sandbox adds to its plain errors, and the reason in brackets on a 444, are the sandbox's.
"""
from __future__ import annotations

import time

# The exception class names AIS puts in error bodies; clients only log them.
REST_EXCEPTION = "com.oracle.e1.jdemf.JDERestServiceException"
SERVER_EXCEPTION = "javax.ws.rs.WebApplicationException"
EXPIRED_TEXT = "JAS_MSG347: The query results expired.  Refresh them by clicking Find again."
PROXY_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>503 Service Unavailable</title></head><body>\n"
    "<h1>Service Unavailable</h1>\n<p>The server is temporarily unable to service your request due to "
    "maintenance downtime or capacity problems. Please try again later.</p>\n</body></html>\n")


def timestamp() -> str:
    """AIS's timeStamp format: `2026-11-26:20.50.00.123` (UTC here)."""
    now = time.time()
    return time.strftime("%Y-%m-%d:%H.%M.%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}"


def iso_timestamp(at: float) -> str:
    """jde__startTimestamp / jde__endTimestamp: `2026-11-26T20:50:00.123+0000`."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}+0000"


def error_body(message, exception: str = REST_EXCEPTION, user_text: str = "") -> dict:
    return {"message": message, "exception": exception, "timeStamp": timestamp(), "status": "ERROR",
            "userDefinedErrorText": user_text}


class AisError(Exception):
    """An answer that is an error: HTTP status plus the error body (and any extra headers).
    `body` replaces the ServiceErrorResponse where Oracle's answer has another shape."""

    def __init__(self, status: int, message, *, exception: str = REST_EXCEPTION, user_text: str = "",
                 extra: dict | None = None, headers: dict | None = None, body: dict | None = None):
        super().__init__(message if isinstance(message, str) else user_text)
        self.status = status
        self.body = body if body is not None else error_body(message, exception, user_text)
        self.body.update(extra or {})
        self.headers = headers or {}


def invalid_token(reason: str) -> AisError:
    # Real AIS says little more than this; the reason is the sandbox's, to help debugging.
    return AisError(444, f"Invalid or expired token ({reason})", user_text="")


def token_forbidden() -> AisError:
    """What some AIS releases answer an invalid token on a data or orchestration call."""
    return AisError(403, "Token is Invalid", body={
        "message": "Token is Invalid", "exception": "java.lang.Exception", "timeStamp": timestamp()})


def unknown_orchestration(name: str) -> AisError:
    message = f"Orchestration {name} was not found"
    return AisError(500, message, body={"message": message, "exception": "Exception", "timeStamp": timestamp()})


def results_expired() -> AisError:
    return AisError(500, EXPIRED_TEXT, body={"sysErrors": [{"TITLE": EXPIRED_TEXT, "DESC": EXPIRED_TEXT}]})


def orchestration_failed(orchestration: str, service_request: str, form: str, errors: list[dict], *,
                         started: str, ended: str, seconds: float, exception_id: str) -> AisError:
    """An orchestration whose form service request ended in errors: 500, the form's errors
    nested under the service request that ran it, as Tools 9.2.5.4+ answers."""
    return AisError(500, f"{orchestration} failed", body={
        "message": {f"ServiceRequest: {service_request}": {"JAS Response": {f"fs_{form}": {"errors": errors}}}},
        "exception": "Exception", "timeStamp": timestamp(), "userDefinedErrorText": "",
        "jde__status": "ERROR", "jde__startTimestamp": started, "jde__endTimestamp": ended,
        "jde__serverExecutionSeconds": seconds,
        "jde__simpleMessage": f"{orchestration} failed: ServiceRequest {service_request} returned errors",
        "exceptionId": exception_id,
    })

"""Oracle's ServiceErrorResponse: the one error body every AIS endpoint answers with."""
from __future__ import annotations

import time

# The exception class names AIS puts in error bodies; clients only log them.
REST_EXCEPTION = "com.oracle.e1.jdemf.JDERestServiceException"
ORCHESTRATION_EXCEPTION = "com.oracle.e1.rest.orchestrator.OrchestrationException"
SERVER_EXCEPTION = "javax.ws.rs.WebApplicationException"


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
    """An answer that is an error: HTTP status plus the error body (and any extra headers)."""

    def __init__(self, status: int, message, *, exception: str = REST_EXCEPTION, user_text: str = "",
                 extra: dict | None = None, headers: dict | None = None):
        super().__init__(message if isinstance(message, str) else user_text)
        self.status = status
        self.body = error_body(message, exception, user_text)
        self.body.update(extra or {})
        self.headers = headers or {}


def invalid_token(reason: str) -> AisError:
    # Real AIS says little more than this; the reason is the sandbox's, to help debugging.
    return AisError(444, f"Invalid or expired token ({reason})", user_text="")


def orchestration_failed(name: str, code: str, title: str, desc: str, *, status: int = 400) -> AisError:
    """An orchestration that ran and failed: the errors sit in `message` under its name."""
    simple = f"{title.removeprefix('Error: ')}: {desc}" if desc else title.removeprefix("Error: ")
    return AisError(status, {name: {"errors": [{"CODE": code, "TITLE": title, "DESC": desc}]}},
                    exception=ORCHESTRATION_EXCEPTION, user_text=simple,
                    extra={"jde__status": "ERROR", "jde__simpleMessage": simple})

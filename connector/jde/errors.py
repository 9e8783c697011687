"""What can go wrong talking to the AIS server, sorted by what the caller should do."""
from __future__ import annotations

import json
import re


def _readable(value) -> str:
    """AIS puts messages in strings or in nested objects ({"Form": {"errors": [{"DESC": …}]}})."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        parts = []
        for key in ("DESC", "TITLE", "message", "MESSAGE"):
            if isinstance(value.get(key), str):
                parts.append(value[key])
        if parts:
            return " — ".join(dict.fromkeys(parts))
        return "; ".join(filter(None, (_readable(v) for v in value.values())))
    if isinstance(value, list):
        return "; ".join(filter(None, (_readable(v) for v in value)))
    return str(value)


class AisError(Exception):
    """An AIS call failed. `text` is for a person; `body` is the server's error document."""

    def __init__(self, text: str, *, status: int | None = None, body: dict | None = None):
        super().__init__(text)
        self.text = text
        self.status = status
        self.body = body or {}

    @classmethod
    def from_response(cls, status: int, body) -> "AisError":
        body = body if isinstance(body, dict) else {"message": body}
        parts = [_readable(body.get(key)) for key in
                 ("jde__simpleMessage", "userDefinedErrorText", "message", "errorText")]
        text = " | ".join(dict.fromkeys(p.strip() for p in parts if p and p.strip())) or f"HTTP {status}"
        if body.get("exception"):
            text += f" ({body['exception']})"
        return cls(f"AIS answered {status}: {text}", status=status, body=body)

    def summary(self) -> dict:
        return {"status": self.status, "error": self.text[:500]}


class AisRejected(AisError):
    """The server understood the request and refused it (4xx): retrying will not help."""

    def names_duplicate_batch(self, batch_number: str) -> bool:
        blob = (self.text + " " + json.dumps(self.body, default=str)).lower()
        # The whole batch number, not a prefix of another one (WC-72 is not WC-727).
        named = re.search(rf"(?<![\w-]){re.escape(batch_number.lower())}(?![\w])", blob)
        return "duplicate" in blob and named is not None


class AisInvalidToken(AisError):
    """HTTP 444: the token is unknown, expired, idle or bound to another device."""


class AisUnavailable(AisError):
    """Transient: nothing was done, or the server failed (5xx, refused connection). Retry later."""


class AisOutcomeUnknown(AisUnavailable):
    """The request may have been carried out (read timeout, connection dropped after sending):
    look the result up in JDE before doing it again."""

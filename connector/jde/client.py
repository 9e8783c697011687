"""AIS client: orchestrations and the data service, with the retry rules of DESIGN §8.

- Reads (data service) are retried with exponential backoff and full jitter on timeouts,
  connection errors, 5xx and a 444 that survives a token refresh.
- Orchestrations change JDE, so they are retried here only when the request surely never
  left (connection refused, connect timeout) or was refused for its token (444: refresh,
  then once more). Any other failure goes back to the caller, who looks the result up in
  JDE before trying again (`AisOutcomeUnknown` when it may have been carried out).
- 4xx answers are `AisRejected` and never retried.
Every call is reported to `on_call` (audit log) with a redacted summary and its duration.
"""
from __future__ import annotations

import json
import time
from decimal import Decimal
from functools import partial
from typing import Callable

import backoff
import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from connector.jde.errors import AisError, AisInvalidToken, AisOutcomeUnknown, AisRejected, AisUnavailable
from connector.jde.session import AisSession

ORCHESTRATOR_PATH = "/jderest/v3/orchestrator/"
DATASERVICE_PATH = "/jderest/v2/dataservice"
_decode = partial(json.loads, parse_float=Decimal)


class _CursorLost(AisError):
    """The paging cursor belonged to a session that was replaced."""


class _NotSent(AisUnavailable):
    """The connection was never made: safe to send again, whatever the request."""


def _never_sent(exc: requests.RequestException) -> bool:
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


class AisClient:
    def __init__(self, session: AisSession, *, timeout=(3.05, 30), max_tries: int = 5, max_time: float = 60,
                 on_call: Callable[[dict], None] | None = None):
        self.session = session
        self.timeout = timeout
        self.max_tries = max_tries
        self.max_time = max_time
        self.on_call = on_call
        self.calls = 0   # AIS calls made (token requests excluded), for the benchmarks

    # -- public ------------------------------------------------------------------------
    def orchestrate(self, name: str, inputs: dict, *, summary: dict | None = None) -> dict:
        """Run an orchestration; `summary` replaces the inputs in the audit log if given."""
        retrying = backoff.on_exception(backoff.expo, (_NotSent, AisInvalidToken), max_tries=self.max_tries,
                                        max_time=self.max_time, jitter=backoff.full_jitter)
        return retrying(self._call)(ORCHESTRATOR_PATH + name, inputs, f"orchestrator/{name}",
                                    summary if summary is not None else inputs)

    def browse(self, table: str, *, columns: list[str], conditions: list[tuple[str, str, list]],
               match: str = "MATCH_ALL", page_size: int = 100) -> list[dict]:
        """All rows of a query (keys like `F0911_AA`), following the next-page links.

        A paging cursor belongs to the session that opened it: if the token is replaced
        between pages, the query starts again from the first page (so no row is counted
        twice or missed).
        """
        body = {
            "targetName": table, "targetType": "table", "dataServiceType": "BROWSE",
            "returnControlIDs": "|".join(f"{table}.{c}" for c in columns),
            "maxPageSize": str(page_size), "enableNextPageProcessing": True,
            "query": {"autoFind": True, "matchType": match, "condition": [
                {"controlId": f"{table}.{column}", "operator": operator,
                 "value": [{"content": str(v), "specialValueId": "LITERAL"} for v in values]}
                for column, operator, values in conditions]},
        }
        summary = {"table": table, "conditions": [list(c) for c in conditions], "page_size": page_size}
        for _ in range(3):
            try:
                return self._pages(table, body, summary)
            except _CursorLost:
                continue
        raise AisUnavailable(f"AIS data service on {table}: the session kept changing while paging")

    def _pages(self, table: str, body: dict, summary: dict) -> list[dict]:
        rows: list[dict] = []
        answer = self._read(DATASERVICE_PATH, body, f"dataservice/{table}", summary)
        while True:
            form = answer.get(f"fs_DATABROWSE_{table}") or {}
            grid = (form.get("data") or {}).get("gridData") or {}
            rows.extend(grid.get("rowset") or [])
            link = next((l for l in answer.get("links") or [] if l.get("rel") == "next"), None)
            if not (grid.get("summary") or {}).get("moreRecords") or link is None:
                return rows
            href = link["href"]
            path = "/" + href.split("/", 3)[3] if href.startswith("http") else href
            answer = self._read(path, dict(link.get("context") or {}), f"dataservice/{table}/next",
                                {"table": table, "next": True}, cursor=True)

    # -- internals ---------------------------------------------------------------------
    def _read(self, path, body, service, summary, cursor: bool = False) -> dict:
        retrying = backoff.on_exception(backoff.expo, (AisUnavailable, AisInvalidToken), max_tries=self.max_tries,
                                        max_time=self.max_time, jitter=backoff.full_jitter)
        return retrying(self._call)(path, body, service, summary, cursor)

    def _call(self, path: str, body: dict, service: str, summary, cursor: bool = False) -> dict:
        token = self.session.token()
        try:
            return self._send(path, body, service, summary, token)
        except AisInvalidToken:
            # 444: the shared token died. Replace it (single-flight) and try once more;
            # a next-page cursor died with it, so paging starts over instead.
            token = self.session.renew(token)
            if cursor:
                raise _CursorLost(f"AIS {service}: session replaced while paging") from None
            return self._send(path, body, service, summary, token)

    def _send(self, path, body, service, summary, token) -> dict:
        started = time.monotonic()
        status, outcome, answer = None, "ok", None
        self.calls += 1
        try:
            try:
                response = self.session.http.post(
                    self.session.base_url + path, data=json.dumps(body, default=str),
                    headers={"Content-Type": "application/json", **self.session.auth_headers(token)},
                    timeout=self.timeout)
            except requests.RequestException as exc:
                if _never_sent(exc):
                    outcome = "not_sent"
                    raise _NotSent(f"AIS {service}: connection failed ({type(exc).__name__})") from None
                outcome = "unknown"
                raise AisOutcomeUnknown(f"AIS {service}: no answer ({type(exc).__name__}); "
                                        "the request may have been carried out") from None
            status = response.status_code
            try:
                answer = _decode(response.text) if response.text else {}
            except ValueError:
                answer = {"message": response.text[:500]}
            if status == 444:
                outcome = "invalid_token"
                raise AisInvalidToken("AIS answered 444: invalid or expired token", status=444, body=answer)
            if status >= 500:
                outcome = "unavailable"
                raise AisUnavailable.from_response(status, answer)
            if status >= 400 or (isinstance(answer, dict) and answer.get("jde__status") == "ERROR"):
                outcome = "rejected"
                raise AisRejected.from_response(status, answer)
            if not isinstance(answer, dict):
                raise AisError(f"AIS {service} answered {status} with a non-object body", status=status)
            return answer
        finally:
            if self.on_call:
                self.on_call({"service": service, "status": status, "outcome": outcome,
                              "duration_ms": int((time.monotonic() - started) * 1000),
                              "request": summary, "response": _summarise(answer)})


def _summarise(answer) -> dict | None:
    """What the audit log keeps of an answer: status fields, ids, errors, row counts."""
    if not isinstance(answer, dict):
        return None
    keep = {k: v for k, v in answer.items()
            if k.startswith("jde__") or k in ("DocumentNumber", "BatchNumber", "AddressNumber", "message",
                                              "exception", "userDefinedErrorText", "status")}
    for key, value in answer.items():
        if key.startswith("fs_DATABROWSE_") and isinstance(value, dict):
            grid = (value.get("data") or {}).get("gridData") or {}
            keep["rows"] = len(grid.get("rowset") or [])
            keep["moreRecords"] = bool((grid.get("summary") or {}).get("moreRecords"))
    return keep

"""AIS client: orchestrations and the data service, with the retry rules of docs/design.md §8.

- Answers are judged by their body (errors.py has the table). An outage (nothing from JDE:
  connection refused or timed out, a proxy's 502/503/504 or HTML page) is reported to the
  fleet-wide circuit breaker; while it is open no call is made (`AisCircuitOpen`).
- Reads (data service) are retried with exponential backoff and full jitter on outages and
  transient JDE errors, and once after a 444 / 403 "Token is Invalid" with a new token.
- Orchestrations change JDE, so they are retried here only when the request surely never
  left (connection refused, connect timeout, a 503) or was refused for its token (then once
  with a new token). Any other failure goes back to the caller, who looks the result up in
  JDE before trying again.
- Data requests pin their output (`outputType: GRID_DATA`, `aliasNaming: true`) so a
  data-dictionary override cannot rename `F0911_VINV`; date conditions are written in the AIS
  user's date format and date columns read back from `yyyyMMdd`; the next page is
  `links[rel=next].href`, posted with its query string as given (it carries the token, so it
  never reaches the audit log or a log line); a result set that expired (JAS_MSG347) is read
  again from its first page, once.
Every call is reported to `on_call` (audit log) with a redacted summary and its duration.
"""
from __future__ import annotations

import json
import logging
import re
import time
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Callable
from urllib.parse import urlsplit

import backoff
import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from connector import metrics
from connector.jde import dates
from connector.jde.errors import (AisCircuitOpen, AisError, AisInvalidToken, AisNotSent, AisOutage,
                                  AisOutcomeUnknown, AisRejected, AisResultSetExpired, AisUnavailable,
                                  classify, form_errors, readable)
from connector.jde.session import AisSession

ORCHESTRATOR_PATH = "/jderest/v3/orchestrator/"
DATASERVICE_PATH = "/jderest/v2/dataservice"
DISCOVER_PATH = "/jderest/discover"
_decode = partial(json.loads, parse_float=Decimal)


class _CursorLost(AisError):
    """The paging cursor belonged to a session that was replaced."""


def _never_sent(exc: requests.RequestException) -> bool:
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


def _circuit_open(exc) -> bool:
    return isinstance(exc, AisCircuitOpen)


class AisClient:
    def __init__(self, session: AisSession, *, timeout=(3.05, 30), max_tries: int = 5, max_time: float = 60,
                 on_call: Callable[[dict], None] | None = None, breaker=None):
        self.session = session
        self.timeout = timeout
        self.max_tries = max_tries
        self.max_time = max_time
        self.on_call = on_call
        self.breaker = breaker
        self.calls = 0   # AIS calls made (token requests excluded), for the benchmarks

    # -- public ------------------------------------------------------------------------
    def orchestrate(self, name: str, inputs: dict, *, summary: dict | None = None) -> dict:
        """Run an orchestration; `summary` replaces the inputs in the audit log if given.

        Raises `AisWarning` for a 200 that carries warnings or continued-on-error steps: the
        caller decides, after looking the result up, whether it happened.
        """
        retrying = backoff.on_exception(backoff.expo, AisNotSent, max_tries=self.max_tries,
                                        max_time=self.max_time, jitter=backoff.full_jitter, giveup=_circuit_open,
                                        giveup_log_level=logging.WARNING)
        return retrying(self._call)(ORCHESTRATOR_PATH + name, inputs, f"orchestrator/{name}",
                                    summary if summary is not None else inputs)

    def discover(self) -> list[dict]:
        """The orchestrations the server offers this user (Oracle's discovery service, a GET)."""
        answer = self._call(DISCOVER_PATH, None, "discover", {}, method="GET")
        found = answer.get("orchestrations")
        if not isinstance(found, list):
            raise AisRejected("AIS discover answered without an orchestrations list", body=answer)
        return [o for o in found if isinstance(o, dict)]

    def browse(self, table: str, *, columns: list[str], conditions: list[tuple[str, str, list]],
               match: str = "MATCH_ALL", page_size: int = 100, date_columns: tuple[str, ...] = (),
               all_pages: bool = True) -> list[dict]:
        """All rows of a query (keys like `F0911_AA`), following the next-page links.

        Condition values that are `date`s are written in the AIS user's date format; the
        `date_columns` of each row are read back as `date`. A paging cursor belongs to the
        session that opened it and to a result set that may expire: either way the query
        starts again from its first page (so no row is counted twice or missed).
        """
        summary = {"table": table, "conditions": [[c[0], c[1], [str(v) for v in c[2]]] for c in conditions],
                   "page_size": page_size}
        body = {
            "targetName": table, "targetType": "table", "dataServiceType": "BROWSE",
            "outputType": "GRID_DATA", "aliasNaming": True,
            "returnControlIDs": "|".join(f"{table}.{c}" for c in columns),
            "maxPageSize": str(page_size), "enableNextPageProcessing": True,
            "query": {"autoFind": True, "matchType": match, "condition": [
                {"controlId": f"{table}.{column}", "operator": operator,
                 "value": [{"content": self._literal(v), "specialValueId": "LITERAL"} for v in values]}
                for column, operator, values in conditions]},
        }
        expired_once = False
        for _ in range(3):
            try:
                rows = self._pages(table, body, summary, all_pages)
            except _CursorLost:
                continue
            except AisResultSetExpired:
                if expired_once:
                    raise AisUnavailable(f"AIS data service on {table}: the result set expired twice while "
                                         "paging (JAS_MSG347); try again later") from None
                expired_once = True
                continue
            return [self._dated(row, table, date_columns) for row in rows] if date_columns else rows
        raise AisUnavailable(f"AIS data service on {table}: the session kept changing while paging")

    # -- internals ---------------------------------------------------------------------
    def _literal(self, value) -> str:
        if isinstance(value, date):
            return dates.format_date(value, self.session.date_format)
        return str(value)

    def _dated(self, row: dict, table: str, date_columns) -> dict:
        row = dict(row)
        for column in date_columns:
            key = f"{table}_{column}"
            if row.get(key) not in (None, "", 0):
                row[key] = dates.parse_grid_date(row[key], self.session.date_format)
        return row

    def _pages(self, table: str, body: dict, summary: dict, all_pages: bool = True) -> list[dict]:
        rows: list[dict] = []
        answer = self._read(DATASERVICE_PATH, body, f"dataservice/{table}", summary)
        page = 1
        while True:
            form = answer.get(f"fs_DATABROWSE_{table}") or {}
            errors = form_errors({"errors": form.get("errors") or []})
            if errors:
                # A data request the form refused answers 200 with no rows: never read that as
                # "not in JDE".
                raise AisRejected(f"AIS data service on {table} refused the query: {readable(errors)}",
                                  status=200, body={"errors": errors})
            grid = (form.get("data") or {}).get("gridData") or {}
            rows.extend(grid.get("rowset") or [])
            link = next((l for l in answer.get("links") or [] if isinstance(l, dict) and l.get("rel") == "next"),
                        None)
            if not all_pages or not (grid.get("summary") or {}).get("moreRecords") or link is None \
                    or not link.get("href"):
                return rows
            page += 1
            href = urlsplit(str(link["href"]))
            # The href as given (its query string holds the cursor and the token); our own base URL,
            # since the server may name itself by a host we reach through a proxy.
            path = href.path + (f"?{href.query}" if href.query else "")
            context = link.get("context")
            answer = self._read(path, context if isinstance(context, dict) else {}, f"dataservice/{table}/next",
                                {"table": table, "next": True, "page": page}, cursor=True)

    def _read(self, path, body, service, summary, cursor: bool = False) -> dict:
        # Giving up is an expected path (the caller defers or retries the order): a warning, not an error.
        retrying = backoff.on_exception(backoff.expo, AisUnavailable, max_tries=self.max_tries,
                                        max_time=self.max_time, jitter=backoff.full_jitter, giveup=_circuit_open,
                                        giveup_log_level=logging.WARNING)
        return retrying(self._call)(path, body, service, summary, cursor)

    def _call(self, path: str, body: dict | None, service: str, summary, cursor: bool = False,
              method: str = "POST") -> dict:
        if self.breaker is not None and not self.breaker.allow():
            raise AisCircuitOpen(f"AIS {service}: JDE is unreachable (circuit open), nothing sent")
        try:
            token = self.session.token()
        except AisOutage as exc:
            self._outage(exc)
            raise
        try:
            return self._send(path, body, service, summary, token, method)
        except AisInvalidToken:
            # 444 / 403 "Token is Invalid": the shared token died. Replace it (single-flight)
            # and try once more; a next-page cursor died with it, so paging starts over instead.
            token = self.session.renew(token)
            if cursor:
                raise _CursorLost(f"AIS {service}: session replaced while paging") from None
            return self._send(path, body, service, summary, token, method)

    def _outage(self, exc: AisError) -> None:
        if self.breaker is not None:
            self.breaker.record_outage(exc.text)

    def _send(self, path, body, service, summary, token, method: str = "POST") -> dict:
        started = time.monotonic()
        status, outcome, answer = None, "ok", None
        self.calls += 1
        where = self.session.base_url
        try:
            try:
                response = self.session.http.request(
                    method, where + path, data=None if body is None else json.dumps(body, default=str),
                    headers={"Content-Type": "application/json", **self.session.auth_headers(token)},
                    timeout=self.timeout)
            except requests.RequestException as exc:
                if _never_sent(exc):
                    outcome = "not_sent"
                    error = AisNotSent(f"AIS {service} at {where}: connection failed ({type(exc).__name__})")
                else:
                    outcome = "unknown"
                    error = AisOutcomeUnknown(f"AIS {service} at {where}: no answer ({type(exc).__name__}); "
                                              "the request may have been carried out")
                self._outage(error)
                raise error from None
            status = response.status_code
            try:
                answer, is_json = (_decode(response.text) if response.text else {}), True
            except ValueError:
                answer, is_json = {"message": response.text[:200]}, False
            error = classify(status, answer, json_body=is_json, service=service, url=where)
            if isinstance(error, AisOutage):
                outcome = "unavailable"
                self._outage(error)
                raise error
            if self.breaker is not None:
                self.breaker.record_answer()
            if error is not None:
                # AisInvalidToken -> invalid_token: the session's word for it, one label value for both.
                outcome = re.sub(r"(?<!^)(?=[A-Z])", "_", type(error).__name__.removeprefix("Ais")).lower()
                raise error
            if not isinstance(answer, dict):
                outcome = "rejected"
                raise AisRejected(f"AIS {service} answered {status} with a non-object body", status=status)
            return answer
        finally:
            seconds = time.monotonic() - started
            metrics.ais_call(service, outcome, seconds)
            if self.on_call:
                self.on_call({"service": service, "status": status, "outcome": outcome,
                              "duration_ms": int(seconds * 1000),
                              "request": summary, "response": _summarise(answer)})


def _summarise(answer) -> dict | None:
    """What the audit log keeps of an answer: status fields, ids, errors, row counts."""
    if not isinstance(answer, dict):
        return None
    keep = {k: v for k, v in answer.items()
            if k.startswith("jde__") or k in ("DocumentNumber", "BatchNumber", "AddressNumber", "message",
                                              "exception", "exceptionId", "userDefinedErrorText", "status",
                                              "sysErrors", "Errors/Warnings", "continuedOnError")}
    for key, value in answer.items():
        if key.startswith("fs_DATABROWSE_") and isinstance(value, dict):
            grid = (value.get("data") or {}).get("gridData") or {}
            keep["rows"] = len(grid.get("rowset") or [])
            keep["moreRecords"] = bool((grid.get("summary") or {}).get("moreRecords"))
    return keep

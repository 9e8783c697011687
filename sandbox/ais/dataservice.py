"""The data service: BROWSE a table with conditions, answer a page, keep a cursor for the rest.

Oracle-documented: a page carries `stackId`, `stateId`, `rid`, `currentApp` and `timeStamp`
at top level; numbers are JSON numbers with their decimals, dates are `yyyyMMdd` strings;
condition values on a date column are read in the AIS user's date format; the next page is a
link `links[rel=next].href` whose query string carries every parameter, the token included;
an unused result set expires (AIS's default is 60 s) and /next then answers 500 `sysErrors`
JAS_MSG347. Sandbox knobs: `next_link_style` (`oracle`: that href; `context_string`: the same
href plus `"context": "1"`, as the appstack service shows; `context_object`: a bare href and
the parameters in a `context` object, an older sandbox style), `result_set_ttl`, and
`result_set_expiry_rate` (expire at random). /next takes its parameters from the href's
query string or from a JSON body (a context object), whichever the client sends.

The first call takes a snapshot of every matching row; /next pages through it by `rid`. A
cursor belongs to the token that opened it, is forgotten after its last page, expires when
unused longer than the result-set TTL, and is dropped silently after the session's idle
timeout. Not thread-safe on its own: the service calls it under its lock.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from urllib.parse import quote, urlencode

from sandbox.ais import dates
from sandbox.ais.errors import AisError, results_expired, timestamp
from sandbox.ais.ledger import parse_amount
from sandbox.ais.tables import TABLES, Table

GRID_ID = 58  # AIS's grid id of the data browser form
DEFAULT_PAGE_SIZE = 100
NEXT_PATH = "/jderest/v2/dataservice/next"


OPERATORS = {
    # name: (number of values or None for 1+, test(value, contents))
    "EQUAL": (1, lambda v, c: v == c[0]),
    "NOT_EQUAL": (1, lambda v, c: v != c[0]),
    "GREATER": (1, lambda v, c: v > c[0]),
    "GREATER_EQUAL": (1, lambda v, c: v >= c[0]),
    "LESS": (1, lambda v, c: v < c[0]),
    "LESS_EQUAL": (1, lambda v, c: v <= c[0]),
    "BETWEEN": (2, lambda v, c: c[0] <= v <= c[1]),
    "LIST": (None, lambda v, c: v in c),
    "STR_START_WITH": (1, lambda v, c: str(v).startswith(str(c[0]))),
    "STR_CONTAIN": (1, lambda v, c: str(c[0]) in str(v)),
}


def _bad(message: str) -> AisError:
    return AisError(400, message)


def _is_true(value) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


@dataclass
class Cursor:
    rid: str
    token: str
    table: Table
    columns: list[str]
    rows: list[dict]
    position: int
    page_size: int
    return_ids: str
    stack_id: int
    state_id: int
    last_used: float


def _columns(table: Table, return_ids) -> list[str]:
    if return_ids in (None, ""):
        return list(table.columns)
    if not isinstance(return_ids, str):
        raise _bad("returnControlIDs must be a string like F0911.DOC|F0911.AA")
    columns = []
    for control in return_ids.split("|"):
        prefix, _, alias = control.strip().partition(".")
        if prefix != table.name or alias not in table.columns:
            raise _bad(f"Invalid returnControlID {control!r} for table {table.name}")
        columns.append(alias)
    return columns


def _page_size(value) -> int | None:
    """None means no limit ("No Max", as AIS spells it)."""
    if value is None:
        return DEFAULT_PAGE_SIZE
    if isinstance(value, str) and value.strip().lower() == "no max":
        return None
    number = parse_amount(value)
    if number is None or number != number.to_integral_value() or number < 1:
        raise _bad(f"Invalid maxPageSize {value!r}")
    return int(number)


def _output_options(request: dict) -> None:
    """outputType and aliasNaming are optional; the sandbox writes only the one output they
    can ask for (a grid keyed by aliases), so it refuses the others rather than ignore them."""
    output = request.get("outputType")
    if output is not None and output != "GRID_DATA":
        raise _bad(f"outputType {output!r} is not supported (only GRID_DATA)")
    if "aliasNaming" in request:
        alias_naming = request["aliasNaming"]
        if not isinstance(alias_naming, (bool, str)) or str(alias_naming).strip().lower() not in ("true", "false"):
            raise _bad(f"aliasNaming must be a boolean, got {alias_naming!r}")
        if not _is_true(alias_naming):
            raise _bad("only aliasNaming=true is supported")


def _day(value) -> date | None:
    """A stored date column (Julian text, or blank for none) as a day."""
    return dates.from_julian(value) if value else None


def _condition(table: Table, condition, user_format: dates.UserDateFormat):
    if not isinstance(condition, dict):
        raise _bad("Each query condition must be an object")
    control = condition.get("controlId")
    prefix, _, alias = str(control).partition(".")
    if prefix != table.name or alias not in table.columns:
        raise _bad(f"Invalid controlId {control!r} for table {table.name}")
    operator = condition.get("operator")
    if operator not in OPERATORS:
        raise _bad(f"Unsupported operator {operator!r}")
    arity, test = OPERATORS[operator]
    values = condition.get("value")
    if not isinstance(values, list) or not values or (arity is not None and len(values) != arity):
        raise _bad(f"Operator {operator} on {control} needs {arity or 'one or more'} value(s)")
    kind = "date" if alias in table.dates else "number" if alias in table.numeric else "string"
    if kind == "date" and operator.startswith("STR_"):
        raise _bad(f"Operator {operator} does not apply to the date column {control}")
    numeric = kind == "number" and not operator.startswith("STR_")
    contents = []
    for value in values:
        if not isinstance(value, dict) or value.get("specialValueId", "LITERAL") != "LITERAL":
            raise _bad(f"Only LITERAL condition values are supported ({control})")
        content = value.get("content")
        if kind == "date":
            day = user_format.parse(content)
            if day is None:
                raise _bad(f"{control} is a date: {content!r} is not a date in the user's date format "
                           f"{user_format.pattern} (e.g. {user_format.format(date(2026, 11, 26))})")
            content = day
        elif numeric:
            content = parse_amount(content)
            if content is None:
                raise _bad(f"{control} is numeric: {value.get('content')!r} is not a number")
        elif not isinstance(content, str):
            content = "" if content is None else str(content)
        contents.append(content)

    def matches(row) -> bool:
        value = row.get(alias, table.default(alias))   # rows of an older state file lack newer columns
        if kind == "date":
            day = _day(value)
            return day is not None and test(day, contents)  # a blank date matches no condition
        # JDE compares strings exactly (case and spaces count) and numbers as numbers.
        return test(Decimal(value) if numeric else str(value), contents)
    return matches


def _filter(table: Table, query, user_format: dates.UserDateFormat) -> callable:
    if query is None:
        return lambda row: True
    if not isinstance(query, dict):
        raise _bad("query must be an object")
    match_type = query.get("matchType", "MATCH_ALL")
    if match_type not in ("MATCH_ALL", "MATCH_ANY"):
        raise _bad(f"Invalid matchType {match_type!r}")
    conditions = query.get("condition") or []
    if not isinstance(conditions, list):
        raise _bad("query.condition must be a list")
    tests = [_condition(table, condition, user_format) for condition in conditions]
    combine = all if match_type == "MATCH_ALL" else any
    return lambda row: not tests or combine(test(row) for test in tests)


def _output(table: Table, alias: str, value):
    if alias in table.dates:
        day = _day(value)
        return dates.compact(day) if day else ""
    return value


class DataService:
    def __init__(self, rng: random.Random):
        self._rng = rng
        self._cursors: dict[str, Cursor] = {}
        self._next_stack = 1
        self.expired = 0  # result sets answered JAS_MSG347 (age or dice)

    def browse(self, request: dict, tables: dict[str, list[dict]], *, token: str, now: float, idle: float,
               base_url: str, date_format: str, link_style: str) -> dict:
        self._forget_idle(now, idle)
        table = TABLES.get(request.get("targetName"))
        if table is None:
            raise _bad(f"Invalid targetName {request.get('targetName')!r}: not a table the server knows")
        if str(request.get("targetType", "table")).lower() != "table":
            raise _bad(f"targetType {request.get('targetType')!r} is not supported (only table)")
        if request.get("dataServiceType", "BROWSE") != "BROWSE":
            raise _bad(f"dataServiceType {request.get('dataServiceType')!r} is not supported (only BROWSE)")
        _output_options(request)
        return_ids = request.get("returnControlIDs")
        columns = _columns(table, return_ids)
        page_size = _page_size(request.get("maxPageSize"))
        wanted = _filter(table, request.get("query"), dates.user_format(date_format))
        snapshot = [{f"{table.name}_{alias}": _output(table, alias, row.get(alias, table.default(alias)))
                     for alias in columns}
                    for row in tables[table.name] if wanted(row)]
        cursor = Cursor(rid=self._rng.randbytes(16).hex(), token=token, table=table, columns=columns,
                        rows=snapshot, position=0, page_size=page_size or max(len(snapshot), 1),
                        return_ids=return_ids or "|".join(f"{table.name}.{alias}" for alias in columns),
                        stack_id=self._next_stack, state_id=1, last_used=now)
        self._next_stack += 1
        paging = _is_true(request.get("enableNextPageProcessing"))
        return self._page(cursor, base_url, link_style, keep=paging)

    def next_page(self, params: dict, *, token: str, now: float, idle: float, ttl: float, expire: bool,
                  base_url: str, link_style: str) -> dict:
        """The next page of the cursor `params["rid"]` names; `expire` is the dice's verdict."""
        self._forget_idle(now, idle)
        rid = str(params.get("rid") or "")
        cursor = self._cursors.get(rid)
        if cursor is None or cursor.token != token:
            raise _bad("Invalid or expired next page request: the rid is unknown")
        if expire or now - cursor.last_used > ttl:
            del self._cursors[rid]
            self.expired += 1
            raise results_expired()
        cursor.state_id += 1
        cursor.last_used = now
        return self._page(cursor, base_url, link_style, keep=True)

    def forget_all(self) -> None:
        self._cursors.clear()

    def _forget_idle(self, now: float, idle: float) -> None:
        for rid in [rid for rid, cursor in self._cursors.items() if now - cursor.last_used > idle]:
            del self._cursors[rid]

    def _page(self, cursor: Cursor, base_url: str, link_style: str, *, keep: bool) -> dict:
        table, columns = cursor.table, cursor.columns
        rows = cursor.rows[cursor.position:cursor.position + cursor.page_size]
        cursor.position += len(rows)
        more = cursor.position < len(cursor.rows)
        form = f"DATABROWSE_{table.name}"
        document = {
            f"fs_{form}": {
                "title": f"Data Browser - {table.name} [{table.title}]",
                "data": {"gridData": {
                    "id": GRID_ID, "fullGridId": str(GRID_ID),
                    "columns": {f"{table.name}_{alias}": table.columns[alias] for alias in columns},
                    "rowset": rows,
                    "summary": {"records": len(rows), "moreRecords": more},
                }},
                "errors": [], "warnings": [],
            },
            "stackId": cursor.stack_id, "stateId": cursor.state_id, "rid": cursor.rid,
            "currentApp": form, "timeStamp": timestamp(), "sysErrors": [],
        }
        if more and keep:
            self._cursors[cursor.rid] = cursor
            document["links"] = [_next_link(cursor, form, base_url, link_style)]
        else:
            self._cursors.pop(cursor.rid, None)  # last page served: the rid is gone
        return document


def _next_link(cursor: Cursor, form: str, base_url: str, style: str) -> dict:
    href = base_url + NEXT_PATH
    if style == "context_object":
        return {"rel": "next", "href": href, "context": {
            "stackId": cursor.stack_id, "stateId": cursor.state_id, "rid": cursor.rid, "formOID": form,
            "fullGridId": str(GRID_ID), "returnControlIDs": cursor.return_ids, "outputType": "GRID_DATA",
            "nextPageTimeInterval": 0,
        }}
    query = urlencode({
        "stackId": cursor.stack_id, "stateId": cursor.state_id, "rid": cursor.rid, "fullGridId": GRID_ID,
        "formOID": form, "token": cursor.token, "outputType": "GRID_DATA", "returnControlIDs": cursor.return_ids,
    }, quote_via=quote, safe="")  # a token's + / = must survive the trip
    link = {"rel": "next", "href": f"{href}?{query}"}
    if style == "context_string":
        link["context"] = "1"
    return link

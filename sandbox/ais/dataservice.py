"""The data service: BROWSE a table with conditions, answer a page, keep a cursor for the rest.

The first call takes a snapshot of every matching row; `/dataservice/next` pages through it
by the link's `rid`. A cursor belongs to the token that opened it, is forgotten after its
last page, and dies when left unused longer than the idle timeout (as its AIS session would).
Not thread-safe on its own: the service calls it under its lock.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from sandbox.ais.errors import AisError, timestamp
from sandbox.ais.ledger import parse_amount
from sandbox.ais.tables import TABLES, Table

GRID_ID = 58  # AIS's grid id of the data browser form
DEFAULT_PAGE_SIZE = 100


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


def _condition(table: Table, condition):
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
    contents = []
    for value in values:
        if not isinstance(value, dict) or value.get("specialValueId", "LITERAL") != "LITERAL":
            raise _bad(f"Only LITERAL condition values are supported ({control})")
        content = value.get("content")
        if alias in table.numeric and not operator.startswith("STR_"):
            content = parse_amount(content)
            if content is None:
                raise _bad(f"{control} is numeric: {value.get('content')!r} is not a number")
        elif not isinstance(content, str):
            content = "" if content is None else str(content)
        contents.append(content)
    numeric = alias in table.numeric and not operator.startswith("STR_")

    def matches(row) -> bool:
        value = row[alias]
        # JDE compares strings exactly (case and spaces count) and numbers as numbers.
        return test(Decimal(value) if numeric else str(value), contents)
    return matches


def _filter(table: Table, query) -> callable:
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
    tests = [_condition(table, condition) for condition in conditions]
    combine = all if match_type == "MATCH_ALL" else any
    return lambda row: not tests or combine(test(row) for test in tests)


class DataService:
    def __init__(self, rng: random.Random):
        self._rng = rng
        self._cursors: dict[str, Cursor] = {}
        self._next_stack = 1

    def browse(self, request: dict, tables: dict[str, list[dict]], *, token: str, now: float, idle: float,
               base_url: str) -> dict:
        self._forget_idle(now, idle)
        table = TABLES.get(request.get("targetName"))
        if table is None:
            raise _bad(f"Invalid targetName {request.get('targetName')!r}: not a table the server knows")
        if str(request.get("targetType", "table")).lower() != "table":
            raise _bad(f"targetType {request.get('targetType')!r} is not supported (only table)")
        if request.get("dataServiceType", "BROWSE") != "BROWSE":
            raise _bad(f"dataServiceType {request.get('dataServiceType')!r} is not supported (only BROWSE)")
        return_ids = request.get("returnControlIDs")
        columns = _columns(table, return_ids)
        page_size = _page_size(request.get("maxPageSize"))
        wanted = _filter(table, request.get("query"))
        snapshot = [{f"{table.name}_{alias}": row[alias] for alias in columns}
                    for row in tables[table.name] if wanted(row)]
        cursor = Cursor(rid="", token=token, table=table, columns=columns, rows=snapshot, position=0,
                        page_size=page_size or max(len(snapshot), 1),
                        return_ids=return_ids or "|".join(f"{table.name}.{alias}" for alias in columns),
                        stack_id=self._next_stack, state_id=1, last_used=now)
        self._next_stack += 1
        paging = request.get("enableNextPageProcessing") in (True, "true", "TRUE", "True")
        return self._page(cursor, base_url, keep=paging)

    def next_page(self, context: dict, *, token: str, now: float, idle: float, base_url: str) -> dict:
        self._forget_idle(now, idle)
        cursor = self._cursors.get(str(context.get("rid")))
        if cursor is None or cursor.token != token:
            raise _bad("Invalid or expired next page request: the rid is unknown")
        cursor.state_id += 1
        cursor.last_used = now
        return self._page(cursor, base_url, keep=True)

    def forget_all(self) -> None:
        self._cursors.clear()

    def _forget_idle(self, now: float, idle: float) -> None:
        for rid in [rid for rid, cursor in self._cursors.items() if now - cursor.last_used > idle]:
            del self._cursors[rid]

    def _page(self, cursor: Cursor, base_url: str, *, keep: bool) -> dict:
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
            "currentApp": form, "timeStamp": timestamp(), "sysErrors": [],
        }
        if more and keep:
            if not cursor.rid:
                cursor.rid = self._rng.randbytes(16).hex()
                self._cursors[cursor.rid] = cursor
            document["links"] = [{"rel": "next", "href": f"{base_url}/jderest/v2/dataservice/next", "context": {
                "stackId": cursor.stack_id, "stateId": cursor.state_id, "rid": cursor.rid, "formOID": form,
                "fullGridId": str(GRID_ID), "returnControlIDs": cursor.return_ids, "outputType": "GRID_DATA",
                "nextPageTimeInterval": 0,
            }}]
        elif cursor.rid:
            del self._cursors[cursor.rid]  # last page served: the rid is gone
        return document

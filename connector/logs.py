"""Log lines: one per event, one timestamp, what the event was about as key=value fields.

Every process (web, worker, beat, the CLI) logs through `configure()`:

    2026-11-29T11:07:14.240Z INFO tasks.posting: batch WC-850428 is in the JDE general ledger as document 100002 order=850428 task=post_order task_id=7689d924-…

`CONNECTOR_LOG_FORMAT=json` makes each line one JSON object instead (what log platforms ingest),
with the same fields as keys and a traceback as one string:

    {"time": "2026-11-29T11:07:14.240Z", "level": "INFO", "logger": "tasks.posting", "message": "…", "pid": 4711, "order": 850428, …}

The fields come from a context (contextvars, so each thread and task has its own): the Celery
task (set by tasks/celery.py's task_prerun / task_postrun handlers), the order and batch being
posted (set by the posting code with `context(order=…)`), and a record's own
`extra={"fields": {...}}`. Celery's own task lines (received, succeeded, failed) carry their task
in `record.data`, which is read too. In text, a field whose value the message already shows is
not repeated.
"""
from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
import time
from contextlib import contextmanager

FORMAT_VARIABLE = "CONNECTOR_LOG_FORMAT"
FORMATS = ("text", "json")

_context: contextvars.ContextVar[dict] = contextvars.ContextVar("connector_log_context", default={})


def log_format() -> str:
    """"json" or "text" (the default; anything unknown counts as text, so a typo never silences logs)."""
    value = os.environ.get(FORMAT_VARIABLE, "").strip().lower()
    return value if value in FORMATS else "text"


# -- the context -----------------------------------------------------------------------------
def bind(**fields) -> contextvars.Token:
    """Add fields to the current context (None values are left out); `unbind(token)` undoes it."""
    return _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})


def unbind(token: contextvars.Token) -> None:
    try:
        _context.reset(token)
    except ValueError:
        # Set in another context (a signal handler run elsewhere): start clean rather than fail.
        _context.set({})


@contextmanager
def context(**fields):
    """The fields on every line logged inside the block."""
    token = bind(**fields)
    try:
        yield
    finally:
        unbind(token)


def current() -> dict:
    return dict(_context.get())


# -- formatting -------------------------------------------------------------------------------
def _timestamp(created: float) -> str:
    # UTC with milliseconds: one unambiguous time per line, whatever the host's zone.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z"


def fields_of(record: logging.LogRecord) -> dict:
    """The record's fields: the context when it was logged, Celery's task data, its own extra."""
    found = dict(getattr(record, "context", None) or {})
    data = getattr(record, "data", None)
    if isinstance(data, dict) and data.get("id"):
        # Celery's "Task post_order[…] received / succeeded / raised" lines (celery.app.trace,
        # celery.worker.strategy), logged in the worker's main process outside any task context.
        found.setdefault("task", data.get("name"))
        found.setdefault("task_id", data.get("id"))
    extra = getattr(record, "fields", None)
    if isinstance(extra, dict):
        found.update(extra)
    return {k: v for k, v in found.items() if v is not None}


class _ContextFilter(logging.Filter):
    """Stamps the context on the record where it is logged (a handler may format it later)."""

    def filter(self, record):
        if not hasattr(record, "context"):
            record.context = _context.get()
        return True


def _text_value(value) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "=\n\t'):
        return json.dumps(text, ensure_ascii=False)
    return text


def _shows(message: str, value) -> bool:
    """Does the message already show this value as a word of its own (`WC-727`, not `WC-7270`)?"""
    return re.search(rf"(?<![\w-]){re.escape(str(value))}(?![\w-])", message) is not None


class TextFormatter(logging.Formatter):
    """`<time> <LEVEL> <logger>: <message> key=value …`, a traceback on the lines below."""

    def format(self, record):
        message = record.getMessage()
        line = f"{_timestamp(record.created)} {record.levelname} {record.name}: {message}"
        extra = " ".join(f"{k}={_text_value(v)}" for k, v in fields_of(record).items() if not _shows(message, v))
        if extra:
            line += " " + extra
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per record, a traceback included (as one string), never more than one line."""

    def format(self, record):
        document = {"time": _timestamp(record.created), "level": record.levelname, "logger": record.name,
                    "message": record.getMessage(), "pid": record.process}
        for key, value in fields_of(record).items():
            document.setdefault(key, value if isinstance(value, (int, float, bool)) else str(value))
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        # json.dumps escapes every newline: one object, one line.
        return json.dumps(document, ensure_ascii=False, default=str)


def formatter(fmt: str | None = None) -> logging.Formatter:
    return JsonFormatter() if (fmt or log_format()) == "json" else TextFormatter()


class _StandardStream(logging.StreamHandler):
    """A handler writing to sys.stdout / sys.stderr as they are at each line, not as they were when
    it was made (click's CliRunner and pytest replace them)."""

    def __init__(self, which: str):
        self._which = which   # not `_name`: logging.Handler's own attribute
        super().__init__()

    @property
    def stream(self):
        return getattr(sys, self._which)

    @stream.setter
    def stream(self, value):
        pass   # always the current one


_HANDLER_MARK = "_connector_logs"


def configure(level=logging.INFO, *, stream: str = "stderr", fmt: str | None = None) -> logging.Handler:
    """Send the root logger's lines to `stream` ("stdout" or "stderr") in CONNECTOR_LOG_FORMAT.

    Replaces the handler an earlier call installed (and, in a process's start-up, any other
    root handler), so calling it twice never doubles a line."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        # Ours from an earlier call, or a plain one (basicConfig's); a test's capturing handler stays.
        if getattr(handler, _HANDLER_MARK, False) or type(handler) is logging.StreamHandler:
            root.removeHandler(handler)
    handler = _StandardStream(stream)
    setattr(handler, _HANDLER_MARK, True)
    handler.setFormatter(formatter(fmt))
    handler.addFilter(_ContextFilter())
    root.addHandler(handler)
    root.setLevel(level)
    # Python's warnings become one log line each instead of their own multi-line text on stderr.
    logging.captureWarnings(True)
    return handler

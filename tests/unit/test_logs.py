"""connector/logs.py: one line per event, one timestamp, the context as fields; JSON on request."""
import json
import logging
import re
import threading
import warnings

import pytest

from connector import logs

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
log = logging.getLogger("tests.logs")


@pytest.fixture
def lines(capsys, monkeypatch):
    """configure(fmt) as a process does it; returns a function reading the lines written to stderr."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level

    def configure(fmt="text"):
        monkeypatch.setenv(logs.FORMAT_VARIABLE, fmt)
        logs.configure(logging.INFO)
        return lambda: capsys.readouterr().err.splitlines()

    yield configure
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    logging.captureWarnings(False)


def test_text_line_has_one_timestamp_and_the_context_as_fields(lines):
    read = lines("text")
    with logs.context(order=727, batch="WC-727", task_id="3e05b4d1-0d8a-458e-8c0d-b8144303f98b"):
        log.info("posting order %s", 727)
    [line] = read()
    assert TIMESTAMP.match(line) and len(TIMESTAMP.findall(line)) == 1, line
    # The order is in the message already: not repeated; the others are fields.
    assert line.endswith(" INFO tests.logs: posting order 727 batch=WC-727 task_id=3e05b4d1-0d8a-458e-8c0d-b8144303f98b")


@pytest.mark.parametrize("message, shown", [("batch WC-727 is posted", False), ("batch WC-7270 is posted", True),
                                            ("nothing about it", True)])
def test_text_field_is_left_out_only_when_the_message_shows_it(lines, message, shown):
    read = lines("text")
    with logs.context(batch="WC-727"):
        log.info(message)
    assert ("batch=WC-727" in read()[0]) is shown


def test_text_value_with_spaces_is_quoted(lines):
    read = lines("text")
    log.info("refused", extra={"fields": {"reason": 'JDE said "no" = final'}})
    assert read()[0].endswith(r'refused reason="JDE said \"no\" = final"')


def test_json_line_is_one_object_with_the_fields(lines):
    read = lines("json")
    with logs.context(order=727, batch="WC-727"):
        log.warning("two\nlines", extra={"fields": {"attempt": 3}})
    [line] = read()
    document = json.loads(line)
    assert document["level"] == "WARNING" and document["logger"] == "tests.logs"
    assert document["message"] == "two\nlines"
    assert document["order"] == 727 and document["attempt"] == 3 and document["batch"] == "WC-727"
    assert TIMESTAMP.fullmatch(document["time"]) and isinstance(document["pid"], int)


def test_json_exception_is_inside_the_one_object(lines):
    read = lines("json")
    try:
        {}["missing"]
    except KeyError:
        log.exception("failed")
    [line] = read()
    document = json.loads(line)
    assert document["message"] == "failed"
    assert document["exception"].startswith("Traceback (most recent call last):")
    assert document["exception"].rstrip().endswith("KeyError: 'missing'")


def test_text_exception_follows_its_line(lines):
    read = lines("text")
    try:
        raise ValueError("bad")
    except ValueError:
        log.exception("failed")
    out = read()
    assert out[0].endswith("ERROR tests.logs: failed") and out[1] == "Traceback (most recent call last):"
    assert out[-1] == "ValueError: bad" and len(TIMESTAMP.findall("\n".join(out))) == 1


def test_celery_task_data_becomes_task_fields(lines):
    """Celery's "Task … received / succeeded" records carry the task in `data`, not in the context."""
    read = lines("json")
    data = {"id": "af2e0ccc-5c33-4458-a7a7-eee9efeafdc7", "name": "process_delivery"}
    logging.getLogger("celery.app.trace").info("Task %(name)s[%(id)s] received", data, extra={"data": data})
    document = json.loads(read()[0])
    assert document["message"] == "Task process_delivery[af2e0ccc-5c33-4458-a7a7-eee9efeafdc7] received"
    assert document["task"] == "process_delivery" and document["task_id"] == data["id"]


def test_context_is_per_thread_and_ends_with_its_block(lines):
    read = lines("json")
    seen = {}

    def other():
        log.info("other thread")

    with logs.context(order=1):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        log.info("inside")
    log.info("after")
    for line in read():
        document = json.loads(line)
        seen[document["message"]] = document.get("order")
    assert seen == {"other thread": None, "inside": 1, "after": None}


def test_configure_twice_writes_each_line_once(lines):
    read = lines("text")
    logs.configure(logging.INFO)
    log.info("once")
    assert len(read()) == 1


def test_warning_is_one_json_line(lines):
    read = lines("json")
    warnings.warn("first line\nsecond line", UserWarning)
    [line] = read()
    document = json.loads(line)
    assert document["logger"] == "py.warnings" and "second line" in document["message"]


@pytest.mark.parametrize("value, expected", [("json", "json"), (" JSON ", "json"), ("text", "text"), ("", "text"),
                                             ("logfmt", "text")])
def test_log_format_reads_the_variable(monkeypatch, value, expected):
    monkeypatch.setenv(logs.FORMAT_VARIABLE, value)
    assert logs.log_format() == expected

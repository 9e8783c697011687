"""The sandbox JDE AIS server over real HTTP on loopback."""
import concurrent.futures
import http.client
import json
import os
import random
import select
import subprocess
import sys
import threading
import time
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests

from sandbox.ais import AisSandbox

DEVICE = "woo-connector"
JE = "/jderest/v3/orchestrator/ORCH_WOO_PostJournalEntry"
CUSTOMER = "/jderest/v3/orchestrator/ORCH_WOO_AddCustomer"
BROWSE = "/jderest/v2/dataservice"
NEXT = "/jderest/v2/dataservice/next"
GL_FAILED = "ORCH_WOO_PostJournalEntry failed: ServiceRequest FR_WOO_WriteF0911Z1 returned errors"
EXPIRED = "JAS_MSG347: The query results expired.  Refresh them by clicking Find again."
NOV_26_MS = int(datetime(2026, 11, 26, tzinfo=timezone.utc).timestamp()) * 1000


@pytest.fixture
def ais():
    sandbox = AisSandbox(seed=7).start()
    yield sandbox
    sandbox.stop()


def _token(ais, device=DEVICE):
    return _login(ais, device)["userInfo"]["token"]


def _login(ais, device=DEVICE):
    body = {"username": "JDE", "password": "JDE", "environment": "JDV920", "role": "*ALL"}
    if device is not None:
        body["deviceName"] = device
    response = requests.post(ais.url + "/jderest/v2/tokenrequest", json=body, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def auth(ais):
    return {"jde-AIS-Auth": _token(ais), "jde-AIS-Auth-Device": DEVICE}


def _lines(amounts=("29.35", "-24.35", "-5.00")):
    return [{"LineNumber": str(n), "AccountNumber": account, "Amount": amount, "Explanation": f"Order 727 line {n}"}
            for n, (account, amount) in enumerate(zip(["M30.1110.WEB", "M30.4010", "M30.4050"], amounts), 1)]


def _header(batch, omit=(), **changes):
    header = {"BatchNumber": batch, "Company": "00001", "DocumentType": "JE", "GLDate": "126330",
              "Currency": "USD", "Explanation": "WooCommerce order 727", "AddressNumber": "10001", **changes}
    return {key: value for key, value in header.items() if key not in omit}


def _pairs(values: dict) -> list:
    return [{"name": name, "value": value} for name, value in values.items()]


def _entry(batch="WC-727", amounts=("29.35", "-24.35", "-5.00"), *, lines=None, omit=(), **changes):
    """A journal entry in the JDE Standard input format: header inputs, every line a grid row."""
    rows = _lines(amounts) if lines is None else lines
    return {"inputs": _pairs(_header(batch, omit, **changes)),
            "detailInputs": [{"name": "GridData", "repeatingInputs": [{"inputs": _pairs(row)} for row in rows]}]}


def _generic(batch="WC-727", amounts=("29.35", "-24.35", "-5.00"), **changes):
    """The same entry in the generic input format: one flat object, the lines under Lines."""
    return {**_header(batch, **changes), "Lines": _lines(amounts)}


def _post(ais, path, body, headers, **kwargs):
    return requests.post(ais.url + path, json=body, headers=headers, timeout=kwargs.pop("timeout", 5), **kwargs)


def _config(ais, **knobs):
    response = requests.post(ais.url + "/sandbox/config", json=knobs, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def _condition(column, operator, *values, table="F0911"):
    return {"controlId": f"{table}.{column}", "operator": operator,
            "value": [{"content": value, "specialValueId": "LITERAL"} for value in values]}


def _browse_body(*conditions, table="F0911", columns=None, page=100, match="MATCH_ALL"):
    body = {"targetName": table, "targetType": "table", "dataServiceType": "BROWSE", "maxPageSize": str(page),
            "enableNextPageProcessing": True,
            "query": {"autoFind": True, "matchType": match, "condition": list(conditions)}}
    if columns:
        body["returnControlIDs"] = "|".join(f"{table}.{column}" for column in columns)
    return body


def _browse(ais, auth, *conditions, **options):
    return _post(ais, BROWSE, _browse_body(*conditions, **options), auth)


def _grid(response, table="F0911"):
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)[f"fs_DATABROWSE_{table}"]["data"]["gridData"]


def _next_link(response):
    links = [link for link in response.json().get("links", []) if link["rel"] == "next"]
    return links[0] if links else None


def _with_query(href, **changes):
    """`href` with query parameters replaced (None drops one)."""
    parts = urlsplit(href)
    query = {key: value[0] for key, value in parse_qs(parts.query).items()}
    query = {key: value for key, value in {**query, **changes}.items() if value is not None}
    return urlunsplit(parts._replace(query=urlencode(query)))


def _assert_error_body(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "ERROR" and body["exception"] and body["timeStamp"] and "message" in body
    assert "userDefinedErrorText" in body
    return body


def _assert_form_error(response, orchestration="ORCH_WOO_PostJournalEntry", request="FR_WOO_WriteF0911Z1",
                       form="fs_P0911Z1_W0911Z1A"):
    """Oracle's failed-orchestration answer: 500, the form's errors nested under the service
    request; answers the first error."""
    assert response.status_code == 500, response.text
    body = response.json()
    [error] = body["message"][f"ServiceRequest: {request}"]["JAS Response"][form]["errors"]
    assert set(error) == {"CODE", "TITLE", "DESC", "MOBILE"} and error["TITLE"].startswith("Error: ")
    assert "CAUSE" in error["DESC"] and "RESOLUTION" in error["DESC"] and error["MOBILE"]
    assert (body["exception"], body["userDefinedErrorText"], body["jde__status"]) == ("Exception", "", "ERROR")
    assert body["jde__simpleMessage"] == f"{orchestration} failed: ServiceRequest {request} returned errors"
    assert body["timeStamp"] and body["jde__startTimestamp"] and body["jde__endTimestamp"]
    assert body["jde__serverExecutionSeconds"] >= 0
    assert uuid.UUID(body["exceptionId"]).version == 4
    return error


def _insert(ais, count, **row):
    rows = [{"DOC": 200000 + n, "VINV": f"WC-{n}", "DCT": "JE", "AA": "1.10", "JELN": 1, **row} for n in range(count)]
    assert requests.post(ais.url + "/sandbox/f0911/insert", json={"rows": rows}, timeout=5).json() == \
        {"inserted": count}


def _eventually(check, seconds=5.0):
    """Poll `check` until it answers truthy or the deadline passes; answers its last value."""
    deadline, value = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.01)  # pacing between polls, not a wait for anything
    return value


# -- tokens -------------------------------------------------------------------------------


def test_tokenrequest_valid_credentials_answers_oracle_shape(ais):
    """A token request answers the Oracle shape with an opaque token under userInfo and no expiry."""
    response = requests.post(ais.url + "/jderest/v2/tokenrequest", timeout=5, json={
        "username": "JDE", "password": "JDE", "environment": "JDV920", "role": "*ALL", "deviceName": DEVICE})
    assert response.status_code == 200
    body = response.json()
    assert (body["username"], body["environment"], body["role"]) == ("JDE", "JDV920", "*ALL")
    assert body["userInfo"]["token"].startswith("044") and len(body["userInfo"]["token"]) > 60
    assert body["userInfo"]["addressNumber"] == 4242 and body["userAuthorized"] is False
    assert "expir" not in response.text.lower()
    assert ais.stats()["token_requests"] == 1


@pytest.mark.parametrize("pattern, separator, code", [
    (None, ".", "DME"), ("dd.MM.yyyy", ".", "DME"), ("MM/dd/yyyy", "/", "MDE"), ("yyyy-MM-dd", "-", "EMD"),
    ("dd/MM/yyyy", "/", "DME"), ("yyyy.dd.MM", ".", "EDM"),
], ids=["default", "dd.MM.yyyy", "MM/dd/yyyy", "yyyy-MM-dd", "dd/MM/yyyy", "yyyy.dd.MM"])
def test_tokenrequest_user_date_format_is_in_user_info(ais, pattern, separator, code):
    """userInfo carries the user's date format: the pattern, Oracle's dateSeperator, JDE's code."""
    if pattern:
        _config(ais, date_format=pattern)
    info = _login(ais)["userInfo"]
    assert (info["simpleDateFormat"], info["dateSeperator"], info["dateFormat"]) == \
        (pattern or "dd.MM.yyyy", separator, code)


@pytest.mark.parametrize("username, password", [("JDE", "wrong"), ("nobody", "JDE"), ("", "")])
def test_tokenrequest_wrong_credentials_answers_403(ais, username, password):
    """Wrong credentials answer 403 with the error body."""
    response = requests.post(ais.url + "/jderest/v2/tokenrequest", timeout=5,
                             json={"username": username, "password": password, "deviceName": DEVICE})
    _assert_error_body(response, 403)


@pytest.mark.parametrize("where", ["body", "header"])
def test_validate_live_token_is_valid_session(ais, where):
    """validate answers isValidSession for a live token given in the body or the header."""
    token = _token(ais)
    body, headers = ({"token": token}, {}) if where == "body" else ({}, {"jde-AIS-Auth": token})
    response = _post(ais, "/jderest/v2/tokenrequest/validate", body, headers)
    assert response.status_code == 200 and response.json() == {"isValidSession": True}


def test_validate_unknown_token_answers_444(ais):
    """validate of a token the server never issued answers 444."""
    _assert_error_body(_post(ais, "/jderest/v2/tokenrequest/validate", {"token": "044nope"}, {}), 444)


def test_logout_token_is_invalid_afterwards(ais, auth):
    """After logout the token answers 444 everywhere."""
    token = auth["jde-AIS-Auth"]
    response = _post(ais, "/jderest/v2/tokenrequest/logout", {"token": token}, {})
    assert response.status_code == 200 and response.json() == {"status": "Success"}
    _assert_error_body(_post(ais, "/jderest/v2/tokenrequest/validate", {"token": token}, {}), 444)
    _assert_error_body(_post(ais, JE, _entry(), auth), 444)
    assert ais.f0911_rows() == [] and ais.stats()["logouts"] == 1


@pytest.mark.parametrize("headers, body_extra", [
    ({"jde-AIS-Auth": "044unknown", "jde-AIS-Auth-Device": DEVICE}, {}),
    ({}, {}),
    ({"jde-AIS-Auth-Device": "another-device"}, "token"),
    ({}, "token"),
], ids=["unknown-token", "no-token", "other-device", "no-device"])
def test_orchestrator_bad_token_answers_444(ais, headers, body_extra):
    """An unknown token, no token, or a token used without the device it was issued to: 444."""
    token = _token(ais)
    body = _entry()
    if body_extra == "token":
        body["token"] = token
    body_444 = _assert_error_body(_post(ais, JE, body, headers), 444)
    assert "token" in body_444["message"].lower()
    assert ais.f0911_rows() == [] and ais.stats()["invalid_token_responses"] == 1


@pytest.mark.parametrize("builder", [_entry, _generic], ids=["standard", "generic"])
def test_orchestrator_token_in_body_with_device_in_body_is_accepted(ais, builder):
    """The token and deviceName may travel in the body instead of the headers, in either format."""
    body = {**builder(amounts=("0", "0", "0")), "token": _token(ais), "deviceName": DEVICE}
    response = _post(ais, JE, body, {})
    assert response.status_code == 200, response.text


def test_token_without_device_is_bound_to_caller_address(ais):
    """A token issued without deviceName works from the same address without a device header."""
    response = _post(ais, JE, _entry(), {"jde-AIS-Auth": _token(ais, device=None)})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("knob", ["token_ttl", "idle_timeout"])
def test_token_past_ttl_or_idle_answers_444(ais, auth, knob):
    """A token older than token_ttl, or unused longer than idle_timeout, answers 444."""
    assert _post(ais, JE, _entry("WC-1"), auth).status_code == 200
    _config(ais, **{knob: 0.01})
    # Poll with validate (touch false): it never refreshes the idle clock the way a call does.
    check = {"token": auth["jde-AIS-Auth"], "deviceName": DEVICE, "touch": False}
    assert _eventually(lambda: _post(ais, "/jderest/v2/tokenrequest/validate", check, {}).status_code == 444)
    _assert_error_body(_post(ais, BROWSE, {"targetName": "F0911", "targetType": "table"}, auth), 444)
    stats = ais.stats()
    assert stats["invalid_token_responses"] == 2 and stats["invalid_token_by_device"] == {DEVICE: 2}


def test_expire_tokens_every_token_answers_444(ais, auth):
    """After /sandbox/expire-tokens every current token answers 444; a new one works."""
    other = {"jde-AIS-Auth": _token(ais, "other"), "jde-AIS-Auth-Device": "other"}
    assert requests.post(ais.url + "/sandbox/expire-tokens", timeout=5).status_code == 200
    _assert_error_body(_post(ais, JE, _entry(), auth), 444)
    _assert_error_body(_post(ais, JE, _entry(), other), 444)
    assert ais.stats()["invalid_token_by_device"] == {DEVICE: 1, "other": 1}
    fresh = {"jde-AIS-Auth": _token(ais), "jde-AIS-Auth-Device": DEVICE}
    assert _post(ais, JE, _entry(), fresh).status_code == 200


def test_tokenrequest_ignores_fault_knobs(ais):
    """Fault knobs never touch tokenrequest, validate or logout."""
    ais.configure(error_rate=1, drop_rate=1, timeout_rate=1, invalid_token_403_rate=1)
    token = _token(ais)
    assert _post(ais, "/jderest/v2/tokenrequest/validate", {"token": token}, {}).status_code == 200
    assert _post(ais, "/jderest/v2/tokenrequest/logout", {"token": token}, {}).status_code == 200


def test_invalid_token_403_rate_one_answers_token_is_invalid(ais, auth):
    """invalid_token_403_rate=1: an invalid token on orchestrator, data service and /next answers
    403 "Token is Invalid" in Oracle's shape; validate still answers 444."""
    _insert(ais, 3)
    link = _next_link(_browse(ais, auth, page=1))
    ais.configure(invalid_token_403_rate=1)
    bad = {"jde-AIS-Auth": "044unknown", "jde-AIS-Auth-Device": DEVICE}
    for response in (_post(ais, JE, _entry(), bad), _post(ais, CUSTOMER, {"AlphaName": "Ada"}, bad),
                     _post(ais, BROWSE, _browse_body(), bad),
                     requests.post(_with_query(link["href"], token="044unknown"), json={}, timeout=5)):
        assert response.status_code == 403, response.text
        body = response.json()
        assert set(body) == {"message", "exception", "timeStamp"} and body["timeStamp"]
        assert (body["message"], body["exception"]) == ("Token is Invalid", "java.lang.Exception")
    _assert_error_body(_post(ais, "/jderest/v2/tokenrequest/validate", {"token": "044unknown"}, {}), 444)
    stats = ais.stats()
    assert stats["faults"]["token_403"] == 4 and stats["invalid_token_responses"] == 5
    assert len(ais.f0911_rows()) == 3 and ais.f0101_rows() == []


def test_invalid_token_403_rate_half_mixes_403_and_444(ais):
    """At 0.5 some invalid-token answers are 403 and some 444, the same ones for the same seed."""
    bad = {"jde-AIS-Auth": "044unknown", "jde-AIS-Auth-Device": DEVICE}
    ais.configure(invalid_token_403_rate=0.5)
    first = [_post(ais, JE, _entry(), bad).status_code for _ in range(20)]
    ais.reset()
    ais.configure(invalid_token_403_rate=0.5)
    assert [_post(ais, JE, _entry(), bad).status_code for _ in range(20)] == first
    assert set(first) == {403, 444}


# -- journal entries ------------------------------------------------------------------------


def test_post_journal_entry_success_writes_balanced_f0911_lines(ais, auth):
    """A balanced entry answers its document number and writes one F0911 line per input line."""
    response = _post(ais, JE, _entry(), auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["DocumentNumber"] == 100001 and body["BatchNumber"] == "WC-727"
    assert body["jde__status"] == "SUCCESS" and "jde__serverExecutionSeconds" in body
    assert body["jde__startTimestamp"] and body["jde__endTimestamp"]
    rows = ais.f0911_rows()
    assert [row["JELN"] for row in rows] == [1, 2, 3]
    assert {row["DOC"] for row in rows} == {100001} and {row["VINV"] for row in rows} == {"WC-727"}
    assert sum(row["AA"] for row in rows) == 0
    assert [row["AA"] for row in rows] == [Decimal("29.35"), Decimal("-24.35"), Decimal("-5.00")]
    first = rows[0]
    assert (first["KCO"], first["DCT"], first["DGJ"], first["CRCD"], first["AN8"], first["LT"]) == \
        ("00001", "JE", "126330", "USD", 10001, "AA")
    assert (first["ANI"], first["MCU"], first["OBJ"], first["SUB"]) == ("M30.1110.WEB", "M30", "1110", "WEB")
    assert rows[1]["SUB"] == "" and first["EXA"] == "Order 727 line 1"
    assert _post(ais, JE, _entry("WC-728"), auth).json()["DocumentNumber"] == 100002
    assert ais.stats()["journal_entries"] == 2 and ais.stats()["f0911_lines"] == 6


def test_post_journal_entry_long_explanation_is_truncated_to_30(ais, auth):
    """EXA keeps 30 characters, as the JDE column does."""
    lines = _lines()
    lines[0]["Explanation"] = "x" * 45
    assert _post(ais, JE, _entry(lines=lines), auth).status_code == 200
    assert ais.f0911_rows()[0]["EXA"] == "x" * 30


def test_orchestration_standard_format_posts_all_rows(ais, auth):
    """JDE Standard format: header inputs and every GridData row; unknown inputs and other
    grids are ignored, as JDE ignores what no step maps."""
    rows = [{"LineNumber": "1", "AccountNumber": "M30.1110.BANK", "Amount": "29.35", "Explanation": "payment"},
            {"LineNumber": "2", "AccountNumber": "M30.4010", "Amount": "-18.00", "Explanation": "sales"},
            {"LineNumber": "3", "AccountNumber": "M30.4050", "Amount": "-10.00", "Explanation": "shipping"},
            {"LineNumber": "4", "AccountNumber": "M30.2310", "Amount": "-1.35", "Explanation": "sales tax"}]
    body = _entry(lines=rows)
    body["inputs"].append({"name": "Unmapped", "value": "ignored"})
    body["detailInputs"].append({"name": "OtherGrid", "repeatingInputs": [{"inputs": _pairs(rows[0])}]})
    response = _post(ais, JE, body, auth)
    assert response.status_code == 200, response.text
    assert [(row["JELN"], row["OBJ"], row["AA"], row["EXA"]) for row in ais.f0911_rows()] == [
        (1, "1110", Decimal("29.35"), "payment"), (2, "4010", Decimal("-18.00"), "sales"),
        (3, "4050", Decimal("-10.00"), "shipping"), (4, "2310", Decimal("-1.35"), "sales tax")]


def test_orchestration_generic_format_takes_one_grid_row(ais, auth):
    """Generic format adds a single grid row (Oracle): a 3-line entry arrives as its first line,
    unbalanced, and is refused; the same entry in the standard format posts."""
    error = _assert_form_error(_post(ais, JE, _generic(), auth))
    assert error["TITLE"] == "Error: Batch Out of Balance" and "29.35" in error["DESC"]
    assert ais.f0911_rows() == [] and ais.stats()["journal_entries"] == 0
    assert _post(ais, JE, _entry(), auth).status_code == 200
    assert len(ais.f0911_rows()) == 3


def test_orchestration_generic_format_single_row_is_the_first_line(ais, auth):
    """Only Lines[0] is read: a generic entry whose first line is zero posts that one line."""
    response = _post(ais, JE, _generic(amounts=("0.00", "-24.35", "-5.00")), auth)
    assert response.status_code == 200, response.text
    assert [(row["JELN"], row["AA"]) for row in ais.f0911_rows()] == [(1, Decimal("0.00"))]


def _bad_line(**changes):
    return [{**_lines()[0], **changes}] + _lines()[1:]


@pytest.mark.parametrize("entry, title, words", [
    (_entry(amounts=("29.35", "-24.35", "-5.01")), "Batch Out of Balance", ["-0.01"]),
    (_entry(amounts=("29.35", "-24.35", "five")), "Invalid Amount", ["five"]),
    (_entry(Currency=""), "Required Field Missing", ["Currency"]),
    (_entry(omit=("BatchNumber",)), "Required Field Missing", ["BatchNumber"]),
    (_entry(lines=[]), "No Detail Lines", ["no journal entry lines"]),
    ({"inputs": _pairs(_header("WC-727"))}, "No Detail Lines", ["no journal entry lines"]),
    (_entry(GLDate="126367"), "Invalid Date", ["126367"]),
    (_entry(GLDate="2026-11-26"), "Invalid Date", ["2026-11-26"]),
    (_entry(lines=_bad_line(AccountNumber="")), "Invalid Account Number", ["missing"]),
    (_entry(lines=_bad_line(AccountNumber="M30")), "Invalid Account Number", ["'M30'"]),
    (_entry(lines=_bad_line(AccountNumber="M30.1234567")), "Invalid Account Number", ["M30.1234567"]),
    (_entry(lines=_bad_line(AccountNumber="M30.9999")), "Invalid Account Number", ["M30.9999", "chart"]),
    (_entry(lines=_bad_line(AccountNumber="M30.9100.WEB")), "Invalid Account Number", ["M30.9100.WEB"]),
    (_entry(lines=_bad_line(LineNumber="0")), "Invalid Line Number", ["'0'"]),
    (_entry(AddressNumber="abc"), "Invalid Address Number", ["abc"]),
], ids=["unbalanced", "not-decimal", "empty-input", "missing-input", "no-lines", "no-grid", "day-367", "iso-date",
        "empty-account", "account-no-object", "account-object-too-long", "account-not-in-chart",
        "account-9-with-sub", "line-zero", "address-not-number"])
def test_post_journal_entry_invalid_answers_500_and_writes_nothing(ais, auth, entry, title, words):
    """Invalid input answers Oracle's 500 with the form's JDE-worded error and commits nothing."""
    error = _assert_form_error(_post(ais, JE, entry, auth))
    assert error["TITLE"] == f"Error: {title}"
    for word in words:
        assert word.lower() in (error["DESC"] + error["MOBILE"]).lower()
    assert ais.f0911_rows() == []
    assert _post(ais, JE, _entry("WC-ok"), auth).json()["DocumentNumber"] == 100001  # no number used up


def test_post_journal_entry_errors_have_distinct_exception_ids(ais, auth):
    """Each failure carries its own exceptionId (a uuid4)."""
    ids = {_post(ais, JE, _entry(Currency=""), auth).json()["exceptionId"] for _ in range(3)}
    assert len(ids) == 3 and all(uuid.UUID(value).version == 4 for value in ids)


def test_post_journal_entry_duplicate_batch_answers_500_and_writes_nothing(ais, auth):
    """A repeated BatchNumber fails in the same 500 shape with JDE's duplicate-key text; nothing
    new is written and no document number is used up."""
    assert _post(ais, JE, _entry("WC-727"), auth).status_code == 200
    error = _assert_form_error(_post(ais, JE, _entry("WC-727"), auth))
    assert error["TITLE"] == "Error: Duplicate Key" and "F0911Z1" in error["DESC"]
    assert len(ais.f0911_rows()) == 3 and {row["DOC"] for row in ais.f0911_rows()} == {100001}
    assert _post(ais, JE, _entry("WC-728"), auth).json()["DocumentNumber"] == 100002


def test_post_journal_entry_numeric_amounts_stay_exact(ais, auth):
    """Amounts sent as JSON numbers are kept as exact decimals."""
    response = requests.post(ais.url + JE, headers={**auth, "Content-Type": "application/json"}, timeout=5,
                             data=json.dumps(_entry()).replace('"29.35"', "29.35"))
    assert response.status_code == 200, response.text
    assert ais.f0911_rows()[0]["AA"] == Decimal("29.35")


@pytest.mark.parametrize("gl_date_input, date_format, value", [
    ("julian", "dd.MM.yyyy", "126330"),
    ("julian", "dd.MM.yyyy", 126330),
    ("user", "dd.MM.yyyy", "26.11.2026"),
    ("user", "MM/dd/yyyy", "11/26/2026"),
    ("user", "yyyy-MM-dd", "2026-11-26"),
    ("user", "dd/MM/yyyy", "26/11/2026"),
    ("epoch_ms", "dd.MM.yyyy", str(NOV_26_MS)),
    ("epoch_ms", "dd.MM.yyyy", NOV_26_MS),
], ids=["julian", "julian-number", "user-dd.MM.yyyy", "user-MM/dd/yyyy", "user-yyyy-MM-dd", "user-dd/MM/yyyy",
        "epoch-string", "epoch-number"])
def test_gl_date_input_configured_form_is_accepted(ais, auth, gl_date_input, date_format, value):
    """GLDate is read in the configured form; F0911.DGJ is stored Julian whatever the input."""
    _config(ais, gl_date_input=gl_date_input, date_format=date_format)
    response = _post(ais, JE, _entry(GLDate=value), auth)
    assert response.status_code == 200, response.text
    assert {row["DGJ"] for row in ais.f0911_rows()} == {"126330"}
    assert {row["DGJ"] for row in requests.get(ais.url + "/sandbox/tables/F0911", timeout=5).json()["rows"]} \
        == {"126330"}


@pytest.mark.parametrize("gl_date_input, value", [
    ("julian", "26.11.2026"),
    ("julian", "2026-11-26"),
    ("user", "126330"),
    ("user", "2026-11-26"),
    ("user", "11/26/2026"),
    ("user", "26.11.26"),
    ("user", "31.02.2026"),
    ("epoch_ms", "126330"),
    ("epoch_ms", str(NOV_26_MS + 3_600_000)),
    ("epoch_ms", "26.11.2026"),
], ids=["julian-got-user", "julian-got-iso", "user-got-julian", "user-got-iso", "user-got-us", "user-2-digit-year",
        "user-no-such-day", "epoch-got-julian", "epoch-not-midnight", "epoch-got-user"])
def test_gl_date_input_mismatched_form_answers_500_invalid_date(ais, auth, gl_date_input, value):
    """A GLDate not in the configured form (user format dd.MM.yyyy) is the orchestration's
    Invalid Date error, and nothing is written."""
    _config(ais, gl_date_input=gl_date_input)
    error = _assert_form_error(_post(ais, JE, _entry(GLDate=value), auth))
    assert (error["CODE"], error["TITLE"]) == ("0004", "Error: Invalid Date") and value in error["DESC"]
    assert ais.f0911_rows() == []


def test_warning_rate_one_writes_lines_and_answers_warning(ais, auth):
    """warning_rate=1: the lines are written, yet the answer is 200 WARNING with the failed
    report step under continuedOnError and no DocumentNumber or BatchNumber."""
    ais.configure(warning_rate=1)
    response = _post(ais, JE, _entry(), auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["jde__status"] == "WARNING" and body["jde__simpleMessage"]
    assert "DocumentNumber" not in body and "BatchNumber" not in body
    assert isinstance(body["Errors/Warnings"], list)
    assert all(not item["Errors"] for item in body["Errors/Warnings"])
    assert body["continuedOnError"] and body["continuedOnError"][0]["step"] == "R09110Z"
    assert body["jde__startTimestamp"] and body["jde__endTimestamp"] and body["jde__serverExecutionSeconds"] >= 0
    rows = ais.f0911_rows()
    assert [row["VINV"] for row in rows] == ["WC-727"] * 3 and {row["DOC"] for row in rows} == {100001}
    assert ais.stats()["faults"]["warning"] == 1
    customer = _post(ais, CUSTOMER, {"AlphaName": "Ada"}, auth).json()  # GL orchestrations only
    assert customer["jde__status"] == "SUCCESS" and customer["AddressNumber"] == 10001


def test_warning_rate_invalid_entry_still_fails(ais, auth):
    """A warning never hides a failure: an invalid entry at warning_rate=1 is still the 500."""
    ais.configure(warning_rate=1)
    _assert_form_error(_post(ais, JE, _entry(Currency=""), auth))
    assert ais.f0911_rows() == [] and ais.stats()["faults"]["warning"] == 0


# -- customers --------------------------------------------------------------------------------


@pytest.mark.parametrize("standard", [False, True], ids=["generic", "standard"])
def test_add_customer_writes_f0101_and_f01151(ais, auth, standard):
    """AddCustomer creates the address book row and, with an email, its F01151 row."""
    inputs = {"AlphaName": "Lovelace, Ada " + "x" * 40, "SearchType": "C", "Email": "ada@example.com",
              "Phone": "555-0100", "AddressLine1": "1 Analytical Way", "AddressLine2": "", "City": "London",
              "State": "", "PostalCode": "N1", "Country": "GB", "TaxId": "GB123"}
    response = _post(ais, CUSTOMER, {"inputs": _pairs(inputs)} if standard else inputs, auth)
    assert response.status_code == 200, response.text
    assert response.json()["AddressNumber"] == 10001 and response.json()["jde__status"] == "SUCCESS"
    [customer] = ais.f0101_rows()
    assert customer["AN8"] == 10001 and len(customer["ALPH"]) == 40 and customer["ALPH"].startswith("Lovelace")
    assert (customer["AT1"], customer["TAX"]) == ("C", "GB123")
    assert ais.f01151_rows() == [{"AN8": 10001, "IDLN": 0, "RCK7": 1, "ETP": "E", "EMAL": "ada@example.com"}]
    second = _post(ais, CUSTOMER, {"AlphaName": "No Mail", "SearchType": "C"}, auth).json()
    assert second["AddressNumber"] == 10002 and len(ais.f01151_rows()) == 1
    assert ais.stats()["customers"] == 2


def test_add_customer_missing_name_answers_500(ais, auth):
    """AddCustomer without AlphaName answers Oracle's 500 under its own request and form."""
    error = _assert_form_error(_post(ais, CUSTOMER, {"Email": "x@example.com"}, auth),
                               orchestration="ORCH_WOO_AddCustomer", request="FR_WOO_AddAddressBook",
                               form="fs_P01012_W01012A")
    assert "AlphaName" in error["DESC"] and ais.f0101_rows() == []


def test_orchestrator_unknown_name_answers_500(ais, auth):
    """An orchestration the server does not have answers 500 "Orchestration … was not found"."""
    response = _post(ais, "/jderest/v3/orchestrator/ORCH_Nope", {}, auth)
    assert response.status_code == 500, response.text
    body = response.json()
    assert set(body) == {"message", "exception", "timeStamp"} and body["timeStamp"]
    assert (body["message"], body["exception"]) == ("Orchestration ORCH_Nope was not found", "Exception")
    assert ais.stats()["orchestrations"] == {}


# -- data service -------------------------------------------------------------------------------


def test_dataservice_equal_on_vinv_and_dct_finds_the_batch(ais, auth):
    """BROWSE F0911 where VINV = batch and DCT = JE answers exactly that batch's lines."""
    for batch in ("WC-727", "WC-728"):
        assert _post(ais, JE, _entry(batch), auth).status_code == 200
    grid = _grid(_browse(ais, auth, _condition("VINV", "EQUAL", "WC-728"), _condition("DCT", "EQUAL", "JE")))
    assert [row["F0911_VINV"] for row in grid["rowset"]] == ["WC-728"] * 3
    assert {row["F0911_DOC"] for row in grid["rowset"]} == {100002}
    assert grid["summary"] == {"records": 3, "moreRecords": False}
    assert _grid(_browse(ais, auth, _condition("VINV", "EQUAL", "wc-728")))["rowset"] == []


def test_dataservice_answers_oracle_shape(ais, auth):
    """The answer carries title, grid ids, column descriptions, the stack/state/rid at top level,
    and no next link on the last page."""
    _post(ais, JE, _entry(), auth)
    body = _browse(ais, auth, _condition("VINV", "EQUAL", "WC-727"), columns=["DOC", "AA"]).json()
    form = body["fs_DATABROWSE_F0911"]
    assert form["title"] == "Data Browser - F0911 [Account Ledger]"
    assert form["data"]["gridData"]["columns"] == {"F0911_DOC": "Document Number", "F0911_AA": "Amount"}
    assert (form["data"]["gridData"]["id"], form["data"]["gridData"]["fullGridId"]) == (58, "58")
    assert body["currentApp"] == "DATABROWSE_F0911" and body["sysErrors"] == [] and "links" not in body
    assert isinstance(body["stackId"], int) and body["stateId"] == 1 and body["rid"] and body["timeStamp"]


def test_dataservice_amounts_are_exact_decimals(ais, auth):
    """AA comes back as JSON numbers with the exact digits posted, never a float artefact."""
    _post(ais, JE, _entry(amounts=("0.30", "-0.10", "-0.20")), auth)
    response = _browse(ais, auth, _condition("VINV", "EQUAL", "WC-727"), columns=["AA"])
    assert [row["F0911_AA"] for row in _grid(response)["rowset"]] == \
        [Decimal("0.30"), Decimal("-0.10"), Decimal("-0.20")]
    assert '"F0911_AA":0.30' in response.text  # a number, not a string


def test_dataservice_date_column_is_yyyymmdd(ais, auth):
    """DGJ is answered as a yyyyMMdd string, never Julian, whatever the user's date format;
    the sandbox's own table view keeps JDE's Julian."""
    _post(ais, JE, _entry(), auth)
    for pattern in ("dd.MM.yyyy", "MM/dd/yyyy"):
        _config(ais, date_format=pattern)
        grid = _grid(_browse(ais, auth, columns=["DOC", "DGJ"]))
        assert [row["F0911_DGJ"] for row in grid["rowset"]] == ["20261126"] * 3
        assert grid["columns"]["F0911_DGJ"] == "G/L Date"
    assert _grid(_browse(ais, auth))["rowset"][0]["F0911_DGJ"] == "20261126"
    assert requests.get(ais.url + "/sandbox/tables/F0911", timeout=5).json()["rows"][0]["DGJ"] == "126330"


def _user_date(pattern: str, day: date) -> str:
    return day.strftime(pattern.replace("dd", "%d").replace("MM", "%m").replace("yyyy", "%Y"))


@pytest.mark.parametrize("pattern", ["dd.MM.yyyy", "yyyy-MM-dd", "MM/dd/yyyy", "dd/MM/yyyy"])
@pytest.mark.parametrize("operator, days, batches", [
    ("EQUAL", [26], ["WC-26"]),
    ("NOT_EQUAL", [26], ["WC-25", "WC-27", "WC-1201"]),
    ("BETWEEN", [26, 27], ["WC-26", "WC-27"]),
    ("GREATER", [26], ["WC-27", "WC-1201"]),
    ("GREATER_EQUAL", [27], ["WC-27", "WC-1201"]),
    ("LESS", [26], ["WC-25"]),
    ("LESS_EQUAL", [26], ["WC-25", "WC-26"]),
    ("LIST", [25, 27], ["WC-25", "WC-27"]),
])
def test_dataservice_date_condition_in_user_format_selects_by_day(ais, auth, pattern, operator, days, batches):
    """Date conditions take the user's date format and compare days, across a month end."""
    for batch, julian in [("WC-25", "126329"), ("WC-26", "126330"), ("WC-27", "126331"), ("WC-1201", "126335")]:
        assert _post(ais, JE, _entry(batch, GLDate=julian), auth).status_code == 200
    _config(ais, date_format=pattern)
    values = [_user_date(pattern, date(2026, 11, day)) for day in days]
    grid = _grid(_browse(ais, auth, _condition("DGJ", operator, *values), columns=["VINV", "JELN"]))
    assert sorted({row["F0911_VINV"] for row in grid["rowset"]}) == sorted(batches)


@pytest.mark.parametrize("content", ["126330", "2026-11-26", "11/26/2026", "26.11.26", "26-11-2026", "32.11.2026",
                                     "garbage", "", 126330], ids=repr)
def test_dataservice_date_condition_other_format_answers_400(ais, auth, content):
    """A date literal not in the user's format (dd.MM.yyyy) answers 400 naming column, value and
    the expected pattern."""
    body = _assert_error_body(_browse(ais, auth, _condition("DGJ", "EQUAL", content)), 400)
    assert "F0911.DGJ" in body["message"] and repr(content) in body["message"] and "dd.MM.yyyy" in body["message"]


def test_dataservice_date_condition_fixture_request_in_us_format(ais, auth):
    """Oracle's documented request (outputType, aliasNaming, a DGJ range in MM/dd/yyyy) runs
    when the user's format is MM/dd/yyyy."""
    _post(ais, JE, _entry(), auth)
    _config(ais, date_format="MM/dd/yyyy")
    body = {"targetName": "F0911", "targetType": "table", "dataServiceType": "BROWSE", "outputType": "GRID_DATA",
            "aliasNaming": True, "returnControlIDs": "F0911.DOC|F0911.DCT|F0911.VINV|F0911.AA|F0911.DGJ",
            "maxPageSize": "100", "enableNextPageProcessing": True,
            "query": {"autoFind": True, "matchType": "MATCH_ALL", "condition": [
                _condition("DGJ", "BETWEEN", "11/01/2026", "11/30/2026"), _condition("DCT", "EQUAL", "JE")]}}
    rows = _grid(_post(ais, BROWSE, body, auth))["rowset"]
    assert [row["F0911_DGJ"] for row in rows] == ["20261126"] * 3 and rows[0]["F0911_AA"] == Decimal("29.35")


def test_dataservice_return_control_ids_filters_columns(ais, auth):
    """Only the requested returnControlIDs appear in a row; none requested gives all columns."""
    _post(ais, JE, _entry(), auth)
    grid = _grid(_browse(ais, auth, columns=["DOC", "VINV"]))
    assert all(set(row) == {"F0911_DOC", "F0911_VINV"} for row in grid["rowset"])
    everything = _grid(_browse(ais, auth))["rowset"][0]
    assert {"F0911_KCO", "F0911_ANI", "F0911_AA", "F0911_ICU", "F0911_LT", "F0911_DGJ"} <= set(everything)


def _follow(ais, link, auth, style, token_from):
    """POST a next link the way a client following `style` does."""
    if style == "context_object":
        assert "?" not in link["href"]
        return requests.post(link["href"], json=link["context"], headers=auth, timeout=5)
    href, headers, body = link["href"], {}, {}
    if token_from != "query":  # take the token out of the href; send it another way
        href = _with_query(href, token=None)
        if token_from == "header":
            headers = auth
        else:
            body = {"token": auth["jde-AIS-Auth"], "deviceName": DEVICE}
    return requests.post(href, json=body, headers=headers, timeout=5)


@pytest.mark.parametrize("style, token_from", [
    ("oracle", "query"), ("oracle", "header"), ("oracle", "body"), ("context_string", "query"),
    ("context_string", "header"), ("context_object", "header"),
])
def test_next_link_style_walks_all_rows_once(ais, auth, style, token_from):
    """250 rows at maxPageSize 100 come in 3 pages by POSTing links[rel=next].href as given,
    each row once, in every link style."""
    _insert(ais, 250)
    ais.configure(next_link_style=style)
    response = _browse(ais, auth, _condition("DCT", "EQUAL", "JE"), columns=["DOC", "AA"], page=100)
    pages, docs, states = [], [], []
    while True:
        grid = _grid(response)
        pages.append(grid["summary"])
        docs += [row["F0911_DOC"] for row in grid["rowset"]]
        states.append(response.json()["stateId"])
        link = _next_link(response)
        if link is None:
            break
        assert link["href"].startswith(ais.url + NEXT)
        if style == "context_object":
            assert link["context"]["rid"] == response.json()["rid"]
        else:
            query = parse_qs(urlsplit(link["href"]).query)
            assert {key: value[0] for key, value in query.items()} == {
                "stackId": str(response.json()["stackId"]), "stateId": str(response.json()["stateId"]),
                "rid": response.json()["rid"], "fullGridId": "58", "formOID": "DATABROWSE_F0911",
                "token": auth["jde-AIS-Auth"], "outputType": "GRID_DATA", "returnControlIDs": "F0911.DOC|F0911.AA"}
            assert ("context" in link) == (style == "context_string") and link.get("context", "1") == "1"
        response = _follow(ais, link, auth, style, token_from)
    assert pages == [{"records": 100, "moreRecords": True}, {"records": 100, "moreRecords": True},
                     {"records": 50, "moreRecords": False}]
    assert docs == [200000 + n for n in range(250)] and states == [1, 2, 3]


def test_next_link_oracle_bare_post_without_body_works(ais, auth):
    """The oracle link is complete: a POST with no body and no headers at all gets the page."""
    _insert(ais, 3)
    link = _next_link(_browse(ais, auth, page=2))
    response = requests.post(link["href"], timeout=5)
    assert "Content-Type" not in response.request.headers
    assert [row["F0911_DOC"] for row in _grid(response)["rowset"]] == [200002]


def test_dataservice_next_after_last_page_answers_400(ais, auth):
    """Once the last page is served the rid is forgotten; an unknown rid answers 400."""
    _post(ais, JE, _entry(), auth)
    ais.configure(next_link_style="context_object")
    first = _browse(ais, auth, page=2).json()
    context = first["links"][0]["context"]
    assert _post(ais, NEXT, context, auth).status_code == 200
    _assert_error_body(_post(ais, NEXT, context, auth), 400)
    _assert_error_body(_post(ais, NEXT, {**context, "rid": "nope"}, auth), 400)


@pytest.mark.parametrize("style", ["oracle", "context_object"])
def test_dataservice_next_with_another_token_answers_400(ais, auth, style):
    """A cursor belongs to the session that opened it."""
    _post(ais, JE, _entry(), auth)
    ais.configure(next_link_style=style)
    link = _next_link(_browse(ais, auth, page=1))
    other = {"jde-AIS-Auth": _token(ais), "jde-AIS-Auth-Device": DEVICE}
    body = link.get("context") if style == "context_object" else {}
    _assert_error_body(requests.post(link["href"], json=body, headers=other, timeout=5), 400)


def _assert_expired(response):
    assert response.status_code == 500, response.text
    assert response.json() == {"sysErrors": [{"TITLE": EXPIRED, "DESC": EXPIRED}]}


def test_result_set_ttl_unused_cursor_answers_500_expired(ais, auth):
    """A cursor unused longer than result_set_ttl has expired: /next answers 500 JAS_MSG347 and
    the cursor is gone; a fresh browse pages again."""
    _insert(ais, 3)
    link = _next_link(_browse(ais, auth, page=1))
    ais.configure(result_set_ttl=0)  # any time since the page is now too long
    _assert_expired(requests.post(link["href"], json={}, timeout=5))
    _assert_error_body(requests.post(link["href"], json={}, timeout=5), 400)
    assert ais.stats()["faults"]["expired"] == 1
    ais.configure(result_set_ttl=60)
    link = _next_link(_browse(ais, auth, page=1))
    assert _grid(requests.post(link["href"], json={}, timeout=5))["rowset"][0]["F0911_DOC"] == 200001


@pytest.mark.parametrize("style", ["oracle", "context_object"])
def test_result_set_expiry_rate_one_answers_500_expired(ais, auth, style):
    """result_set_expiry_rate=1: every /next answers 500 JAS_MSG347 and forgets the cursor."""
    _insert(ais, 3)
    ais.configure(result_set_expiry_rate=1, next_link_style=style)
    link = _next_link(_browse(ais, auth, page=1))
    body = link.get("context") if style == "context_object" else {}
    _assert_expired(requests.post(link["href"], json=body, headers=auth, timeout=5))
    _assert_error_body(requests.post(link["href"], json=body, headers=auth, timeout=5), 400)
    assert ais.stats()["faults"]["expired"] == 1
    assert _grid(_browse(ais, auth, page=1))["summary"] == {"records": 1, "moreRecords": True}


@pytest.mark.parametrize("conditions, match, expected", [
    ([_condition("AA", "GREATER", "0")], "MATCH_ALL", ["29.35"]),
    ([_condition("AA", "LESS_EQUAL", "-5")], "MATCH_ALL", ["-24.35", "-5.00"]),
    ([_condition("AA", "EQUAL", "-5")], "MATCH_ALL", ["-5.00"]),
    ([_condition("AA", "NOT_EQUAL", "-5.0")], "MATCH_ALL", ["29.35", "-24.35"]),
    ([_condition("JELN", "BETWEEN", "2", "3")], "MATCH_ALL", ["-24.35", "-5.00"]),
    ([_condition("OBJ", "LIST", "1110", "4050")], "MATCH_ALL", ["29.35", "-5.00"]),
    ([_condition("ANI", "STR_START_WITH", "M30.40")], "MATCH_ALL", ["-24.35", "-5.00"]),
    ([_condition("EXA", "STR_CONTAIN", "line 2")], "MATCH_ALL", ["-24.35"]),
    ([_condition("JELN", "EQUAL", "1"), _condition("JELN", "EQUAL", "3")], "MATCH_ANY", ["29.35", "-5.00"]),
    ([_condition("JELN", "EQUAL", "1"), _condition("JELN", "EQUAL", "3")], "MATCH_ALL", []),
    ([_condition("DOC", "GREATER_EQUAL", "100001"), _condition("MCU", "EQUAL", "M30")], "MATCH_ALL",
     ["29.35", "-24.35", "-5.00"]),
    ([_condition("DGJ", "EQUAL", "26.11.2026"), _condition("AA", "LESS", "0")], "MATCH_ALL", ["-24.35", "-5.00"]),
], ids=["greater", "less-equal", "equal-numeric", "not-equal", "between", "list", "starts", "contains",
        "match-any", "match-all", "numeric-and-string", "date-and-numeric"])
def test_dataservice_operators_select_rows(ais, auth, conditions, match, expected):
    """Each operator compares numbers numerically, strings exactly and dates as days."""
    _post(ais, JE, _entry(), auth)
    grid = _grid(_browse(ais, auth, *conditions, match=match, columns=["AA"]))
    assert [row["F0911_AA"] for row in grid["rowset"]] == [Decimal(amount) for amount in expected]


@pytest.mark.parametrize("body, words", [
    ({"targetName": "F4211", "targetType": "table"}, ["F4211"]),
    ({"targetName": "F0911", "targetType": "table", "returnControlIDs": "F0911.NOPE"}, ["NOPE"]),
    ({"targetName": "F0911", "targetType": "table", "query": {"condition": [_condition("AA", "EQUAL", "x")]}},
     ["numeric"]),
    ({"targetName": "F0911", "targetType": "table", "query": {"condition": [_condition("AA", "BETWEEN", "1")]}},
     ["BETWEEN"]),
    ({"targetName": "F0911", "targetType": "table", "query": {"condition": [_condition("AA", "LIKE", "1")]}},
     ["LIKE"]),
    ({"targetName": "F0911", "targetType": "table",
      "query": {"condition": [_condition("DGJ", "STR_START_WITH", "26")]}}, ["date"]),
    ({"targetName": "F0911", "targetType": "table", "outputType": "VERSION2"}, ["outputType", "VERSION2"]),
    ({"targetName": "F0911", "targetType": "table", "aliasNaming": False}, ["only aliasNaming=true"]),
    ({"targetName": "F0911", "targetType": "table", "aliasNaming": "yes"}, ["aliasNaming"]),
], ids=["unknown-table", "unknown-column", "non-numeric-value", "between-one-value", "unknown-operator",
        "string-operator-on-date", "output-type", "alias-naming-false", "alias-naming-not-boolean"])
def test_dataservice_bad_request_answers_400(ais, auth, body, words):
    """Requests the data service cannot run answer 400 with the error body saying why."""
    message = _assert_error_body(_post(ais, BROWSE, body, auth), 400)["message"]
    for word in words:
        assert word in message


@pytest.mark.parametrize("options", [{"outputType": "GRID_DATA"}, {"aliasNaming": True}, {"aliasNaming": "true"},
                                     {"outputType": "GRID_DATA", "aliasNaming": True}])
def test_dataservice_output_options_grid_data_alias_naming_accepted(ais, auth, options):
    """outputType GRID_DATA and aliasNaming true are accepted (both optional)."""
    _post(ais, JE, _entry(), auth)
    assert _grid(_post(ais, BROWSE, {**_browse_body(), **options}, auth))["summary"]["records"] == 3


def test_dataservice_customers_found_by_email(ais, auth):
    """F01151 can be browsed by email, F0101 by address number."""
    _post(ais, CUSTOMER, {"AlphaName": "Ada", "Email": "ada@example.com"}, auth)
    grid = _grid(_browse(ais, auth, _condition("EMAL", "EQUAL", "ada@example.com", table="F01151"),
                         table="F01151", columns=["AN8"]), table="F01151")
    assert grid["rowset"] == [{"F01151_AN8": 10001}]
    grid = _grid(_browse(ais, auth, _condition("AN8", "EQUAL", "10001", table="F0101"), table="F0101"),
                 table="F0101")
    assert grid["rowset"][0]["F0101_ALPH"] == "Ada"


# -- faults -------------------------------------------------------------------------------------


def test_error_rate_one_answers_500_and_commits_nothing(ais, auth):
    """error_rate=1 answers 500 "Server Failed to Process Request" and writes nothing."""
    ais.configure(error_rate=1)
    body = _assert_error_body(_post(ais, JE, _entry(), auth), 500)
    assert body["message"] == "Server Failed to Process Request"
    assert body["exception"] == "javax.ws.rs.WebApplicationException"
    _assert_error_body(_browse(ais, auth), 500)
    assert ais.f0911_rows() == [] and ais.stats()["faults"]["error"] == 2


def test_drop_rate_one_drops_connection_but_commits(ais, auth):
    """drop_rate=1: the client gets a connection error, yet the entry is in F0911."""
    _config(ais, drop_rate=1)
    with pytest.raises(requests.ConnectionError):
        _post(ais, JE, _entry(), auth)
    assert [row["VINV"] for row in ais.f0911_rows()] == ["WC-727"] * 3  # committed once: no client retry
    assert ais.stats()["faults"]["drop"] == 1
    assert _grid(_browse(ais, auth))["summary"]["records"] == 3  # data service is never dropped


def test_timeout_rate_one_commits_then_outlasts_client(ais, auth):
    """timeout_rate=1: the client's read timeout fires, yet the entry is in F0911."""
    ais.configure(timeout_rate=1, timeout_seconds=30)
    with pytest.raises(requests.Timeout):
        _post(ais, JE, _entry(), auth, timeout=0.3)
    assert len(ais.f0911_rows()) == 3 and ais.stats()["faults"]["timeout"] == 1


def _fault_run(rounds=20, **knobs):
    """Each round: an entry (its status is kept), a call with a bad token, a paged browse and,
    if it answered, its /next. Answers the entries' statuses."""
    statuses = []
    with AisSandbox(seed=42, error_rate=0.5, **knobs) as sandbox:
        _insert(sandbox, 2, VINV="INSERTED")
        auth = {"jde-AIS-Auth": _token(sandbox), "jde-AIS-Auth-Device": DEVICE}
        for n in range(rounds):
            statuses.append(_post(sandbox, JE, _entry(f"WC-{n}"), auth).status_code)
            assert _post(sandbox, JE, _entry(), {"jde-AIS-Auth": "044bad"}).status_code in (403, 444)
            page = _browse(sandbox, auth, page=1)
            if page.status_code == 200:
                assert requests.post(_next_link(page)["href"], json={}, timeout=5).status_code in (200, 500)
    return statuses


def _expected_fault_run(rounds=20):
    """What the documented dice give seed 42 at error_rate 0.5: random.Random(seed), rolled
    error, drop (orchestrations only), timeout on every faulty call that gets past the token."""
    rng, statuses = random.Random(42), []
    for _ in range(rounds):
        error, _drop, _timeout = rng.random(), rng.random(), rng.random()
        statuses.append(500 if error < 0.5 else 200)
        browse_error, _timeout = rng.random(), rng.random()
        if browse_error >= 0.5:
            rng.random(), rng.random()  # the /next
    return statuses


def test_faults_same_seed_same_sequence():
    """Two sandboxes with the same seed fault the same calls."""
    outcomes = [_fault_run() for _ in range(2)]
    assert outcomes[0] == outcomes[1] and {200, 500} == set(outcomes[0])


def test_faults_new_knobs_leave_error_sequence_unchanged():
    """The error/drop/timeout dice are exactly the documented sequence of the seed, whatever the
    warning, 403 and expiry knobs: those roll generators of their own."""
    expected = _expected_fault_run()
    assert _fault_run() == expected
    assert _fault_run(warning_rate=0.5, invalid_token_403_rate=0.5, result_set_expiry_rate=0.5) == expected


def test_latency_concurrent_calls_overlap(ais, auth):
    """Latency sleeps outside the lock: 10 concurrent calls at 0.1 s take far less than 1 s."""
    ais.configure(latency=0.1)
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(lambda n: _post(ais, JE, _entry(f"WC-{n}"), auth).status_code, range(10)))
    assert statuses == [200] * 10 and time.monotonic() - started < 0.7
    assert sorted({row["DOC"] for row in ais.f0911_rows()}) == list(range(100001, 100011))


# -- outages --------------------------------------------------------------------------------------


def _refused(ais) -> bool:
    try:
        requests.post(ais.url + "/jderest/v2/tokenrequest", json={}, timeout=2)
    except requests.ConnectionError as error:
        assert "refused" in str(error).lower(), error
        return True
    return False


def _answers(ais) -> bool:
    try:
        return requests.post(ais.url + "/jderest/v2/tokenrequest", timeout=2, json={
            "username": "JDE", "password": "JDE", "deviceName": DEVICE}).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.mark.parametrize("how", ["in-process", "http"])
def test_outage_refuse_refuses_connects_then_listens_again(ais, auth, how):
    """A refuse outage: connects are refused and kept-alive connections hung up at once; the
    server listens again on the same port by itself, its data intact."""
    assert _post(ais, JE, _entry(), auth).status_code == 200
    url = ais.url
    kept = http.client.HTTPConnection("127.0.0.1", ais.port, timeout=5)
    kept.request("GET", "/sandbox/stats")
    assert kept.getresponse().read()
    if how == "in-process":
        state = ais.outage(0.5)
    else:
        response = requests.post(ais.url + "/sandbox/outage", json={"seconds": 0.5, "mode": "refuse"}, timeout=5)
        assert response.status_code == 200 and response.headers["Connection"] == "close"
        state = response.json()["outage"]
    assert state["mode"] == "refuse" and state["until"] > time.time()
    assert _refused(ais)
    with pytest.raises((http.client.HTTPException, OSError)):
        kept.request("GET", "/sandbox/stats")
        kept.getresponse()
    kept.close()
    assert ais.stats()["outage"]["mode"] == "refuse"
    assert _eventually(lambda: _answers(ais))
    assert ais.url == url and ais.stats()["outage"] is None
    assert _post(ais, JE, _entry("WC-728"), auth).json()["DocumentNumber"] == 100002


def test_outage_end_outage_listens_at_once(ais):
    """end_outage() ends a refuse outage before its time."""
    ais.outage(600)
    assert _refused(ais)
    ais.end_outage()
    assert _answers(ais) and ais.stats()["outage"] is None


def test_outage_proxy_503_answers_html_and_ends_by_itself(ais, auth):
    """proxy_503: every /jderest/* call (tokenrequest included) answers 503 text/html as a load
    balancer does; /sandbox/* keeps working; the outage ends by itself."""
    response = requests.post(ais.url + "/sandbox/outage", json={"seconds": 0.5, "mode": "proxy_503"}, timeout=5)
    assert response.status_code == 200 and response.json()["outage"]["mode"] == "proxy_503"
    for path, body, headers in [("/jderest/v2/tokenrequest", {"username": "JDE", "password": "JDE"}, {}),
                                ("/jderest/v2/tokenrequest/validate", {"token": auth["jde-AIS-Auth"]}, {}),
                                (JE, _entry(), auth), (BROWSE, _browse_body(), auth), ("/jderest/v9/nothing", {}, {})]:
        response = _post(ais, path, body, headers)
        assert response.status_code == 503 and response.headers["Content-Type"].startswith("text/html")
        assert "503 Service Unavailable" in response.text
    stats = requests.get(ais.url + "/sandbox/stats", timeout=5)
    assert stats.status_code == 200
    assert stats.json()["outage"]["mode"] == "proxy_503" and stats.json()["outage_answers"] == 5
    assert ais.f0911_rows() == [] and stats.json()["calls"] == {"/jderest/v2/tokenrequest": 1}
    assert _eventually(lambda: _answers(ais))
    assert ais.stats()["outage"] is None and _post(ais, JE, _entry(), auth).status_code == 200


def test_outage_http_seconds_zero_ends_it(ais):
    """POST /sandbox/outage {"seconds": 0} ends the current outage."""
    requests.post(ais.url + "/sandbox/outage", json={"seconds": 600, "mode": "proxy_503"}, timeout=5)
    assert not _answers(ais)
    response = requests.post(ais.url + "/sandbox/outage", json={"seconds": 0}, timeout=5)
    assert response.status_code == 200 and response.json() == {"outage": None}
    assert _answers(ais)


@pytest.mark.parametrize("body", [{"seconds": -1}, {"seconds": "soon"}, {}, {"seconds": 1, "mode": "flood"}])
def test_outage_bad_request_answers_400(ais, body):
    """An outage needs seconds >= 0 and a known mode."""
    _assert_error_body(requests.post(ais.url + "/sandbox/outage", json=body, timeout=5), 400)
    assert ais.stats()["outage"] is None and _answers(ais)


@pytest.mark.parametrize("mode", ["refuse", "proxy_503"])
def test_outage_stop_during_outage_leaves_no_thread(mode):
    """stop() during an outage cancels its timer and leaves no thread or socket behind."""
    before = set(threading.enumerate())
    sandbox = AisSandbox(seed=1).start()
    port = sandbox.port
    assert _answers(sandbox)
    sandbox.outage(600, mode)
    sandbox.stop()
    assert set(threading.enumerate()) - before == set()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/sandbox/stats", timeout=2)


def test_outage_refuse_twice_then_stop_leaves_no_thread():
    """Outages back to back (each reopening the listener) leave nothing behind at stop()."""
    before = set(threading.enumerate())
    with AisSandbox(seed=1) as sandbox:
        for _ in range(2):
            sandbox.outage(0.05)
            assert _eventually(lambda: _answers(sandbox))
    assert set(threading.enumerate()) - before == set()


# -- HTTP mechanics and control endpoints ---------------------------------------------------------


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_post_without_json_content_type_answers_415(ais, auth, content_type):
    """POSTs must be application/json, else 415 with the error body."""
    headers = {**auth, **({"Content-Type": content_type} if content_type else {})}
    response = requests.post(ais.url + JE, data=json.dumps(_entry()).encode(), headers=headers, timeout=5)
    _assert_error_body(response, 415)
    assert ais.f0911_rows() == []


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/jderest/v2/nothing", 404), ("POST", "/elsewhere", 404),
    ("GET", JE, 405), ("PUT", BROWSE, 405), ("GET", "/jderest/v2/tokenrequest", 405),
])
def test_unknown_path_or_method_answers_error_body(ais, method, path, status):
    """Unknown paths answer 404 and wrong methods 405, both with the error body."""
    _assert_error_body(requests.request(method, ais.url + path, json={}, timeout=5), status)


def test_keep_alive_connection_serves_several_requests(ais, auth):
    """One HTTP/1.1 connection carries several requests, errors included."""
    connection = http.client.HTTPConnection("127.0.0.1", ais.port, timeout=5)
    try:
        for content_type, expected in [("text/plain", 415), ("application/json", 200), ("application/json", 500)]:
            connection.request("POST", JE, body=json.dumps(_entry()), headers={**auth, "Content-Type": content_type})
            response = connection.getresponse()
            assert response.status == expected and json.loads(response.read())
            assert response.version == 11 and not response.will_close
    finally:
        connection.close()


def test_sandbox_tables_and_edits_change_f0911(ais, auth):
    """The /sandbox/f0911 edits delete, re-amount and insert rows; tables show amounts as strings."""
    for batch in ("WC-1", "WC-2"):
        _post(ais, JE, _entry(batch), auth)
    url = ais.url + "/sandbox/f0911/"
    assert requests.post(url + "delete", json={"batch": "WC-1"}, timeout=5).json() == {"deleted": 3}
    assert requests.post(url + "set-amount", json={"batch": "WC-2", "line": 1, "amount": "12.34"},
                         timeout=5).json() == {"updated": 1}
    assert requests.post(url + "set-amount", json={"batch": "WC-9", "line": 1, "amount": "1"},
                         timeout=5).status_code == 404
    foreign = {"KCO": "00001", "DCT": "JE", "DOC": 100002, "VINV": "WC-2", "AA": "-12.34", "JELN": 1, "DGJ": 126330}
    assert requests.post(url + "insert", json={"rows": [foreign]}, timeout=5).json() == {"inserted": 1}
    rows = requests.get(ais.url + "/sandbox/tables/F0911", timeout=5).json()["rows"]
    assert [(row["VINV"], row["JELN"], row["AA"], row["DGJ"]) for row in rows] == [
        ("WC-2", 1, "12.34", "126330"), ("WC-2", 2, "-24.35", "126330"), ("WC-2", 3, "-5.00", "126330"),
        ("WC-2", 1, "-12.34", "126330")]
    assert _post(ais, JE, _entry("WC-1"), auth).json()["DocumentNumber"] == 100003  # past the inserted DOC
    _assert_form_error(_post(ais, JE, _entry("WC-2"), auth))


@pytest.mark.parametrize("dgj", ["2026-11-26", "126367", "20261126"])
def test_sandbox_insert_bad_julian_date_answers_400(ais, dgj):
    """Inserted rows hold dates as JDE does, Julian CYYDDD (or blank); anything else is refused."""
    response = requests.post(ais.url + "/sandbox/f0911/insert", json={"rows": [{"DOC": 1, "DGJ": dgj}]}, timeout=5)
    assert _assert_error_body(response, 400) and ais.f0911_rows() == []


def test_sandbox_stats_counts_calls(ais, auth):
    """/sandbox/stats counts calls by path, orchestrations by name, documents and lines."""
    _post(ais, JE, _entry(), auth)
    _post(ais, CUSTOMER, {"AlphaName": "Ada"}, auth)
    _browse(ais, auth)
    stats = requests.get(ais.url + "/sandbox/stats", timeout=5).json()
    assert stats["calls"] == {"/jderest/v2/tokenrequest": 1, JE: 1, CUSTOMER: 1, BROWSE: 1}
    assert stats["orchestrations"] == {"ORCH_WOO_PostJournalEntry": 1, "ORCH_WOO_AddCustomer": 1}
    assert (stats["journal_entries"], stats["f0911_lines"], stats["customers"]) == (1, 3, 1)
    assert stats["faults"] == {"error": 0, "drop": 0, "timeout": 0, "warning": 0, "expired": 0, "token_403": 0}
    assert stats["outage"] is None and stats["outage_answers"] == 0


def test_sandbox_reset_empties_tables_counters_and_tokens(ais, auth):
    """/sandbox/reset forgets rows, counters, tokens and run-time knobs."""
    _post(ais, JE, _entry(), auth)
    ais.configure(latency=0.5, date_format="MM/dd/yyyy", next_link_style="context_object")
    assert requests.post(ais.url + "/sandbox/reset", timeout=5).status_code == 200
    assert ais.f0911_rows() == [] and ais.stats()["token_requests"] == 0
    knobs = requests.get(ais.url + "/sandbox/config", timeout=5).json()
    assert (knobs["latency"], knobs["date_format"], knobs["next_link_style"]) == (0, "dd.MM.yyyy", "oracle")
    _assert_error_body(_post(ais, JE, _entry(), auth), 444)


@pytest.mark.parametrize("knobs", [
    {"nope": 1}, {"error_rate": 2}, {"latency": -1}, {"latency": "slow"}, {"warning_rate": 1.5},
    {"invalid_token_403_rate": -0.1}, {"result_set_expiry_rate": 2}, {"result_set_ttl": -1},
    {"date_format": "yyyy/MM/MM"}, {"date_format": "dd.MM-yyyy"}, {"date_format": "d.M.yy"},
    {"date_format": "dd MM yyyy"}, {"date_format": 5}, {"gl_date_input": "iso"}, {"gl_date_input": None},
    {"next_link_style": "hal"}, {"error_rate": 0.5, "date_format": "nope"},
], ids=repr)
def test_sandbox_config_bad_knob_answers_400(ais, knobs):
    """An unknown knob or a value out of range answers 400 and changes nothing."""
    assert requests.post(ais.url + "/sandbox/config", json=knobs, timeout=5).status_code == 400
    current = requests.get(ais.url + "/sandbox/config", timeout=5).json()
    assert current["error_rate"] == 0 and current["date_format"] == "dd.MM.yyyy"


KNOB_VALUES = {"token_ttl": 100.0, "idle_timeout": 50.0, "latency": 0.01, "error_rate": 0.1, "timeout_rate": 0.2,
               "timeout_seconds": 3.0, "drop_rate": 0.3, "date_format": "yyyy-MM-dd", "gl_date_input": "epoch_ms",
               "warning_rate": 0.4, "invalid_token_403_rate": 0.5, "next_link_style": "context_string",
               "result_set_ttl": 7.0, "result_set_expiry_rate": 0.6}


def test_sandbox_config_defaults_and_constructor_knobs():
    """Knob defaults, and every knob settable from AisSandbox(...)."""
    with AisSandbox() as sandbox:
        assert requests.get(sandbox.url + "/sandbox/config", timeout=5).json() == {
            "token_ttl": 3600.0, "idle_timeout": 1200.0, "latency": 0.0, "error_rate": 0.0, "timeout_rate": 0.0,
            "timeout_seconds": 30.0, "drop_rate": 0.0, "date_format": "dd.MM.yyyy", "gl_date_input": "julian",
            "warning_rate": 0.0, "invalid_token_403_rate": 0.0, "next_link_style": "oracle", "result_set_ttl": 60.0,
            "result_set_expiry_rate": 0.0}
    with AisSandbox(**KNOB_VALUES) as sandbox:
        assert requests.get(sandbox.url + "/sandbox/config", timeout=5).json() == KNOB_VALUES


def test_sandbox_command_line_flags_set_knobs():
    """`python -m sandbox.ais` takes every knob as a flag."""
    flags = [f"--{name.replace('_', '-')}={value}" for name, value in KNOB_VALUES.items()]
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen([sys.executable, "-m", "sandbox.ais", "--port", "0", *flags], cwd=root,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert select.select([process.stderr], [], [], 20)[0], "the sandbox printed nothing"
        line = process.stderr.readline()
        url = line.split(" on ")[1].split()[0]
        assert requests.get(url + "/sandbox/config", timeout=5).json() == KNOB_VALUES
    finally:
        process.terminate()
        process.wait(10)
        process.stderr.close()


# -- F0901 Account Master and the chart rule ----------------------------------------------------

DEFAULT_ACCOUNTS = {"M30.1100", "M30.1110.BANK", "M30.1110.STRIPE", "M30.1110.WEB", "M30.2310", "M30.2320",
                    "M30.2450", "M30.2460", "M30.4010", "M30.4030", "M40.4020", "M30.4050", "M30.4060", "M30.4090",
                    "M30.6810", "M30.7990"}


def _account(row, prefix=""):
    mcu, obj, sub = (row[f"{prefix}{column}"] for column in ("MCU", "OBJ", "SUB"))
    return f"{mcu.strip()}.{obj}" + (f".{sub}" if sub else "")


def test_f0901_default_chart_is_browsable_as_jde_stores_it(ais, auth):
    """F0901 through the data service: the default chart of M30, MCU right-justified in 12,
    blank SUB as "", 8-digit AIDs, the header account 1100 non-posting."""
    rows = _grid(_browse(ais, auth, table="F0901"), table="F0901")["rowset"]
    assert {_account(row, "F0901_") for row in rows} == DEFAULT_ACCOUNTS
    assert {row["F0901_MCU"] for row in rows} == {"         M30", "         M40"}   # M40: music's cost center
    assert all(len(row["F0901_AID"]) == 8 and row["F0901_AID"].isdigit() for row in rows)
    assert len({row["F0901_AID"] for row in rows}) == len(DEFAULT_ACCOUNTS)
    by_account = {_account(row, "F0901_"): row for row in rows}
    header, sales = by_account["M30.1100"], by_account["M30.4010"]
    assert (header["F0901_PEC"], header["F0901_DL01"]) == ("N", "Cash and clearing")
    assert (sales["F0901_SUB"], sales["F0901_PEC"].strip(), sales["F0901_DL01"], sales["F0901_LDA"]) == \
        ("", "", "Sales", "7")
    assert by_account["M30.1110.STRIPE"]["F0901_DL01"] == "Stripe clearing"
    table = requests.get(ais.url + "/sandbox/tables/F0901", timeout=5).json()["rows"]
    assert table == ais.f0901_rows() and len(table) == len(DEFAULT_ACCOUNTS)


def test_f0901_business_unit_condition_must_be_right_justified(ais, auth):
    """MCU is stored right-justified, so EQUAL "M30" finds nothing and EQUAL "         M30" all."""
    assert _grid(_browse(ais, auth, _condition("MCU", "EQUAL", "M30", table="F0901"), table="F0901"),
                 table="F0901")["rowset"] == []
    found = _grid(_browse(ais, auth, _condition("MCU", "EQUAL", "M30".rjust(12), table="F0901"),
                          _condition("OBJ", "EQUAL", "4050", table="F0901"), table="F0901"), table="F0901")
    assert [row["F0901_DL01"] for row in found["rowset"]] == ["Shipping income"]


@pytest.mark.parametrize("account, title, words", [
    ("M30.9050", "Invalid Account Number", ["M30.9050", "F0901"]),
    ("M31.4010", "Invalid Account Number", ["M31.4010", "chart"]),
    ("M30.4010.WEB", "Invalid Account Number", ["M30.4010.WEB"]),
    ("M30.1100", "Account Not Postable", ["M30.1100", "'N'", "header"]),
], ids=["object-not-in-chart", "business-unit-not-in-chart", "subsidiary-not-in-chart", "header-account"])
def test_post_journal_entry_account_checked_against_f0901(ais, auth, account, title, words):
    """Every line's account must be a posting account of F0901; otherwise the form error, nothing written."""
    error = _assert_form_error(_post(ais, JE, _entry(lines=_bad_line(AccountNumber=account)), auth))
    assert error["TITLE"] == f"Error: {title}"
    for word in words:
        assert word.lower() in (error["DESC"] + error["MOBILE"]).lower()
    assert ais.f0911_rows() == []


def test_f0901_edits_change_what_posts(ais, auth):
    """Accounts added post (the old "object 9 is invalid" rule is gone), an inactive one (PEC I)
    and a removed one do not; the edits show in the table."""
    lines = _bad_line(AccountNumber="M30.9050")
    _assert_form_error(_post(ais, JE, _entry("WC-1", lines=lines), auth))
    assert ais.add_accounts(["M30.9050", {"account": "M30.4070", "description": "Old fees", "PEC": "I"}]) == 2
    assert _post(ais, JE, _entry("WC-1", lines=lines), auth).status_code == 200
    error = _assert_form_error(_post(ais, JE, _entry("WC-2", lines=_bad_line(AccountNumber="M30.4070")), auth))
    assert error["TITLE"] == "Error: Account Not Postable" and "'I'" in error["DESC"] and "inactive" in error["DESC"]
    assert ais.remove_account("M30.4050") == 1 and ais.remove_account("M30.4050") == 0
    error = _assert_form_error(_post(ais, JE, _entry("WC-3"), auth))  # line 3 posts to M30.4050
    assert error["TITLE"] == "Error: Invalid Account Number" and "M30.4050" in error["DESC"]
    assert {row["VINV"] for row in ais.f0911_rows()} == {"WC-1"}
    accounts = {_account(row): row for row in ais.f0901_rows()}
    assert set(accounts) == DEFAULT_ACCOUNTS - {"M30.4050"} | {"M30.9050", "M30.4070"}
    assert accounts["M30.4070"]["AID"] == f"{100 + len(DEFAULT_ACCOUNTS) + 2:08d}" \
        and accounts["M30.9050"]["MCU"] == "         M30"


def test_sandbox_f0901_insert_and_delete_over_http(ais, auth):
    """POST /sandbox/f0901/insert takes rows with MCU as given and stores it right-justified;
    /sandbox/f0901/delete removes one account, 404 when none matched."""
    url = ais.url + "/sandbox/f0901/"
    rows = [{"MCU": "M50", "OBJ": "4010", "SUB": "", "DL01": "Sales M50", "PEC": " "},
            {"MCU": "M50".rjust(12), "OBJ": "1110", "SUB": "WEB", "DL01": "Web clearing M50", "PEC": "", "LDA": "8"}]
    assert requests.post(url + "insert", json={"rows": rows}, timeout=5).json() == {"inserted": 2}
    added = [row for row in requests.get(ais.url + "/sandbox/tables/F0901", timeout=5).json()["rows"]
             if row["MCU"].strip() == "M50"]
    assert [(row["MCU"], row["OBJ"], row["SUB"], row["LDA"]) for row in added] == [
        ("         M50", "4010", "", "7"), ("         M50", "1110", "WEB", "8")]
    entry = _entry(lines=[{"LineNumber": "1", "AccountNumber": "M50.1110.WEB", "Amount": "5.00"},
                          {"LineNumber": "2", "AccountNumber": "M50.4010", "Amount": "-5.00"}])
    assert _post(ais, JE, entry, auth).status_code == 200
    assert requests.post(url + "delete", json={"account": "M50.1110.WEB"}, timeout=5).json() == {"deleted": 1}
    _assert_error_body(requests.post(url + "delete", json={"account": "M50.1110.WEB"}, timeout=5), 404)
    _assert_error_body(requests.post(url + "delete", json={"account": "M50"}, timeout=5), 400)
    assert len(ais.f0901_rows()) == len(DEFAULT_ACCOUNTS) + 1


@pytest.mark.parametrize("rows", [
    [{"MCU": "M30", "OBJ": "4010"}],                        # already in the chart
    [{"MCU": "M50", "OBJ": "1"}, {"MCU": "M50", "OBJ": "1"}],  # twice in one insert
    [{"MCU": "M30", "OBJ": "4010999"}],                     # OBJ longer than 6
    [{"MCU": "", "OBJ": "4010"}],
    [{"MCU": "M30", "OBJ": "4099", "PEC": "NN"}],
    [{"MCU": "M30", "OBJ": "4099", "GLBA": "x"}],
    "M30.4099",
], ids=["duplicate", "duplicate-in-insert", "obj-too-long", "no-mcu", "pec-too-long", "unknown-column", "not-a-list"])
def test_sandbox_f0901_insert_bad_rows_answers_400_and_adds_nothing(ais, rows):
    """A bad or duplicate account refuses the whole insert."""
    _assert_error_body(requests.post(ais.url + "/sandbox/f0901/insert", json={"rows": rows}, timeout=5), 400)
    assert {_account(row) for row in ais.f0901_rows()} == DEFAULT_ACCOUNTS


def test_constructor_chart_replaces_the_default_and_survives_reset():
    """AisSandbox(chart=[...]): strings or dicts instead of the default chart; reset restores it."""
    chart = ["M30.1110.WEB", {"account": "M30.4010", "description": "Sales", "PEC": ""},
             {"account": "M30.1000", "description": "Assets", "PEC": "N", "LDA": "4"}]
    with AisSandbox(chart=chart) as sandbox:
        assert [(_account(row), row["DL01"], row["PEC"], row["LDA"]) for row in sandbox.f0901_rows()] == [
            ("M30.1110.WEB", "", " ", "7"), ("M30.4010", "Sales", "", "7"), ("M30.1000", "Assets", "N", "4")]
        headers = {"jde-AIS-Auth": _token(sandbox), "jde-AIS-Auth-Device": DEVICE}
        two_lines = _lines(("5.00", "-5.00"))[:2]
        assert _post(sandbox, JE, _entry(lines=two_lines), headers).status_code == 200
        _assert_form_error(_post(sandbox, JE, _entry("WC-2"), headers))  # M30.4050 is not in this chart
        sandbox.add_accounts(["M30.4050"])
        sandbox.reset()
        assert {_account(row) for row in sandbox.f0901_rows()} == {"M30.1110.WEB", "M30.4010", "M30.1000"}
    with pytest.raises(ValueError, match="M30"):
        AisSandbox(chart=["M30"])


# -- defaultconfig --------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/jderest/defaultconfig", "/jderest/v2/defaultconfig"])
def test_defaultconfig_answers_without_a_token(ais, path):
    """Oracle's "Get Configuration": GET, no token, the release and the capability list; the
    connector's health probe reads it to know AIS answers without logging in."""
    response = requests.get(ais.url + path, timeout=5)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["aisVersion"].startswith("EnterpriseOne ") and body["requiredCapabilityMissing"] is False
    assert all(set(c) == {"name", "shortDescription", "longDescription", "asOfRelease"} for c in body["capabilityList"])
    assert ais.stats()["token_requests"] == 0 and ais.stats()["calls"][path] == 1


@pytest.mark.parametrize("query, missing, listed", [("requiredCapabilities=orchestrator,dataservice", False, True),
                                                    ("requiredCapabilities=orchestrator,nosuch", True, True),
                                                    ("settings=true", False, False)])
def test_defaultconfig_query_parameters(ais, query, missing, listed):
    body = requests.get(f"{ais.url}/jderest/v2/defaultconfig?{query}", timeout=5).json()
    assert body["requiredCapabilityMissing"] is missing and ("capabilityList" in body) is listed


def test_defaultconfig_during_a_proxy_outage_is_the_proxys_503(ais):
    ais.outage(30, "proxy_503")
    response = requests.get(ais.url + "/jderest/defaultconfig", timeout=5)
    assert response.status_code == 503 and response.headers["Content-Type"].startswith("text/html")
    ais.end_outage()
    assert requests.get(ais.url + "/jderest/defaultconfig", timeout=5).status_code == 200


# -- discovery ------------------------------------------------------------------------------------

DISCOVER = "/jderest/discover"
ORCHESTRATION_FIELDS = {"name", "description", "inputFormat", "inputs", "category", "exposeInputsInDiscovery",
                        "exposeOrchInDiscovery", "containsContinueOnError"}


def _discover(ais, headers, path=DISCOVER):
    return requests.get(ais.url + path, headers=headers, timeout=5)


def test_discover_lists_the_orchestrations_with_their_inputs(ais, auth):
    """GET /jderest/discover (Oracle's "List Orchestrations"): each orchestration's name,
    description, JDE Standard input format, inputs with types, and discovery flags."""
    response = _discover(ais, auth)
    assert response.status_code == 200, response.text
    orchestrations = {o["name"]: o for o in response.json()["orchestrations"]}
    assert set(orchestrations) == {"ORCH_WOO_PostJournalEntry", "ORCH_WOO_AddCustomer"}
    for orchestration in orchestrations.values():
        assert set(orchestration) == ORCHESTRATION_FIELDS and orchestration["description"]
        assert orchestration["inputFormat"] == "JDE Standard" and orchestration["category"]
        assert orchestration["exposeInputsInDiscovery"] is True and orchestration["exposeOrchInDiscovery"] is True
        assert all(set(item) == {"name", "type"} for item in orchestration["inputs"])
    gl = {item["name"]: item["type"] for item in orchestrations["ORCH_WOO_PostJournalEntry"]["inputs"]}
    assert {"BatchNumber", "Company", "DocumentType", "GLDate", "Currency", "GridData"} <= set(gl)
    assert gl["GLDate"] == "String" and gl["GridData"] == "Array"
    assert {item["name"] for item in orchestrations["ORCH_WOO_AddCustomer"]["inputs"]} >= {"AlphaName", "Email"}
    assert orchestrations["ORCH_WOO_PostJournalEntry"]["containsContinueOnError"] is True
    assert ais.stats()["calls"][DISCOVER] == 1


@pytest.mark.parametrize("headers", [{"jde-AIS-Auth": "044unknown", "jde-AIS-Auth-Device": DEVICE}, {},
                                     "other-device"], ids=["unknown-token", "no-token", "other-device"])
def test_discover_without_a_valid_token_answers_444(ais, auth, headers):
    """Discovery is authenticated like every other call."""
    if headers == "other-device":
        headers = {**auth, "jde-AIS-Auth-Device": "another-device"}
    body = _assert_error_body(_discover(ais, headers), 444)
    assert "token" in body["message"].lower() and "orchestrations" not in body


def test_discover_one_and_open_api_catalog(ais, auth):
    """GET /jderest/discover/{name} lists that one; /jderest/v2/open-api-catalog/{name} answers a
    small Swagger document; an unknown name answers the unknown-orchestration 500 on both."""
    one = _discover(ais, auth, f"{DISCOVER}/ORCH_WOO_AddCustomer")
    assert one.status_code == 200 and [o["name"] for o in one.json()["orchestrations"]] == ["ORCH_WOO_AddCustomer"]
    catalog = _discover(ais, auth, "/jderest/v2/open-api-catalog/ORCH_WOO_PostJournalEntry")
    assert catalog.status_code == 200 and catalog.json()["swagger"] == "2.0"
    [(path, operations)] = catalog.json()["paths"].items()
    assert path == "/v3/orchestrator/ORCH_WOO_PostJournalEntry" and "post" in operations
    for path in (f"{DISCOVER}/ORCH_Nope", "/jderest/v2/open-api-catalog/ORCH_Nope"):
        response = _discover(ais, auth, path)
        assert response.status_code == 500 and response.json()["message"] == "Orchestration ORCH_Nope was not found"
    _assert_error_body(_discover(ais, {}, "/jderest/v2/open-api-catalog/ORCH_WOO_PostJournalEntry"), 444)


@pytest.mark.parametrize("how", ["in-process", "http"])
def test_removed_orchestration_is_gone_until_restored(ais, auth, how):
    """A removed orchestration is absent from discovery and running it answers the unknown
    orchestration 500; restoring it (or a reset) brings it back."""
    if how == "in-process":
        ais.remove_orchestration("ORCH_WOO_PostJournalEntry")
    else:
        response = requests.post(ais.url + "/sandbox/orchestrations/remove",
                                 json={"name": "ORCH_WOO_PostJournalEntry"}, timeout=5)
        assert response.json() == {"removed": ["ORCH_WOO_PostJournalEntry"]}
    names = [o["name"] for o in _discover(ais, auth).json()["orchestrations"]]
    assert names == ["ORCH_WOO_AddCustomer"]
    response = _post(ais, JE, _entry(), auth)
    assert response.status_code == 500 and response.json() == {
        "message": "Orchestration ORCH_WOO_PostJournalEntry was not found", "exception": "Exception",
        "timeStamp": response.json()["timeStamp"]}
    assert _discover(ais, auth, f"{DISCOVER}/ORCH_WOO_PostJournalEntry").status_code == 500
    assert _post(ais, CUSTOMER, {"AlphaName": "Ada"}, auth).status_code == 200
    assert ais.f0911_rows() == [] and ais.stats()["removed_orchestrations"] == ["ORCH_WOO_PostJournalEntry"]
    if how == "in-process":
        ais.restore_orchestration("ORCH_WOO_PostJournalEntry")
    else:
        response = requests.post(ais.url + "/sandbox/orchestrations/restore", json={}, timeout=5)
        assert response.json() == {"removed": []}
    assert len(_discover(ais, auth).json()["orchestrations"]) == 2
    assert _post(ais, JE, _entry(), auth).status_code == 200
    ais.remove_orchestration("ORCH_WOO_AddCustomer")
    ais.reset()
    assert ais.stats()["removed_orchestrations"] == []


def test_remove_unknown_orchestration_answers_404(ais):
    _assert_error_body(requests.post(ais.url + "/sandbox/orchestrations/remove", json={"name": "ORCH_X"},
                                     timeout=5), 404)
    assert ais.stats()["removed_orchestrations"] == []


# -- state that survives a restart -----------------------------------------------------------------


def _headers(sandbox):
    return {"jde-AIS-Auth": _token(sandbox), "jde-AIS-Auth-Device": DEVICE}


def _saved(path):
    return json.loads(path.read_text(), parse_float=Decimal)


def test_state_file_keeps_tables_and_counters_across_restarts(tmp_path):
    """With a state file the tables (amounts exact) and the next document, batch and address
    numbers survive a restart; tokens and knobs do not."""
    path = tmp_path / "jde" / "state.json"
    with AisSandbox(seed=3, state_file=path) as first:
        headers = _headers(first)
        first.configure(latency=0.01)
        assert _post(first, JE, _entry("WC-1"), headers).json()["DocumentNumber"] == 100001
        assert _post(first, CUSTOMER, {"AlphaName": "Ada", "Email": "ada@example.com"}, headers).status_code == 200
        first.add_accounts([{"account": "M30.4070", "description": "Gift wrap"}])
        first.remove_account("M30.7990")
        rows, customers, accounts = first.f0911_rows(), first.f0101_rows(), first.f0901_rows()
    assert path.exists() and not list(path.parent.glob(".*.tmp"))
    with AisSandbox(seed=3, state_file=path) as second:
        assert second.f0911_rows() == rows and second.f0101_rows() == customers and second.f0901_rows() == accounts
        assert [row["AA"] for row in second.f0911_rows()] == [Decimal("29.35"), Decimal("-24.35"), Decimal("-5.00")]
        assert str(second.f0911_rows()[2]["AA"]) == "-5.00"
        _assert_error_body(_post(second, JE, _entry("WC-2"), headers), 444)  # the old token died with the server
        assert second.stats()["token_requests"] == 0 and second.stats()["journal_entries"] == 1
        assert requests.get(second.url + "/sandbox/config", timeout=5).json()["latency"] == 0
        fresh = _headers(second)
        assert _post(second, JE, _entry("WC-2"), fresh).json()["DocumentNumber"] == 100002
        assert _post(second, CUSTOMER, {"AlphaName": "Bo"}, fresh).json()["AddressNumber"] == 10002
        assert {row["ICU"] for row in second.f0911_rows()} == {7001, 7002}
        _assert_form_error(_post(second, JE, _entry("WC-1"), fresh))  # the batch is still in F0911


def test_state_file_is_written_after_every_change_not_only_at_stop(tmp_path):
    """Each orchestration write and tester edit is in the file before the caller's answer; a
    refused entry leaves it as it was; a reset saves the empty ledger."""
    path = tmp_path / "state.json"
    with AisSandbox(state_file=path) as sandbox:
        headers = _headers(sandbox)
        assert not path.exists()  # nothing changed yet
        assert _post(sandbox, JE, _entry("WC-1"), headers).status_code == 200
        assert [row["VINV"] for row in _saved(path)["tables"]["F0911"]] == ["WC-1"] * 3
        before = path.read_bytes()
        _assert_form_error(_post(sandbox, JE, _entry("WC-2", amounts=("1", "1", "1")), headers))
        assert path.read_bytes() == before
        assert requests.post(sandbox.url + "/sandbox/f0911/set-amount",
                             json={"batch": "WC-1", "line": 1, "amount": "30.35"}, timeout=5).status_code == 200
        assert _saved(path)["tables"]["F0911"][0]["AA"] == Decimal("30.35")
        assert requests.post(sandbox.url + "/sandbox/f0901/delete", json={"account": "M30.7990"},
                             timeout=5).status_code == 200
        assert len(_saved(path)["tables"]["F0901"]) == len(DEFAULT_ACCOUNTS) - 1
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda n: _post(sandbox, JE, _entry(f"WC-{n + 10}"), headers).status_code,
                                     range(16)))
        assert statuses == [200] * 16
        saved = _saved(path)
        assert len(saved["tables"]["F0911"]) == 51 and saved["counters"]["next_document"] == 100018
        sandbox.reset()
        saved = _saved(path)
        assert saved["tables"]["F0911"] == [] and len(saved["tables"]["F0901"]) == len(DEFAULT_ACCOUNTS)
        assert saved["counters"] == {"next_document": 100001, "next_icu": 7001, "next_address": 10001}


@pytest.mark.parametrize("content", [b"{not json", b"[]", b'{"format": "something else"}',
                                     b'{"format": "sandbox-ais-state/1", "tables": {"F0911": [{"DOC": 1}]}, '
                                     b'"counters": {"next_document": 1, "next_icu": 1, "next_address": 1}}',
                                     b'{"format": "sandbox-ais-state/1", "tables": {}, "counters": {}}',
                                     b"\xff\xfe"],
                         ids=["not-json", "not-an-object", "other-format", "bad-row", "no-counters", "not-utf8"])
def test_state_file_corrupt_starts_empty_with_a_warning(tmp_path, capsys, content):
    """A state file that cannot be read back is set aside with a warning; the sandbox starts
    empty (default chart) and keeps serving, and its next change writes a good file."""
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with AisSandbox(state_file=path) as sandbox:
        assert sandbox.f0911_rows() == [] and len(sandbox.f0901_rows()) == len(DEFAULT_ACCOUNTS)
        assert "state file" in capsys.readouterr().err
        assert (tmp_path / "state.json.corrupt").read_bytes() == content
        assert _post(sandbox, JE, _entry(), _headers(sandbox)).json()["DocumentNumber"] == 100001
    assert len(_saved(path)["tables"]["F0911"]) == 3


def test_command_line_state_file_and_chart(tmp_path):
    """`python -m sandbox.ais --state-file PATH --chart FILE`: the chart is the file's; what one
    run writes (saved at once, so even a process killed with SIGTERM keeps it) the next run has."""
    state, chart = tmp_path / "jde.json", tmp_path / "chart.txt"
    chart.write_text("# account description\nM30.1110.WEB Web clearing\nM30.4010 Sales\nM30.4050\n")
    root = Path(__file__).resolve().parents[2]

    def run(check):
        process = subprocess.Popen([sys.executable, "-m", "sandbox.ais", "--port", "0", "--state-file", str(state),
                                    "--chart", str(chart)], cwd=root, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            assert select.select([process.stderr], [], [], 20)[0], "the sandbox printed nothing"
            line = process.stderr.readline()
            assert str(state) in line
            url = line.split(" on ")[1].split()[0]
            check(url)
        finally:
            process.terminate()
            process.wait(10)
            process.stderr.close()

    def first(url):
        response = requests.post(url + "/jderest/v2/tokenrequest", timeout=5, json={
            "username": "JDE", "password": "JDE", "deviceName": DEVICE})
        headers = {"jde-AIS-Auth": response.json()["userInfo"]["token"], "jde-AIS-Auth-Device": DEVICE}
        assert requests.post(url + JE, json=_entry(), headers=headers, timeout=5).status_code == 200
        tables = requests.get(url + "/sandbox/tables/F0901", timeout=5).json()["rows"]
        assert [(_account(row), row["DL01"]) for row in tables] == [
            ("M30.1110.WEB", "Web clearing"), ("M30.4010", "Sales"), ("M30.4050", "")]

    def second(url):
        rows = requests.get(url + "/sandbox/tables/F0911", timeout=5).json()["rows"]
        assert [(row["DOC"], row["AA"]) for row in rows] == [(100001, "29.35"), (100001, "-24.35"),
                                                             (100001, "-5.00")]

    run(first)
    run(second)

"""The sandbox JDE AIS server over real HTTP on loopback."""
import concurrent.futures
import http.client
import json
import time
from decimal import Decimal

import pytest
import requests

from sandbox.ais import AisSandbox

DEVICE = "woo-connector"
JE = "/jderest/v3/orchestrator/ORCH_WOO_PostJournalEntry"
CUSTOMER = "/jderest/v3/orchestrator/ORCH_WOO_AddCustomer"
BROWSE = "/jderest/v2/dataservice"


@pytest.fixture
def ais():
    sandbox = AisSandbox(seed=7).start()
    yield sandbox
    sandbox.stop()


def _token(ais, device=DEVICE):
    body = {"username": "JDE", "password": "JDE", "environment": "JDV920", "role": "*ALL"}
    if device is not None:
        body["deviceName"] = device
    response = requests.post(ais.url + "/jderest/v2/tokenrequest", json=body, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()["userInfo"]["token"]


@pytest.fixture
def auth(ais):
    return {"jde-AIS-Auth": _token(ais), "jde-AIS-Auth-Device": DEVICE}


def _entry(batch="WC-727", amounts=("29.35", "-24.35", "-5.00"), **changes):
    lines = [{"LineNumber": n, "AccountNumber": account, "Amount": amount, "Explanation": f"Order 727 line {n}"}
             for n, (account, amount) in enumerate(zip(["M30.1110.WEB", "M30.4010", "M30.4050"], amounts), 1)]
    entry = {"BatchNumber": batch, "Company": "00001", "DocumentType": "JE", "GLDate": "126330",
             "Currency": "USD", "Explanation": "WooCommerce order 727", "AddressNumber": 10001, "Lines": lines}
    entry.update(changes)
    return entry


def _post(ais, path, body, headers, **kwargs):
    return requests.post(ais.url + path, json=body, headers=headers, timeout=kwargs.pop("timeout", 5), **kwargs)


def _condition(column, operator, *values, table="F0911"):
    return {"controlId": f"{table}.{column}", "operator": operator,
            "value": [{"content": value, "specialValueId": "LITERAL"} for value in values]}


def _browse(ais, auth, *conditions, table="F0911", columns=None, page=100, match="MATCH_ALL"):
    body = {"targetName": table, "targetType": "table", "dataServiceType": "BROWSE", "maxPageSize": str(page),
            "enableNextPageProcessing": True,
            "query": {"autoFind": True, "matchType": match, "condition": list(conditions)}}
    if columns:
        body["returnControlIDs"] = "|".join(f"{table}.{column}" for column in columns)
    return _post(ais, BROWSE, body, auth)


def _grid(response, table="F0911"):
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)[f"fs_DATABROWSE_{table}"]["data"]["gridData"]


def _assert_error_body(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "ERROR" and body["exception"] and body["timeStamp"] and "message" in body
    assert "userDefinedErrorText" in body
    return body


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
    assert response.status_code == 200 and response.json() == {}
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


def test_orchestrator_token_in_body_with_device_in_body_is_accepted(ais):
    """The token and deviceName may travel in the body instead of the headers."""
    response = _post(ais, JE, {**_entry(), "token": _token(ais), "deviceName": DEVICE}, {})
    assert response.status_code == 200, response.text


def test_token_without_device_is_bound_to_caller_address(ais):
    """A token issued without deviceName works from the same address without a device header."""
    response = _post(ais, JE, _entry(), {"jde-AIS-Auth": _token(ais, device=None)})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("knob", ["token_ttl", "idle_timeout"])
def test_token_past_ttl_or_idle_answers_444(ais, auth, knob):
    """A token older than token_ttl, or unused longer than idle_timeout, answers 444."""
    assert _post(ais, JE, _entry("WC-1"), auth).status_code == 200
    assert requests.post(ais.url + "/sandbox/config", json={knob: 0.01}, timeout=5).status_code == 200
    # Poll with validate (touch false): it never refreshes the idle clock the way a call does.
    check = {"token": auth["jde-AIS-Auth"], "deviceName": DEVICE, "touch": False}
    deadline, status = time.monotonic() + 5, None
    while time.monotonic() < deadline and status != 444:
        status = _post(ais, "/jderest/v2/tokenrequest/validate", check, {}).status_code
    assert status == 444
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
    ais.configure(error_rate=1, drop_rate=1, timeout_rate=1)
    token = _token(ais)
    assert _post(ais, "/jderest/v2/tokenrequest/validate", {"token": token}, {}).status_code == 200
    assert _post(ais, "/jderest/v2/tokenrequest/logout", {"token": token}, {}).status_code == 200


# -- journal entries ------------------------------------------------------------------------


def test_post_journal_entry_success_writes_balanced_f0911_lines(ais, auth):
    """A balanced entry answers its document number and writes one F0911 line per input line."""
    response = _post(ais, JE, _entry(), auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["DocumentNumber"] == 100001 and body["BatchNumber"] == "WC-727"
    assert body["jde__status"] == "SUCCESS" and "jde__serverExecutionSeconds" in body
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
    entry = _entry()
    entry["Lines"][0]["Explanation"] = "x" * 45
    assert _post(ais, JE, entry, auth).status_code == 200
    assert ais.f0911_rows()[0]["EXA"] == "x" * 30


@pytest.mark.parametrize("entry, words", [
    (_entry(amounts=("29.35", "-24.35", "-5.01")), ["out of balance", "-0.01"]),
    (_entry(amounts=("29.35", "-24.35", "five")), ["amount", "five"]),
    (_entry(Currency=""), ["missing", "Currency"]),
    ({k: v for k, v in _entry().items() if k != "BatchNumber"}, ["missing", "BatchNumber"]),
    (_entry(Lines=[]), ["no journal entry lines"]),
    (_entry(GLDate="126367"), ["date", "126367"]),
    (_entry(GLDate="2026-11-26"), ["date"]),
    (_entry(Lines=[{"LineNumber": 1, "AccountNumber": "", "Amount": "0"}]), ["account number missing"]),
], ids=["unbalanced", "not-decimal", "empty-input", "missing-input", "no-lines", "day-367", "iso-date",
        "empty-account"])
def test_post_journal_entry_invalid_answers_400_and_writes_nothing(ais, auth, entry, words):
    """Invalid input answers 400 with a readable jde__simpleMessage and commits nothing."""
    body = _assert_error_body(_post(ais, JE, entry, auth), 400)
    assert body["jde__status"] == "ERROR"
    errors = body["message"]["ORCH_WOO_PostJournalEntry"]["errors"]
    assert errors[0]["CODE"] and errors[0]["TITLE"].startswith("Error: ")
    for word in words:
        assert word.lower() in body["jde__simpleMessage"].lower()
    assert body["userDefinedErrorText"] == body["jde__simpleMessage"]
    assert ais.f0911_rows() == []


def test_post_journal_entry_duplicate_batch_answers_400_naming_it(ais, auth):
    """A repeated BatchNumber answers 400 naming the duplicate; nothing new is written."""
    assert _post(ais, JE, _entry("WC-727"), auth).status_code == 200
    body = _assert_error_body(_post(ais, JE, _entry("WC-727"), auth), 400)
    assert "Duplicate" in body["jde__simpleMessage"] and "WC-727" in body["jde__simpleMessage"]
    assert "Duplicate" in body["userDefinedErrorText"] and "WC-727" in body["userDefinedErrorText"]
    assert len(ais.f0911_rows()) == 3


def test_post_journal_entry_numeric_amounts_stay_exact(ais, auth):
    """Amounts sent as JSON numbers are kept as exact decimals."""
    response = requests.post(ais.url + JE, headers={**auth, "Content-Type": "application/json"}, timeout=5,
                             data=json.dumps(_entry(), default=str).replace('"29.35"', "29.35"))
    assert response.status_code == 200, response.text
    assert ais.f0911_rows()[0]["AA"] == Decimal("29.35")


# -- customers --------------------------------------------------------------------------------


def test_add_customer_writes_f0101_and_f01151(ais, auth):
    """AddCustomer creates the address book row and, with an email, its F01151 row."""
    response = _post(ais, CUSTOMER, {
        "AlphaName": "Lovelace, Ada " + "x" * 40, "SearchType": "C", "Email": "ada@example.com",
        "Phone": "555-0100", "AddressLine1": "1 Analytical Way", "AddressLine2": "", "City": "London",
        "State": "", "PostalCode": "N1", "Country": "GB", "TaxId": "GB123"}, auth)
    assert response.status_code == 200, response.text
    assert response.json()["AddressNumber"] == 10001 and response.json()["jde__status"] == "SUCCESS"
    [customer] = ais.f0101_rows()
    assert customer["AN8"] == 10001 and len(customer["ALPH"]) == 40 and customer["ALPH"].startswith("Lovelace")
    assert (customer["AT1"], customer["TAX"]) == ("C", "GB123")
    assert ais.f01151_rows() == [{"AN8": 10001, "IDLN": 0, "RCK7": 1, "ETP": "E", "EMAL": "ada@example.com"}]
    second = _post(ais, CUSTOMER, {"AlphaName": "No Mail", "SearchType": "C"}, auth).json()
    assert second["AddressNumber"] == 10002 and len(ais.f01151_rows()) == 1
    assert ais.stats()["customers"] == 2


def test_add_customer_missing_name_answers_400(ais, auth):
    """AddCustomer without AlphaName answers 400 and creates nothing."""
    body = _assert_error_body(_post(ais, CUSTOMER, {"Email": "x@example.com"}, auth), 400)
    assert "AlphaName" in body["jde__simpleMessage"] and ais.f0101_rows() == []


def test_orchestrator_unknown_name_answers_404(ais, auth):
    """An orchestration the server does not have answers 404 with the error body."""
    body = _assert_error_body(_post(ais, "/jderest/v3/orchestrator/ORCH_Nope", {}, auth), 404)
    assert "ORCH_Nope" in body["message"]


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
    """The answer carries title, grid ids, column descriptions and no next link on the last page."""
    _post(ais, JE, _entry(), auth)
    body = _browse(ais, auth, _condition("VINV", "EQUAL", "WC-727"), columns=["DOC", "AA"]).json()
    form = body["fs_DATABROWSE_F0911"]
    assert form["title"] == "Data Browser - F0911 [Account Ledger]"
    assert form["data"]["gridData"]["columns"] == {"F0911_DOC": "Document Number", "F0911_AA": "Amount"}
    assert (form["data"]["gridData"]["id"], form["data"]["gridData"]["fullGridId"]) == (58, "58")
    assert body["currentApp"] == "DATABROWSE_F0911" and body["sysErrors"] == [] and "links" not in body


def test_dataservice_amounts_are_exact_decimals(ais, auth):
    """AA comes back with the exact digits posted, never a float artefact."""
    _post(ais, JE, _entry(amounts=("0.30", "-0.10", "-0.20")), auth)
    grid = _grid(_browse(ais, auth, _condition("VINV", "EQUAL", "WC-727"), columns=["AA"]))
    assert [row["F0911_AA"] for row in grid["rowset"]] == [Decimal("0.30"), Decimal("-0.10"), Decimal("-0.20")]


def test_dataservice_return_control_ids_filters_columns(ais, auth):
    """Only the requested returnControlIDs appear in a row; none requested gives all columns."""
    _post(ais, JE, _entry(), auth)
    grid = _grid(_browse(ais, auth, columns=["DOC", "VINV"]))
    assert all(set(row) == {"F0911_DOC", "F0911_VINV"} for row in grid["rowset"])
    everything = _grid(_browse(ais, auth))["rowset"][0]
    assert {"F0911_KCO", "F0911_ANI", "F0911_AA", "F0911_ICU", "F0911_LT"} <= set(everything)


def test_dataservice_paging_walks_all_rows_once(ais, auth):
    """250 rows at maxPageSize 100 come in 3 pages through the next links, each row once."""
    assert requests.post(ais.url + "/sandbox/f0911/insert", timeout=5, json={"rows": [
        {"DOC": 200000 + n, "VINV": f"WC-{n}", "DCT": "JE", "AA": "1.10", "JELN": 1} for n in range(250)]}).json() \
        == {"inserted": 250}
    response = _browse(ais, auth, _condition("DCT", "EQUAL", "JE"), columns=["DOC", "AA"], page=100)
    pages, docs = [], []
    while True:
        grid = _grid(response)
        pages.append(grid["summary"])
        docs += [row["F0911_DOC"] for row in grid["rowset"]]
        links = [link for link in response.json().get("links", []) if link["rel"] == "next"]
        if not links:
            break
        assert links[0]["href"] == ais.url + "/jderest/v2/dataservice/next"
        response = _post(ais, "/jderest/v2/dataservice/next", links[0]["context"], auth)
    assert pages == [{"records": 100, "moreRecords": True}, {"records": 100, "moreRecords": True},
                     {"records": 50, "moreRecords": False}]
    assert docs == [200000 + n for n in range(250)]


def test_dataservice_next_after_last_page_answers_400(ais, auth):
    """Once the last page is served the rid is forgotten; an unknown rid answers 400."""
    _post(ais, JE, _entry(), auth)
    first = _browse(ais, auth, page=2).json()
    context = first["links"][0]["context"]
    assert _post(ais, "/jderest/v2/dataservice/next", context, auth).status_code == 200
    _assert_error_body(_post(ais, "/jderest/v2/dataservice/next", context, auth), 400)
    _assert_error_body(_post(ais, "/jderest/v2/dataservice/next", {**context, "rid": "nope"}, auth), 400)


def test_dataservice_next_with_another_token_answers_400(ais, auth):
    """A cursor belongs to the session that opened it."""
    _post(ais, JE, _entry(), auth)
    context = _browse(ais, auth, page=1).json()["links"][0]["context"]
    other = {"jde-AIS-Auth": _token(ais), "jde-AIS-Auth-Device": DEVICE}
    _assert_error_body(_post(ais, "/jderest/v2/dataservice/next", context, other), 400)


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
], ids=["greater", "less-equal", "equal-numeric", "not-equal", "between", "list", "starts", "contains",
        "match-any", "match-all", "numeric-and-string"])
def test_dataservice_operators_select_rows(ais, auth, conditions, match, expected):
    """Each operator compares numbers numerically and strings exactly."""
    _post(ais, JE, _entry(), auth)
    grid = _grid(_browse(ais, auth, *conditions, match=match, columns=["AA"]))
    assert [row["F0911_AA"] for row in grid["rowset"]] == [Decimal(amount) for amount in expected]


@pytest.mark.parametrize("body", [
    {"targetName": "F4211", "targetType": "table"},
    {"targetName": "F0911", "targetType": "table", "returnControlIDs": "F0911.NOPE"},
    {"targetName": "F0911", "targetType": "table", "query": {"condition": [_condition("AA", "EQUAL", "x")]}},
    {"targetName": "F0911", "targetType": "table", "query": {"condition": [_condition("AA", "BETWEEN", "1")]}},
    {"targetName": "F0911", "targetType": "table", "query": {"condition": [_condition("AA", "LIKE", "1")]}},
], ids=["unknown-table", "unknown-column", "non-numeric-value", "between-one-value", "unknown-operator"])
def test_dataservice_bad_request_answers_400(ais, auth, body):
    """Requests the data service cannot run answer 400 with the error body."""
    _assert_error_body(_post(ais, BROWSE, body, auth), 400)


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
    _assert_error_body(_browse(ais, auth), 500)
    assert ais.f0911_rows() == [] and ais.stats()["faults"]["error"] == 2


def test_drop_rate_one_drops_connection_but_commits(ais, auth):
    """drop_rate=1: the client gets a connection error, yet the entry is in F0911."""
    requests.post(ais.url + "/sandbox/config", json={"drop_rate": 1}, timeout=5)
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


def test_faults_same_seed_same_sequence():
    """Two sandboxes with the same seed fault the same calls."""
    outcomes = []
    for _ in range(2):
        with AisSandbox(seed=42, error_rate=0.5) as sandbox:
            auth = {"jde-AIS-Auth": _token(sandbox), "jde-AIS-Auth-Device": DEVICE}
            outcomes.append([_post(sandbox, JE, _entry(f"WC-{n}"), auth).status_code for n in range(20)])
    assert outcomes[0] == outcomes[1] and {200, 500} == set(outcomes[0])


def test_latency_concurrent_calls_overlap(ais, auth):
    """Latency sleeps outside the lock: 10 concurrent calls at 0.1 s take far less than 1 s."""
    ais.configure(latency=0.1)
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(lambda n: _post(ais, JE, _entry(f"WC-{n}"), auth).status_code, range(10)))
    assert statuses == [200] * 10 and time.monotonic() - started < 0.7
    assert sorted({row["DOC"] for row in ais.f0911_rows()}) == list(range(100001, 100011))


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
        for content_type, expected in [("text/plain", 415), ("application/json", 200), ("application/json", 400)]:
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
    foreign = {"KCO": "00001", "DCT": "JE", "DOC": 100002, "VINV": "WC-2", "AA": "-12.34", "JELN": 1}
    assert requests.post(url + "insert", json={"rows": [foreign]}, timeout=5).json() == {"inserted": 1}
    rows = requests.get(ais.url + "/sandbox/tables/F0911", timeout=5).json()["rows"]
    assert [(row["VINV"], row["JELN"], row["AA"]) for row in rows] == [
        ("WC-2", 1, "12.34"), ("WC-2", 2, "-24.35"), ("WC-2", 3, "-5.00"), ("WC-2", 1, "-12.34")]
    assert _post(ais, JE, _entry("WC-1"), auth).json()["DocumentNumber"] == 100003  # past the inserted DOC
    assert _post(ais, JE, _entry("WC-2"), auth).status_code == 400


def test_sandbox_stats_counts_calls(ais, auth):
    """/sandbox/stats counts calls by path, orchestrations by name, documents and lines."""
    _post(ais, JE, _entry(), auth)
    _post(ais, CUSTOMER, {"AlphaName": "Ada"}, auth)
    _browse(ais, auth)
    stats = requests.get(ais.url + "/sandbox/stats", timeout=5).json()
    assert stats["calls"] == {"/jderest/v2/tokenrequest": 1, JE: 1, CUSTOMER: 1, BROWSE: 1}
    assert stats["orchestrations"] == {"ORCH_WOO_PostJournalEntry": 1, "ORCH_WOO_AddCustomer": 1}
    assert (stats["journal_entries"], stats["f0911_lines"], stats["customers"]) == (1, 3, 1)
    assert stats["faults"] == {"error": 0, "drop": 0, "timeout": 0}


def test_sandbox_reset_empties_tables_counters_and_tokens(ais, auth):
    """/sandbox/reset forgets rows, counters, tokens and run-time knobs."""
    _post(ais, JE, _entry(), auth)
    ais.configure(latency=0.5)
    assert requests.post(ais.url + "/sandbox/reset", timeout=5).status_code == 200
    assert ais.f0911_rows() == [] and ais.stats()["token_requests"] == 0
    assert requests.get(ais.url + "/sandbox/config", timeout=5).json()["latency"] == 0
    _assert_error_body(_post(ais, JE, _entry(), auth), 444)


@pytest.mark.parametrize("knobs", [{"nope": 1}, {"error_rate": 2}, {"latency": -1}, {"latency": "slow"}])
def test_sandbox_config_bad_knob_answers_400(ais, knobs):
    """An unknown knob or a value out of range answers 400 and changes nothing."""
    assert requests.post(ais.url + "/sandbox/config", json=knobs, timeout=5).status_code == 400
    assert requests.get(ais.url + "/sandbox/config", timeout=5).json()["error_rate"] == 0

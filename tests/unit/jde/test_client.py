"""AIS client retry and error rules, with `responses`."""
import json
from decimal import Decimal

import pytest
import redis as redis_lib
import requests
import responses

from connector.jde.client import DATASERVICE_PATH, ORCHESTRATOR_PATH, AisClient
from connector.jde.errors import (AisError, AisNotSent, AisOutcomeUnknown, AisRejected, AisTransient,
                                  AisUnavailable, AisWarning)
from connector.jde.session import TOKEN_PATH, AisLogin, AisSession

BASE = "https://ais.example.com"
ORCH = BASE + ORCHESTRATOR_PATH + "ORCH_WOO_PostJournalEntry"


@pytest.fixture
def client(redis_url):
    """A client whose token request always answers tok-N (N counts logins)."""
    redis = redis_lib.Redis.from_url(redis_url)
    redis.flushdb()
    counter = iter(range(1, 100))
    responses.add_callback(responses.POST, BASE + TOKEN_PATH, callback=lambda req: (
        200, {}, json.dumps({"userInfo": {"token": f"tok-{next(counter)}"}})))
    session = AisSession(AisLogin(BASE, "JDE", "JDV920", "*ALL", "dev", password="pw"), redis)
    calls = []
    return AisClient(session, max_tries=3, max_time=5, on_call=calls.append), calls


def _orch_calls():
    return [c for c in responses.calls if c.request.url == ORCH]


@responses.activate
def test_orchestrate_sends_token_and_device_headers(client):
    ais, calls = client
    responses.post(ORCH, json={"DocumentNumber": 100001, "jde__status": "SUCCESS"})
    assert ais.orchestrate("ORCH_WOO_PostJournalEntry", {"BatchNumber": "WC-1"})["DocumentNumber"] == 100001
    request = _orch_calls()[0].request
    assert request.headers["jde-AIS-Auth"] == "tok-1" and request.headers["jde-AIS-Auth-Device"] == "dev"
    assert calls[-1]["outcome"] == "ok" and calls[-1]["response"]["DocumentNumber"] == 100001


@responses.activate
def test_orchestrate_444_relogs_and_retries_once(client):
    ais, _ = client
    responses.post(ORCH, status=444, json={"message": "Invalid token"})
    responses.post(ORCH, json={"DocumentNumber": 7})
    assert ais.orchestrate("ORCH_WOO_PostJournalEntry", {})["DocumentNumber"] == 7
    assert [c.request.headers["jde-AIS-Auth"] for c in _orch_calls()] == ["tok-1", "tok-2"]


@responses.activate
def test_orchestrate_validation_error_is_rejected_not_retried(client):
    ais, calls = client
    responses.post(ORCH, status=400, json={
        "message": {"ORCH_WOO_PostJournalEntry": {"errors": [{"CODE": "0002", "DESC": "Account M30.9 invalid"}]}},
        "exception": "JDEException", "jde__simpleMessage": "Invalid account", "status": "ERROR"})
    with pytest.raises(AisRejected) as caught:
        ais.orchestrate("ORCH_WOO_PostJournalEntry", {})
    assert "Invalid account" in caught.value.text and "Account M30.9 invalid" in caught.value.text
    assert len(_orch_calls()) == 1 and calls[-1]["outcome"] == "rejected"


@responses.activate
def test_orchestrate_5xx_is_not_retried_blindly(client):
    ais, _ = client
    responses.post(ORCH, status=500, json={"message": "Server Failed to Process Request"})
    with pytest.raises(AisUnavailable):
        ais.orchestrate("ORCH_WOO_PostJournalEntry", {})
    assert len(_orch_calls()) == 1


@pytest.mark.parametrize("error", [requests.ReadTimeout("read"), requests.ConnectionError("reset by peer")])
@responses.activate
def test_orchestrate_lost_answer_is_outcome_unknown(client, error):
    ais, calls = client
    responses.post(ORCH, body=error)
    with pytest.raises(AisOutcomeUnknown):
        ais.orchestrate("ORCH_WOO_PostJournalEntry", {})
    assert len(_orch_calls()) == 1 and calls[-1]["outcome"] == "unknown"


@responses.activate
def test_orchestrate_connect_timeout_is_retried(client):
    ais, _ = client
    responses.post(ORCH, body=requests.ConnectTimeout("connect"))
    responses.post(ORCH, json={"DocumentNumber": 9})
    assert ais.orchestrate("ORCH_WOO_PostJournalEntry", {})["DocumentNumber"] == 9


@pytest.mark.parametrize("status, body, error", [
    (500, {"message": {"ServiceRequest: X": {"errors": [{"CODE": "0002", "TITLE": "Error: Invalid Account"}]}},
           "jde__status": "ERROR", "exceptionId": "e-1"}, AisRejected),
    (500, {"message": "Server Failed to Process Request", "exception": "javax.ws.rs.WebApplicationException"},
     AisTransient),
    (500, {"message": "BSFN F0911FSEditLine timed out after 90 seconds"}, AisTransient),
    (500, {"message": "Orchestration ORCH_WOO_PostJournalEntry was not found", "exception": "Exception"},
     AisRejected),
    (500, "<html><body>Internal Server Error</body></html>", AisOutcomeUnknown),
    (502, "<html>Bad Gateway</html>", AisOutcomeUnknown),
    (504, {"message": "Gateway Timeout"}, AisOutcomeUnknown),
    (503, "<html>Service Unavailable</html>", AisNotSent),
    (415, {"message": "Unsupported Media Type", "exception": "Exception"}, AisRejected),
])
@responses.activate
def test_orchestrate_answer_is_classified_by_body_not_status(client, status, body, error):
    ais, _ = client
    if isinstance(body, str):
        responses.post(ORCH, status=status, body=body, content_type="text/html")
    else:
        responses.post(ORCH, status=status, json=body)
    with pytest.raises(AisError) as caught:
        ais.orchestrate("ORCH_WOO_PostJournalEntry", {})
    assert type(caught.value) is error
    assert getattr(caught.value, "outage", False) == (error in (AisOutcomeUnknown, AisNotSent))


@responses.activate
def test_orchestrate_503_proxy_page_retried_as_never_sent(client):
    ais, _ = client
    responses.post(ORCH, status=503, body="<html>maintenance</html>", content_type="text/html")
    responses.post(ORCH, json={"DocumentNumber": 11, "jde__status": "SUCCESS"})
    assert ais.orchestrate("ORCH_WOO_PostJournalEntry", {})["DocumentNumber"] == 11
    assert len(_orch_calls()) == 2


@responses.activate
def test_orchestrate_warning_200_is_not_success(client):
    ais, _ = client
    responses.post(ORCH, json={"jde__status": "WARNING", "continuedOnError": [{"step": "R09110Z",
                                                                             "message": "report request failed"}]})
    with pytest.raises(AisWarning) as caught:
        ais.orchestrate("ORCH_WOO_PostJournalEntry", {})
    assert "report request failed" in caught.value.text


@responses.activate
def test_orchestrate_403_token_invalid_relogs_and_retries_once(client):
    ais, _ = client
    responses.post(ORCH, status=403, json={"message": "Token is Invalid", "exception": "java.lang.Exception"})
    responses.post(ORCH, json={"DocumentNumber": 8})
    assert ais.orchestrate("ORCH_WOO_PostJournalEntry", {})["DocumentNumber"] == 8
    assert [c.request.headers["jde-AIS-Auth"] for c in _orch_calls()] == ["tok-1", "tok-2"]


def _page(rows, more, rid="r1"):
    answer = {"fs_DATABROWSE_F0911": {"data": {"gridData": {"rowset": rows,
                                                            "summary": {"records": len(rows), "moreRecords": more}}}}}
    if more:
        answer["links"] = [{"rel": "next", "href": BASE + "/jderest/v2/dataservice/next",
                            "context": {"rid": rid, "stackId": 1, "stateId": 1}}]
    return answer


@responses.activate
def test_browse_follows_next_links_and_keeps_decimals(client):
    ais, _ = client
    responses.post(BASE + DATASERVICE_PATH, body=json.dumps(_page([{"F0911_AA": 29.35}], True)).replace(
        "29.35", "29.35"))
    responses.post(BASE + "/jderest/v2/dataservice/next", json=_page([{"F0911_AA": -18.0}], False))
    rows = list(ais.browse("F0911", columns=["AA"], conditions=[("VINV", "EQUAL", ["WC-727"])]))
    assert [r["F0911_AA"] for r in rows] == [Decimal("29.35"), Decimal("-18.0")]
    first = json.loads(responses.calls[1].request.body)
    assert first["query"]["condition"] == [{"controlId": "F0911.VINV", "operator": "EQUAL",
                                            "value": [{"content": "WC-727", "specialValueId": "LITERAL"}]}]
    assert json.loads(responses.calls[2].request.body)["rid"] == "r1"


@responses.activate
def test_browse_retries_5xx_with_backoff(client):
    ais, _ = client
    responses.post(BASE + DATASERVICE_PATH, status=503, body="busy")
    responses.post(BASE + DATASERVICE_PATH, json=_page([{"F0911_AA": 1}], False))
    assert len(list(ais.browse("F0911", columns=["AA"], conditions=[]))) == 1


@responses.activate
def test_browse_restarts_when_token_replaced_between_pages(client):
    ais, _ = client
    responses.post(BASE + DATASERVICE_PATH, json=_page([{"F0911_AA": 1}], True, rid="old"))
    responses.post(BASE + "/jderest/v2/dataservice/next", status=444, json={"message": "Invalid token"})
    responses.post(BASE + DATASERVICE_PATH, json=_page([{"F0911_AA": 1}], True, rid="new"))
    responses.post(BASE + "/jderest/v2/dataservice/next", json=_page([{"F0911_AA": 2}], False))
    rows = ais.browse("F0911", columns=["AA"], conditions=[])
    assert [r["F0911_AA"] for r in rows] == [1, 2]   # each row once
    next_calls = [c for c in responses.calls if c.request.url.endswith("/next")]
    assert json.loads(next_calls[-1].request.body)["rid"] == "new"
    assert next_calls[-1].request.headers["jde-AIS-Auth"] == "tok-2"

"""The AIS client held to Oracle's documented shapes (tests/fixtures/ais), not only to our sandbox.

Each test replays a request/response pair as Oracle documents it against the real client
and session, with `responses` playing the server.
"""
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote

import pytest
import redis as redis_lib
import responses

from connector.jde.client import DATASERVICE_PATH, ORCHESTRATOR_PATH, AisClient
from connector.jde.errors import AisRejected, AisUnavailable, AisWarning
from connector.jde.session import LOGOUT_PATH, TOKEN_PATH, VALIDATE_PATH, AisLogin, AisSession

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ais"
BASE = "https://ais.example.com"
ORCH = BASE + ORCHESTRATOR_PATH + "ORCH_WOO_PostJournalEntry"
NEXT = BASE + DATASERVICE_PATH + "/next"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def answer(name: str, url: str, **overrides):
    """Register the documented answer `name` for `url`."""
    document = fixture(name)
    body = document["body"] | overrides
    responses.post(url, status=document["status"], json=body)
    return body


@pytest.fixture
def session(redis_url):
    """A session on `responses` whose login answers Oracle's documented token response."""
    redis = redis_lib.Redis.from_url(redis_url)
    redis.flushdb()
    tokens = iter(["tok-1", "tok-2", "tok-3"])
    document = fixture("token-response")

    def login(request):
        body = json.loads(json.dumps(document["body"]))
        body["userInfo"]["token"] = next(tokens)
        return document["status"], {}, json.dumps(body)

    responses.add_callback(responses.POST, BASE + TOKEN_PATH, callback=login)
    return AisSession(AisLogin(BASE, "JDE", "JDV920", "*ALL", "connector", password="pw"), redis)


@pytest.fixture
def audit():
    """What the client hands to the audit log."""
    return []


@pytest.fixture
def client(session, audit):
    return AisClient(session, max_tries=2, max_time=2, on_call=audit.append)


@responses.activate
def test_token_response_gives_token_and_user_date_format(session):
    assert session.token() == "tok-1" and session.date_format == "MM/dd/yyyy"


@responses.activate
def test_validate_valid_keeps_token(session):
    session.token()
    answer("validate-valid", BASE + VALIDATE_PATH)
    assert session.keep_alive() == "valid" and session.token() == "tok-1"


@responses.activate
def test_validate_invalid_444_logs_in_again(session):
    session.token()
    answer("validate-invalid-444", BASE + VALIDATE_PATH)
    assert session.keep_alive() == "renewed" and session.token() == "tok-2"


@responses.activate
def test_logout_sends_the_token(session):
    session.token()
    answer("logout", BASE + LOGOUT_PATH)
    session.logout()
    assert json.loads(responses.calls[-1].request.body) == {"token": "tok-1"}


@responses.activate
def test_data_request_has_oracles_shape_with_user_date_format(client):
    page = fixture("data-page-with-next-link")["body"]
    page["fs_DATABROWSE_F0911"]["data"]["gridData"]["summary"]["moreRecords"] = False
    responses.post(BASE + DATASERVICE_PATH, json=page)
    client.browse("F0911", columns=["DOC", "DCT", "VINV", "AA", "DGJ"], page_size=100,
                  conditions=[("DGJ", "BETWEEN", [date(2026, 11, 1), date(2026, 11, 30)]),
                              ("DCT", "EQUAL", ["JE"])])
    assert json.loads(responses.calls[-1].request.body) == fixture("data-request-f0911")["request"]


@responses.activate
def test_data_page_next_link_followed_as_given_token_kept_out_of_audit(client, audit):
    first = answer("data-page-with-next-link", BASE + DATASERVICE_PATH)
    last = json.loads(json.dumps(first))
    grid = last["fs_DATABROWSE_F0911"]["data"]["gridData"]
    grid["rowset"] = [dict(grid["rowset"][0], F0911_DOC=5021, F0911_VINV="WC-728", F0911_DGJ="20261123")]
    grid["summary"]["moreRecords"] = False
    del last["links"]
    responses.post(NEXT, json=last)
    rows = client.browse("F0911", columns=["DOC", "VINV", "AA", "DGJ"], conditions=[], date_columns=("DGJ",))
    assert [(r["F0911_VINV"], r["F0911_AA"], r["F0911_DGJ"]) for r in rows] == [
        ("WC-727", Decimal("29.35"), date(2026, 11, 22)), ("WC-728", Decimal("29.35"), date(2026, 11, 23))]
    href = first["links"][0]["href"]
    sent = responses.calls[-1].request
    # Our own base URL, the href's path and query string as given (the token included).
    assert unquote(sent.url) == BASE + "/" + href.split("/", 3)[3]
    assert "token=044RnByWbW3FbLzpx" in sent.url
    assert "044RnByWbW3FbLzpx" not in json.dumps(audit, default=str)


@responses.activate
def test_appstack_string_context_is_followed_by_its_href(client):
    page = fixture("data-page-with-next-link")["body"]
    page["links"] = [dict(fixture("appstack-next-link-context")["links"][0],
                          href=BASE + "/jderest/v2/dataservice/next?stackId=1&stateId=2&rid=9f1c&fullGridId=1")]
    responses.post(BASE + DATASERVICE_PATH, json=page)
    last = json.loads(json.dumps(page))
    last["fs_DATABROWSE_F0911"]["data"]["gridData"]["summary"]["moreRecords"] = False
    responses.post(NEXT, json=last)
    assert len(client.browse("F0911", columns=["AA"], conditions=[])) == 2
    assert json.loads(responses.calls[-1].request.body) == {} and "rid=9f1c" in responses.calls[-1].request.url


@responses.activate
def test_expired_result_set_restarts_the_query_once_without_double_rows(client):
    answer("data-page-with-next-link", BASE + DATASERVICE_PATH)
    answer("data-next-expired-500", NEXT)
    page = fixture("data-page-with-next-link")["body"]
    page["fs_DATABROWSE_F0911"]["data"]["gridData"]["summary"]["moreRecords"] = False
    responses.post(BASE + DATASERVICE_PATH, json=page)
    rows = client.browse("F0911", columns=["AA"], conditions=[])
    assert [r["F0911_VINV"] for r in rows] == ["WC-727"]
    assert [c.request.url.split("?")[0] for c in responses.calls if "/dataservice" in c.request.url] == [
        BASE + DATASERVICE_PATH, NEXT, BASE + DATASERVICE_PATH]


@responses.activate
def test_expired_twice_is_unavailable_not_rows(client):
    answer("data-page-with-next-link", BASE + DATASERVICE_PATH)
    answer("data-next-expired-500", NEXT)
    with pytest.raises(AisUnavailable):
        client.browse("F0911", columns=["AA"], conditions=[])


@responses.activate
def test_orchestration_success_returns_outputs(client, audit):
    answer("orchestration-success", ORCH)
    assert client.orchestrate("ORCH_WOO_PostJournalEntry", {})["DocumentNumber"] == 5020
    assert audit[-1]["response"]["jde__status"] == "SUCCESS"


@responses.activate
def test_orchestration_error_500_is_a_rejection_with_form_text_and_exception_id(client):
    answer("orchestration-error-500", ORCH)
    with pytest.raises(AisRejected) as caught:
        client.orchestrate("ORCH_WOO_PostJournalEntry", {})
    assert "Invalid Account Number" in caught.value.text and "6b0d2f3e-2c1a-4b8e-9a57-0c6f6f0f9d11" in caught.value.text
    assert len([c for c in responses.calls if c.request.url == ORCH]) == 1


@responses.activate
def test_orchestration_warning_200_is_a_warning(client, audit):
    answer("orchestration-warning-200", ORCH)
    with pytest.raises(AisWarning) as caught:
        client.orchestrate("ORCH_WOO_PostJournalEntry", {})
    assert "Batch Out of Balance" in caught.value.text and "report request failed" in caught.value.text
    assert audit[-1]["response"]["continuedOnError"]


@responses.activate
def test_unknown_orchestration_500_is_a_rejection(client):
    answer("unknown-orchestration-500", BASE + ORCHESTRATOR_PATH + "ORCH_WOO_Missing")
    with pytest.raises(AisRejected) as caught:
        client.orchestrate("ORCH_WOO_Missing", {})
    assert "was not found" in caught.value.text


@pytest.mark.parametrize("name", ["validate-invalid-444", "data-403-token-invalid"])
@responses.activate
def test_invalid_token_answers_log_in_again_and_retry_once(client, name):
    answer(name, ORCH)
    answer("orchestration-success", ORCH)
    assert client.orchestrate("ORCH_WOO_PostJournalEntry", {})["DocumentNumber"] == 5020
    assert [c.request.headers["jde-AIS-Auth"] for c in responses.calls if c.request.url == ORCH] == ["tok-1", "tok-2"]


@responses.activate
def test_unsupported_media_415_is_a_rejection(client):
    answer("unsupported-media-415", ORCH)
    with pytest.raises(AisRejected) as caught:
        client.orchestrate("ORCH_WOO_PostJournalEntry", {})
    assert caught.value.status == 415 and "Unsupported Media Type" in caught.value.text

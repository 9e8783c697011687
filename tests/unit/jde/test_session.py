"""AIS token rules, with `responses` for the HTTP side and the real test Redis."""
import json
import threading

import pytest
import redis as redis_lib
import responses

from connector.jde.errors import AisRejected
from connector.jde.session import TOKEN_PATH, VALIDATE_PATH, AisLogin, AisSession

BASE = "https://ais.example.com"


@pytest.fixture
def redis(redis_url):
    """The test Redis, emptied before each test."""
    client = redis_lib.Redis.from_url(redis_url)
    client.flushdb()
    return client


def _login(device="woo-connector"):
    return AisLogin(base_url=BASE, username="JDE", password="pa55-w0rd", environment="JDV920", role="*ALL",
                    device_name=device)


def _token_answer(token):
    return {"username": "JDE", "environment": "JDV920", "userInfo": {"token": token, "addressNumber": 1}}


@responses.activate
def test_token_is_requested_once_and_shared_through_redis(redis):
    responses.post(BASE + TOKEN_PATH, json=_token_answer("tok-1"))
    first, second = AisSession(_login(), redis), AisSession(_login(), redis)
    assert first.token() == "tok-1" and second.token() == "tok-1"
    assert len(responses.calls) == 1
    sent = json.loads(responses.calls[0].request.body)
    assert sent["deviceName"] == "woo-connector" and sent["environment"] == "JDV920"


@responses.activate
def test_renew_is_single_flight_across_sessions(redis):
    responses.post(BASE + TOKEN_PATH, json=_token_answer("tok-1"))
    sessions = [AisSession(_login(), redis) for _ in range(6)]
    stale = sessions[0].token()
    responses.replace(responses.POST, BASE + TOKEN_PATH, json=_token_answer("tok-2"))
    results = []
    threads = [threading.Thread(target=lambda s=s: results.append(s.renew(stale))) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["tok-2"] * 6
    assert len(responses.calls) == 2   # the first login and one re-login


@responses.activate
def test_token_in_redis_is_sealed(redis):
    responses.post(BASE + TOKEN_PATH, json=_token_answer("tok-secret"))
    session = AisSession(_login(), redis, seal=lambda t: t[::-1].encode(), unseal=lambda b: b.decode()[::-1])
    session.token()
    assert b"tok-secret" not in redis.get(session.key)


@responses.activate
def test_keep_alive_touches_valid_token(redis):
    responses.post(BASE + TOKEN_PATH, json=_token_answer("tok-1"))
    responses.post(BASE + VALIDATE_PATH, json={"isValidSession": True})
    session = AisSession(_login(), redis)
    session.token()
    assert session.keep_alive() == "valid"
    assert json.loads(responses.calls[-1].request.body) == {"token": "tok-1", "touch": True}
    assert responses.calls[-1].request.headers["jde-AIS-Auth-Device"] == "woo-connector"


@responses.activate
def test_keep_alive_relogs_when_invalid(redis):
    responses.post(BASE + TOKEN_PATH, json=_token_answer("tok-1"))
    responses.post(BASE + VALIDATE_PATH, status=444, json={"message": "Invalid token"})
    session = AisSession(_login(), redis)
    session.token()
    responses.replace(responses.POST, BASE + TOKEN_PATH, json=_token_answer("tok-2"))
    assert session.keep_alive() == "renewed" and session.token() == "tok-2"


@responses.activate
def test_login_refused_is_rejected_without_password_in_error(redis):
    responses.post(BASE + TOKEN_PATH, status=403, json={"message": "Authorization Failure", "status": "ERROR"})
    with pytest.raises(AisRejected) as caught:
        AisSession(_login(), redis).token()
    assert "Authorization Failure" in str(caught.value) and "pa55-w0rd" not in str(caught.value)


def test_login_repr_hides_password():
    assert "pa55-w0rd" not in repr(_login())


@responses.activate
def test_audit_hook_never_sees_password_or_token(redis):
    calls = []
    responses.post(BASE + TOKEN_PATH, json=_token_answer("tok-hidden"))
    AisSession(_login(), redis, on_call=calls.append).token()
    assert calls and "pa55-w0rd" not in json.dumps(calls) and "tok-hidden" not in json.dumps(calls)


@responses.activate
def test_shared_facts_say_when_the_token_was_issued_without_using_it(redis):
    import time

    responses.post(BASE + TOKEN_PATH, json=_token_answer("tok-1") | {
        "userInfo": {"token": "tok-1", "simpleDateFormat": "dd.MM.yyyy", "dateFormat": "DME", "dateSeperator": "."}})
    session = AisSession(_login(), redis)
    assert session.shared_facts() is None                     # no token yet, and none asked for
    assert len(responses.calls) == 0
    before = time.time()
    session.token()
    facts = AisSession(_login(), redis).shared_facts()
    assert before <= facts["issued_at"] <= time.time() and facts["date_format"] == "dd.MM.yyyy"
    assert len(responses.calls) == 1
    redis.set(session.key, b"sealed under a key we no longer have")
    assert AisSession(_login(), redis, unseal=lambda blob: json.loads(blob)["x"]).shared_facts() is None

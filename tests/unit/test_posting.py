"""Posting decisions, with the AIS side played by `responses` and a real Postgres and Redis."""
import hashlib
import json

import pytest
import requests
import responses

from connector import deliveries, posting
from connector.jde.client import AisClient
from connector.jde.session import AisLogin, AisSession
from connector.store import deliveries as delivery_rows
from sandbox.woo_webhooks import php_json_encode

AIS = "https://ais.example.com"
ORCH = AIS + "/jderest/v3/orchestrator/ORCH_WOO_PostJournalEntry"
BROWSE = AIS + "/jderest/v2/dataservice"


@pytest.fixture
def ais(runtime):
    """An AIS client on `responses`, token always granted, customer already linked."""
    import redis

    redis.Redis.from_url(runtime.redis_url).flushdb()
    responses.start()
    responses.post(AIS + "/jderest/v2/tokenrequest", json={"userInfo": {"token": "tok"}})
    session = AisSession(AisLogin(AIS, "JDE", "JDV920", "*ALL", "dev", password="pw"), runtime.redis)
    yield lambda on_call=None: AisClient(session, max_tries=2, max_time=2, on_call=on_call)
    responses.stop()
    responses.reset()


def _ready_order(runtime, document) -> int:
    body = php_json_encode(document)
    with runtime.db.transaction() as cur:
        delivery_id, _ = delivery_rows.insert(
            cur, source=runtime.mapping.store.source, topic="order.created", webhook_id="1", wc_delivery_id=None,
            body=body, body_sha256=hashlib.sha256(body).digest(), dedupe_key=hashlib.sha256(body).digest(),
            state="queued", error=None, lease_seconds=60)
        row_id = deliveries.process(cur, delivery_id, posting_statuses=runtime.mapping.posting.statuses).row_id
        cur.execute("INSERT INTO customers (source, woo_id, email, address_number) VALUES (%s, NULL, %s, 4242)",
                    (runtime.mapping.store.source, document["billing"]["email"]))
    return row_id


def _post(runtime, ais, row_id, **options):
    return posting.post_order(runtime.db, runtime.mapping, ais, row_id, lease_seconds=60, retry_base=0.01,
                              **options)


def _row(runtime, row_id):
    with runtime.db.transaction() as cur:
        cur.execute("SELECT state, attempts, last_error, document_number FROM orders WHERE id = %s", (row_id,))
        return cur.fetchone()


def _f0911(*docs):
    rows = [{"F0911_DOC": d, "F0911_DCT": "JE", "F0911_VINV": "WC-727"} for d in docs]
    return {"fs_DATABROWSE_F0911": {"data": {"gridData": {"rowset": rows,
                                                          "summary": {"records": len(rows), "moreRecords": False}}}}}


def test_post_order_success_records_document(runtime, ais, fixture_payload):
    row_id = _ready_order(runtime, fixture_payload("order-727"))
    responses.post(ORCH, json={"DocumentNumber": 100123, "jde__status": "SUCCESS"})
    assert _post(runtime, ais, row_id).outcome == "posted"
    sent = json.loads([c for c in responses.calls if c.request.url == ORCH][0].request.body)
    assert sent["AddressNumber"] == 4242 and sent["GLDate"] == "117081" and sent["BatchNumber"] == "WC-727"
    assert _row(runtime, row_id)["document_number"] == "100123"


def test_post_order_duplicate_batch_is_verified_then_posted(runtime, ais, fixture_payload):
    row_id = _ready_order(runtime, fixture_payload("order-727"))
    responses.post(ORCH, status=400, json={"jde__simpleMessage": "Duplicate batch number WC-727",
                                           "jde__status": "ERROR"})
    responses.post(BROWSE, json=_f0911(100077))
    result = _post(runtime, ais, row_id)
    assert (result.outcome, result.document_number) == ("already_posted", "100077")
    assert _row(runtime, row_id)["state"] == "posted"


def test_post_order_validation_error_needs_attention_with_message(runtime, ais, fixture_payload):
    row_id = _ready_order(runtime, fixture_payload("order-727"))
    responses.post(ORCH, status=400, json={"message": {"errors": [{"DESC": "Account M30.4010 is not valid"}]},
                                           "jde__status": "ERROR"})
    assert _post(runtime, ais, row_id).outcome == "needs_attention"
    row = _row(runtime, row_id)
    assert row["state"] == "needs_attention" and "M30.4010 is not valid" in row["last_error"]
    assert len([c for c in responses.calls if c.request.url == ORCH]) == 1


def test_post_order_lost_answer_is_looked_up_before_retry(runtime, ais, fixture_payload):
    row_id = _ready_order(runtime, fixture_payload("order-727"))
    responses.post(ORCH, body=requests.ReadTimeout("read timed out"))
    responses.post(BROWSE, json=_f0911())                 # not there: it was not carried out
    result = _post(runtime, ais, row_id)
    assert result.outcome == "retry" and result.retry_in is not None
    assert _row(runtime, row_id)["state"] == "ready"
    responses.replace(responses.POST, BROWSE, json=_f0911(100500))   # second attempt: it is there after all
    assert _post(runtime, ais, row_id).outcome == "already_posted"
    assert len([c for c in responses.calls if c.request.url == ORCH]) == 1


def test_post_order_server_errors_retry_then_fail(runtime, ais, fixture_payload):
    row_id = _ready_order(runtime, fixture_payload("order-727"))
    responses.post(ORCH, status=500, json={"message": "Server Failed to Process Request"})
    responses.post(BROWSE, json=_f0911())
    outcomes = [_post(runtime, ais, row_id, max_attempts=3).outcome for _ in range(3)]
    assert outcomes == ["retry", "retry", "failed"]
    assert "gave up after 3 attempts" in _row(runtime, row_id)["last_error"]


def test_post_order_other_currency_needs_attention_without_ais_call(runtime, ais, fixture_payload):
    row_id = _ready_order(runtime, fixture_payload("order-727") | {"currency": "EUR"})
    assert _post(runtime, ais, row_id).outcome == "needs_attention"
    assert "EUR is not the company currency" in _row(runtime, row_id)["last_error"]
    assert not [c for c in responses.calls if c.request.url.startswith(AIS + "/jderest/v3")]


def test_post_order_already_claimed_is_skipped(runtime, ais, fixture_payload):
    row_id = _ready_order(runtime, fixture_payload("order-727"))
    with runtime.db.transaction() as cur:
        cur.execute("UPDATE orders SET state = 'posting', lease_until = now() + interval '1 hour' WHERE id = %s",
                    (row_id,))
    assert _post(runtime, ais, row_id).outcome == "skipped"
    assert not responses.calls

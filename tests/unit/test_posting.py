"""Posting decisions, with the AIS side played by `responses` and a real Postgres and Redis."""
import dataclasses
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


def _deliver(cur, runtime, document, topic="order.created"):
    """Store `document` as a delivery and process it, as the worker would."""
    body = php_json_encode(document)
    delivery_id, _ = delivery_rows.insert(
        cur, source=runtime.mapping.store.source, topic=topic, webhook_id="1", wc_delivery_id=None,
        body=body, body_sha256=hashlib.sha256(body).digest(), dedupe_key=hashlib.sha256(body).digest(),
        state="queued", error=None, lease_seconds=60)
    return deliveries.process(cur, delivery_id, posting_statuses=runtime.mapping.posting.statuses,
                              mapping=runtime.mapping)


def _ready_order(runtime, document) -> int:
    with runtime.db.transaction() as cur:
        row_id = _deliver(cur, runtime, document).row_id
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


def _orch_bodies():
    return [json.loads(c.request.body) for c in responses.calls if c.request.url == ORCH]


def _inputs(body) -> dict:
    """The header inputs of a JDE Standard body, as a dict."""
    return {i["name"]: i["value"] for i in body["inputs"]}


def test_post_order_success_records_document_sent_in_standard_format(runtime, ais, fixture_payload):
    row_id = _ready_order(runtime, fixture_payload("order-727"))
    responses.post(ORCH, json={"DocumentNumber": 100123, "jde__status": "SUCCESS"})
    assert _post(runtime, ais, row_id).outcome == "posted"
    [sent] = _orch_bodies()
    header = _inputs(sent)
    assert header["AddressNumber"] == "4242" and header["GLDate"] == "117081" and header["BatchNumber"] == "WC-727"
    [grid] = sent["detailInputs"]
    rows = [{i["name"]: i["value"] for i in row["inputs"]} for row in grid["repeatingInputs"]]
    assert grid["name"] == "GridData" and [(r["AccountNumber"], r["Amount"]) for r in rows] == [
        ("M30.1110.BANK", "29.35"), ("M30.4010", "-18.00"), ("M30.4050", "-10.00"), ("M30.2310", "-1.35")]
    assert _row(runtime, row_id)["document_number"] == "100123"


@pytest.mark.parametrize("date_format, expected", [("julian", "117081"), ("user", "22.03.2017"),
                                                   ("epoch_ms", "1490140800000")])
def test_post_order_gl_date_in_the_orchestration_date_format(runtime, ais, fixture_payload, date_format, expected):
    runtime.mapping = dataclasses.replace(runtime.mapping, orchestrations=dataclasses.replace(
        runtime.mapping.orchestrations, date_format=date_format))
    responses.replace(responses.POST, AIS + "/jderest/v2/tokenrequest", json={"userInfo": {
        "token": "tok", "simpleDateFormat": "dd.MM.yyyy", "dateSeperator": "."}})
    row_id = _ready_order(runtime, fixture_payload("order-727"))
    responses.post(ORCH, json={"DocumentNumber": 1, "jde__status": "SUCCESS"})
    assert _post(runtime, ais, row_id).outcome == "posted"
    assert _inputs(_orch_bodies()[0])["GLDate"] == expected


def test_post_order_generic_format_when_mapped(runtime, ais, fixture_payload):
    runtime.mapping = dataclasses.replace(runtime.mapping, orchestrations=dataclasses.replace(
        runtime.mapping.orchestrations, input_format="generic"))
    row_id = _ready_order(runtime, fixture_payload("order-727"))
    responses.post(ORCH, json={"DocumentNumber": 1, "jde__status": "SUCCESS"})
    assert _post(runtime, ais, row_id).outcome == "posted"
    [sent] = _orch_bodies()
    assert sent["BatchNumber"] == "WC-727" and len(sent["Lines"]) == 4 and "inputs" not in sent


def test_post_order_duplicate_batch_is_looked_up_whatever_the_wording(runtime, ais, fixture_payload):
    row_id = _ready_order(runtime, fixture_payload("order-727"))
    responses.post(ORCH, status=500, json={"message": {"ServiceRequest: FR": {"errors": [
        {"CODE": "078S", "TITLE": "Error: Record already exists"}]}}, "jde__status": "ERROR"})
    responses.post(BROWSE, json=_f0911(100077))
    result = _post(runtime, ais, row_id)
    assert (result.outcome, result.document_number) == ("already_posted", "100077")
    assert _row(runtime, row_id)["state"] == "posted"


def test_post_order_rejected_account_needs_attention_with_jde_text_and_exception_id(runtime, ais, fixture_payload):
    row_id = _ready_order(runtime, fixture_payload("order-727"))
    responses.post(ORCH, status=500, json={
        "message": {"ServiceRequest: FR_WOO_WriteF0911Z1": {"JAS Response": {"fs_P0911Z1_W0911Z1A": {"errors": [
            {"CODE": "0002", "TITLE": "Error: Invalid Account Number", "DESC": "M30.4010 is not valid"}]}}}},
        "exception": "Exception", "jde__status": "ERROR", "exceptionId": "6b0d2f3e-2c1a"})
    responses.post(BROWSE, json=_f0911())                # looked up first: not there
    assert _post(runtime, ais, row_id).outcome == "needs_attention"
    row = _row(runtime, row_id)
    assert row["state"] == "needs_attention" and row["attempts"] == 1
    assert "Invalid Account Number" in row["last_error"] and "6b0d2f3e-2c1a" in row["last_error"]
    assert len(_orch_bodies()) == 1 and len([c for c in responses.calls if c.request.url == BROWSE]) == 1


@pytest.mark.parametrize("in_jde, outcome", [(True, "posted"), (False, "needs_attention")])
def test_post_order_warning_is_looked_up(runtime, ais, fixture_payload, in_jde, outcome):
    row_id = _ready_order(runtime, fixture_payload("order-727"))
    responses.post(ORCH, json={"jde__status": "WARNING", "continuedOnError": [
        {"step": "R09110Z", "message": "report request failed"}]})
    responses.post(BROWSE, json=_f0911(*([100900] if in_jde else [])))
    result = _post(runtime, ais, row_id)
    assert result.outcome == outcome
    row = _row(runtime, row_id)
    assert row["state"] == outcome
    assert row["document_number"] == ("100900" if in_jde else None)
    if not in_jde:
        assert "report request failed" in row["last_error"]


def test_post_order_lost_answer_is_looked_up_and_waits_without_using_an_attempt(runtime, ais, fixture_payload):
    row_id = _ready_order(runtime, fixture_payload("order-727"))
    responses.post(ORCH, body=requests.ReadTimeout("read timed out"))
    responses.post(BROWSE, json=_f0911())                 # not there: it was not carried out
    result = _post(runtime, ais, row_id)
    assert result.outcome == "deferred" and result.retry_in is not None
    row = _row(runtime, row_id)
    assert (row["state"], row["attempts"]) == ("ready", 0)
    responses.replace(responses.POST, BROWSE, json=_f0911(100500))   # next attempt: it is there after all
    assert _post(runtime, ais, row_id).outcome == "already_posted"
    assert len(_orch_bodies()) == 1


def test_post_order_unreachable_jde_uses_no_attempt_and_never_fails(runtime, ais, fixture_payload):
    row_id = _ready_order(runtime, fixture_payload("order-727"))
    responses.post(ORCH, body=requests.ConnectionError("refused"))
    outcomes = {_post(runtime, ais, row_id, max_attempts=2).outcome for _ in range(5)}
    assert outcomes == {"deferred"}
    row = _row(runtime, row_id)
    assert (row["state"], row["attempts"]) == ("ready", 0)


def test_post_order_open_breaker_defers_without_claim_or_call(runtime, ais, fixture_payload):
    from connector.jde.breaker import Breaker

    row_id = _ready_order(runtime, fixture_payload("order-727"))
    breaker = Breaker(runtime.redis, "test:breaker", threshold=1, probe_seconds=30)
    breaker.record_outage("connection refused")
    result = _post(runtime, ais, row_id, breaker=breaker)
    assert result.outcome == "deferred" and 30 <= result.retry_in <= 60
    row = _row(runtime, row_id)
    assert (row["state"], row["attempts"]) == ("ready", 0) and not responses.calls
    breaker.close()
    responses.post(ORCH, json={"DocumentNumber": 5, "jde__status": "SUCCESS"})
    assert _post(runtime, ais, row_id, breaker=breaker).outcome == "posted"


def test_post_order_transient_jde_error_counts_and_is_looked_up_next_time(runtime, ais, fixture_payload):
    row_id = _ready_order(runtime, fixture_payload("order-727"))
    responses.post(ORCH, status=500, json={"message": "BSFN timed out", "exception": "Exception"})
    responses.post(BROWSE, json=_f0911())
    assert _post(runtime, ais, row_id).outcome == "retry"
    assert _row(runtime, row_id)["attempts"] == 1
    lookups = len([c for c in responses.calls if c.request.url == BROWSE])
    responses.replace(responses.POST, ORCH, json={"DocumentNumber": 6, "jde__status": "SUCCESS"})
    assert _post(runtime, ais, row_id).outcome == "posted"
    assert len([c for c in responses.calls if c.request.url == BROWSE]) == lookups + 1   # looked up first


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


def test_post_order_nothing_to_post_is_posted_without_ais_call(runtime, ais, fixture_payload):
    document = fixture_payload("order-727")
    document.update(total="0.00", total_tax="0.00", shipping_total="0.00")
    for item in document["line_items"]:
        item.update(subtotal="0.00", total="0.00", total_tax="0.00")
    document["shipping_lines"][0]["total"] = "0.00"
    document["tax_lines"][0]["tax_total"] = "0.00"
    row_id = _ready_order(runtime, document)
    assert _post(runtime, ais, row_id).outcome == "nothing_to_post"
    assert _row(runtime, row_id)["state"] == "posted" and not responses.calls
    with runtime.db.transaction() as cur:
        cur.execute("SELECT detail FROM audit_log WHERE action = 'order.nothing_to_post'")
        assert "nothing to post" in cur.fetchone()["detail"]


def test_post_order_unknown_product_waits_for_its_categories(runtime, ais, fixture_payload):
    from connector.mapping import parse_mapping
    from connector.store import products

    text = (runtime.settings.config_path).read_text() + '\n[accounts.revenue_by_category]\nmusic = "4020"\n'
    runtime.mapping = parse_mapping(text)
    document = fixture_payload("order-727")
    row_id = _ready_order(runtime, document)
    result = _post(runtime, ais, row_id)
    ids = sorted({item["product_id"] for item in document["line_items"]})
    assert (result.outcome, list(result.product_ids)) == ("needs_products", ids)
    assert (_row(runtime, row_id)["state"], _row(runtime, row_id)["attempts"]) == ("ready", 0) and not responses.calls
    with runtime.db.transaction() as cur:
        for pid in ids:
            products.upsert(cur, source=runtime.mapping.store.source, product={
                "id": pid, "categories": [{"slug": "music" if pid == ids[0] else "posters"}]})
    responses.post(ORCH, json={"DocumentNumber": 77, "jde__status": "SUCCESS"})
    assert _post(runtime, ais, row_id).outcome == "posted"
    rows = [{i["name"]: i["value"] for i in row["inputs"]} for row in _orch_bodies()[0]["detailInputs"][0]["repeatingInputs"]]
    assert "M30.4020" in {r["AccountNumber"] for r in rows}


def test_post_order_fee_reported_after_the_sale_is_its_own_entry(runtime, ais, fixture_payload):
    from connector.store import orders as order_rows

    document = fixture_payload("order-727") | {"payment_method": "stripe"}
    row_id = _ready_order(runtime, document)
    responses.post(ORCH, json={"DocumentNumber": 501, "jde__status": "SUCCESS"})
    assert _post(runtime, ais, row_id).outcome == "posted"
    # Stripe reports its fee later: the order comes back with it in the meta.
    later = document | {"date_modified_gmt": "2017-03-23T10:00:00",
                        "meta_data": [{"id": 1, "key": "_stripe_fee", "value": "1.15"},
                                      {"id": 2, "key": "_stripe_currency", "value": "USD"}]}
    with runtime.db.transaction() as cur:
        assert _deliver(cur, runtime, later, topic="order.updated").order_ready
    responses.replace(responses.POST, ORCH, json={"DocumentNumber": 502, "jde__status": "SUCCESS"})
    assert _post(runtime, ais, row_id).outcome == "posted"
    fee = _orch_bodies()[-1]
    assert _inputs(fee)["BatchNumber"] == "WC-727-F" and _inputs(fee)["GLDate"] == "117082"
    rows = [{i["name"]: i["value"] for i in r["inputs"]} for r in fee["detailInputs"][0]["repeatingInputs"]]
    assert [(r["AccountNumber"], r["Amount"]) for r in rows] == [("M30.6810", "1.15"), ("M30.1110.STRIPE", "-1.15")]
    with runtime.db.transaction() as cur:
        assert order_rows.get(cur, source=runtime.mapping.store.source, woo_id=727)["state"] == "posted"


def test_post_order_fee_in_another_currency_is_not_booked_and_the_audit_log_says_so(runtime, ais, fixture_payload):
    document = fixture_payload("order-727") | {
        "payment_method": "stripe", "meta_data": [{"id": 1, "key": "_stripe_fee", "value": "1.05"},
                                                  {"id": 2, "key": "_stripe_currency", "value": "EUR"}]}
    row_id = _ready_order(runtime, document)
    responses.post(ORCH, json={"DocumentNumber": 503, "jde__status": "SUCCESS"})
    assert _post(runtime, ais, row_id).outcome == "posted"
    rows = [{i["name"]: i["value"] for i in r["inputs"]} for r in _orch_bodies()[0]["detailInputs"][0]["repeatingInputs"]]
    assert "M30.6810" not in {r["AccountNumber"] for r in rows}
    with runtime.db.transaction() as cur:
        cur.execute("SELECT detail FROM audit_log WHERE action = 'order.fee_not_booked'")
        assert "in EUR, not in the order's USD" in cur.fetchone()["detail"]


def _refund_record(refund_id, amount, *, lines=(), paid=True, at="2017-03-25T18:00:00"):
    """A refund as `GET /orders/727/refunds` returns it (line totals negative)."""
    return {"id": refund_id, "date_created_gmt": at, "amount": amount, "reason": "", "refunded_payment": paid,
            "line_items": [{"id": 900 + item_id, "product_id": product_id, "quantity": -1, "total": f"-{total}",
                            "taxes": [{"id": 75, "total": f"-{tax}"}],
                            "meta_data": [{"key": "_refunded_item_id", "value": str(item_id)}]}
                           for item_id, product_id, total, tax in lines],
            "shipping_lines": [], "fee_lines": []}


def _keep_refunds(runtime, row_id, *records):
    from connector.store import refunds as refund_rows
    from connector.woo.schemas import load_refund

    with runtime.db.transaction() as cur:
        for record in records:
            refund_rows.store(cur, source=runtime.mapping.store.source, order_id=row_id, woo_order_id=727,
                              document=record, refund=load_refund(record))


def _sent_lines(body):
    return [(r["AccountNumber"], r["Amount"]) for r in
            ({i["name"]: i["value"] for i in row["inputs"]} for row in body["detailInputs"][0]["repeatingInputs"])]


def test_post_order_refund_waits_for_its_record_then_mirrors_its_lines(runtime, ais, fixture_payload):
    document = fixture_payload("order-727")
    row_id = _ready_order(runtime, document)
    responses.post(ORCH, json={"DocumentNumber": 601, "jde__status": "SUCCESS"})
    assert _post(runtime, ais, row_id).outcome == "posted"
    refunded = document | {"date_modified_gmt": "2017-03-26T10:00:00",
                           "refunds": [{"id": 801, "reason": "", "total": "-12.90"}]}
    with runtime.db.transaction() as cur:
        assert _deliver(cur, runtime, refunded, topic="order.updated").order_ready
    result = _post(runtime, ais, row_id)
    assert (result.outcome, result.refund_ids) == ("needs_refunds", (801,))
    # A new posting: the sale's attempt does not count against its reversals.
    assert (_row(runtime, row_id)["state"], _row(runtime, row_id)["attempts"]) == ("ready", 0)
    assert len(_orch_bodies()) == 1                    # nothing guessed meanwhile
    _keep_refunds(runtime, row_id, _refund_record(801, "12.90", lines=[(316, 22, "12.00", "0.90")], paid=False))
    responses.replace(responses.POST, ORCH, json={"DocumentNumber": 602, "jde__status": "SUCCESS"})
    assert _post(runtime, ais, row_id).outcome == "posted"
    reversal = _orch_bodies()[-1]
    assert _inputs(reversal)["BatchNumber"] == "WC-727-R801" and _inputs(reversal)["GLDate"] == "117084"
    assert _sent_lines(reversal) == [("M30.4010", "12.00"), ("M30.2310", "0.90"), ("M30.2460", "-12.90")]


def test_post_order_first_seen_refunded_posts_the_sale_while_the_refund_record_is_read(runtime, ais, fixture_payload):
    document = fixture_payload("order-727") | {"status": "refunded",
                                               "refunds": [{"id": 802, "reason": "", "total": "-29.35"}]}
    row_id = _ready_order(runtime, document)
    responses.post(ORCH, json={"DocumentNumber": 603, "jde__status": "SUCCESS"})
    assert _post(runtime, ais, row_id).outcome == "needs_refunds"
    assert [_inputs(b)["BatchNumber"] for b in _orch_bodies()] == ["WC-727"]
    assert _row(runtime, row_id)["document_number"] == "603"
    _keep_refunds(runtime, row_id, _refund_record(802, "29.35", at="2017-03-23T18:00:00"))
    assert _post(runtime, ais, row_id).outcome == "reversed"
    assert _sent_lines(_orch_bodies()[-1]) == [("M30.4010", "18.00"), ("M30.4050", "10.00"), ("M30.2310", "1.35"),
                                               ("M30.1110.BANK", "-29.35")]


def test_post_order_cancelled_then_refunded_reverses_the_sale_once(runtime, ais, fixture_payload):
    document = fixture_payload("order-727") | {"payment_method": "stripe"}
    row_id = _ready_order(runtime, document)
    responses.post(ORCH, json={"DocumentNumber": 604, "jde__status": "SUCCESS"})
    _post(runtime, ais, row_id)
    cancelled = document | {"status": "cancelled", "date_modified_gmt": "2017-03-24T18:00:00"}
    with runtime.db.transaction() as cur:
        assert _deliver(cur, runtime, cancelled, topic="order.updated").order_ready
    assert _post(runtime, ais, row_id).outcome == "reversed"
    assert _sent_lines(_orch_bodies()[-1]) == [("M30.4010", "18.00"), ("M30.4050", "10.00"), ("M30.2310", "1.35"),
                                               ("M30.2460", "-29.35")]
    refunded = cancelled | {"status": "refunded", "date_modified_gmt": "2017-03-25T18:00:00",
                            "refunds": [{"id": 803, "reason": "", "total": "-29.35"}]}
    with runtime.db.transaction() as cur:
        assert _deliver(cur, runtime, refunded, topic="order.updated").order_ready
    _keep_refunds(runtime, row_id, _refund_record(803, "29.35"))
    assert _post(runtime, ais, row_id).outcome == "reversed"
    assert _inputs(_orch_bodies()[-1])["BatchNumber"] == "WC-727-R803"
    assert _sent_lines(_orch_bodies()[-1]) == [("M30.2460", "29.35"), ("M30.1110.STRIPE", "-29.35")]
    # Delivered again, nothing more is due: no post, no call.
    with runtime.db.transaction() as cur:
        assert not _deliver(cur, runtime, refunded | {"customer_note": "again"}, topic="order.updated").order_ready
    assert len(_orch_bodies()) == 3


def test_post_order_recorded_reversal_is_sent_again_as_recorded(runtime, ais, fixture_payload):
    document = fixture_payload("order-727")
    row_id = _ready_order(runtime, document)
    responses.post(ORCH, json={"DocumentNumber": 605, "jde__status": "SUCCESS"})
    _post(runtime, ais, row_id)
    refunded = document | {"refunds": [{"id": 804, "reason": "", "total": "-10.00"}]}
    with runtime.db.transaction() as cur:
        _deliver(cur, runtime, refunded, topic="order.updated")
    _keep_refunds(runtime, row_id, _refund_record(804, "10.00"))
    responses.replace(responses.POST, ORCH, status=503, body="Service Unavailable")
    assert _post(runtime, ais, row_id).outcome == "deferred"
    first = _sent_lines(_orch_bodies()[-1])
    # The shop's record changing now changes nothing already recorded.
    _keep_refunds(runtime, row_id, _refund_record(804, "10.00", at="2017-04-30T18:00:00"))
    responses.replace(responses.POST, ORCH, json={"DocumentNumber": 606, "jde__status": "SUCCESS"})
    with runtime.db.transaction() as cur:
        cur.execute("UPDATE orders SET lease_until = NULL WHERE id = %s", (row_id,))
    assert _post(runtime, ais, row_id).outcome == "posted"
    assert _sent_lines(_orch_bodies()[-1]) == first and _inputs(_orch_bodies()[-1])["GLDate"] == "117084"

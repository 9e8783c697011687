"""Hostile and broken input: every delivery and order reaches a final state with a reason, headers
cannot rewrite a signed body, and values JDE must never see stay out of it."""
import pytest

from connector import deliveries, posting
from connector.store import deliveries as delivery_rows
from sandbox.woo_webhooks import delivery_headers, php_json_encode
from tests.conftest import WEBHOOK_SECRET
from tests.support import query

URL = "/webhooks/woocommerce"



def _send(client, document=None, *, topic="order.updated", body=None, **headers):
    body = php_json_encode(document) if body is None else body
    sent = delivery_headers(body=body, topic=topic, secret=WEBHOOK_SECRET) | headers
    return client.post(URL, data=body, headers=sent)


def _process(runtime, delivery_id):
    with runtime.db.transaction() as cur:
        return deliveries.process(cur, delivery_id, posting_statuses=runtime.mapping.posting.statuses,
                                  mapping=runtime.mapping)


def _delivery(clean_db, delivery_id):
    return query(clean_db, "SELECT state, error, tries FROM deliveries WHERE id = %s", delivery_id)[0]


@pytest.mark.parametrize("body, reason", [
    (b'{"id": 5, "a": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}", "nested deeper"),
    (b'{"id": 5, "total": ' + b"9" * 5000 + b"}", "a number of 5000 characters"),
    (b'{"id": 5, "total": 1e999999999}', "out of range"),
    (b'{"id": 9223372036854775808, "status": "processing", "line_items": []}', "id: must be an id"),
    (b'{"id": 5, "total": NaN, "line_items": []}', "NaN is not a number"),
    (b'{"id": 5, "customer_note": "\\ud800", "line_items": []}', "lone UTF-16 surrogate"),
    (b'{"id": 5, "customer_note": "a\\u0000b", "line_items": []}', "\\u0000"),
])
def test_delivery_that_cannot_be_stored_ends_error_with_a_readable_reason(client, runtime, clean_db, body, reason):
    response = _send(client, body=body)
    assert response.status_code == 200
    delivery_id = response.json["delivery_id"]
    result = _process(runtime, delivery_id)
    assert result.outcome == "error" and reason in result.error
    row = _delivery(clean_db, delivery_id)
    assert row["state"] == "error" and reason in row["error"] and len(row["error"]) < 400
    assert query(clean_db, "SELECT count(*) AS n FROM orders")[0]["n"] == 0


def test_delivery_failing_in_postgres_ends_error_not_in_a_loop(client, runtime, clean_db, fixture_payload, monkeypatch):
    from connector.store import orders as order_rows

    def refuse(cur, **kwargs):
        cur.execute("SELECT 1 / 0")       # a statement Postgres refuses: a DataError, not an outage
    monkeypatch.setattr(order_rows, "upsert", refuse)
    delivery_id = _send(client, fixture_payload("order-727")).json["delivery_id"]
    result = _process(runtime, delivery_id)
    assert result.outcome == "error" and result.error.startswith("DivisionByZero")
    assert _delivery(clean_db, delivery_id)["state"] == "error"


def test_delivery_taken_up_too_often_is_parked(client, runtime, clean_db, fixture_payload, monkeypatch):
    delivery_id = _send(client, fixture_payload("order-727")).json["delivery_id"]
    limit = runtime.settings.max_tries
    for _ in range(limit):      # a worker that dies on it each time never finishes it
        with runtime.db.transaction() as cur:
            assert delivery_rows.count_try(cur, delivery_id, max_tries=limit)
    with runtime.db.transaction() as cur:
        assert not delivery_rows.count_try(cur, delivery_id, max_tries=limit)
    row = _delivery(clean_db, delivery_id)
    assert row["state"] == "error" and row["error"].startswith(f"parked: taken up {limit} times")
    assert _process(runtime, delivery_id) is None
    # The operator sees it, with its reason.
    from click.testing import CliRunner

    from connector import runtime as runtimes
    from connector.cli import main

    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.setattr(runtimes, "_current", None)
    shown = CliRunner().invoke(main, ["status"])
    assert shown.exit_code == 0 and f"parked: taken up {limit} times" in shown.output


@pytest.mark.parametrize("topic, document_name, reason", [
    ("customer.updated", "order-727", "topic customer.updated carries a customer, but the body is an order"),
    ("order.deleted", "order-727", 'topic order.deleted carries only {"id": N}, but the body is an order'),
    ("order.updated", "customer-25", "topic order.updated carries an order, but the body is a customer"),
])
def test_topic_that_does_not_match_the_body_changes_nothing(client, runtime, clean_db, fixture_payload, topic,
                                                            document_name, reason):
    delivery_id = _send(client, fixture_payload(document_name), topic=topic).json["delivery_id"]
    result = _process(runtime, delivery_id)
    assert result.outcome == "error" and reason in result.error
    assert query(clean_db, "SELECT count(*) AS n FROM customers")[0]["n"] == 0
    assert query(clean_db, "SELECT count(*) AS n FROM orders")[0]["n"] == 0


def test_resource_header_that_does_not_match_the_topic_is_stored_as_error(client, clean_db, fixture_payload, enqueued):
    response = _send(client, fixture_payload("order-727"), **{"X-WC-Webhook-Resource": "customer"})
    assert response.status_code == 200 and response.json["state"] == "error" and not enqueued
    assert "does not match topic" in _delivery(clean_db, response.json["delivery_id"])["error"]


def test_same_body_under_other_headers_is_stored_once(client, clean_db, fixture_payload):
    body = php_json_encode(fixture_payload("order-727"))
    first = _send(client, body=body)
    for headers in ({"X-WC-Webhook-Topic": "order.created"}, {"X-WC-Webhook-Source": "https://evil.example/"},
                    {"X-WC-Webhook-Topic": "made.up"}, {"X-WC-Webhook-Delivery-ID": "999"}):
        again = _send(client, body=body, **headers)
        assert again.status_code == 200 and again.json["duplicate"]
        assert again.json["delivery_id"] == first.json["delivery_id"]
    assert query(clean_db, "SELECT count(*) AS n FROM deliveries")[0]["n"] == 1


def test_same_deletion_body_within_a_day_is_one_row(client, clean_db):
    ids = {_send(client, {"id": 727}, topic="order.deleted", **{"X-WC-Webhook-Delivery-ID": str(n)}
                 ).json["delivery_id"] for n in range(5)}
    assert len(ids) == 1
    other = _send(client, {"id": 727}, topic="customer.deleted").json["delivery_id"]
    assert other not in ids


@pytest.mark.parametrize("name, value", [
    ("X-WC-Webhook-Topic", "order." + "x" * 7000),
    ("X-WC-Webhook-Source", "https://shop.example.com/" + "a" * 3000),
    ("X-WC-Webhook-Topic", "order.updated\x01"),
    ("X-WC-Webhook-Delivery-ID", "1" * 100),
])
def test_header_no_woocommerce_sends_is_refused_and_nothing_stored(client, clean_db, fixture_payload, name, value):
    response = _send(client, fixture_payload("order-727"), **{name: value})
    assert response.status_code == 400 and name in response.json["error"]
    assert query(clean_db, "SELECT count(*) AS n FROM deliveries")[0]["n"] == 0


def _ready_order(client, runtime, document) -> int:
    result = _process(runtime, _send(client, document).json["delivery_id"])
    assert result.order_state == "ready", result
    return result.row_id


def _post(runtime, row_id):
    def no_ais(on_call=None):
        raise AssertionError("JDE must not be called")
    return posting.post_order(runtime.db, runtime.mapping, no_ais, row_id, lease_seconds=60, retry_base=0.01)


@pytest.mark.parametrize("changes, reason", [
    ({"date_paid_gmt": "0001-01-01T00:00:00"}, "outside the years 1900–2099"),
    ({"total": "1E+14"}, "beyond what a JDE amount holds"),
    ({"total": "-29.35"}, "total is negative"),
    ({"id": 2 ** 63 - 1}, "outside JDE's document number range"),
])
def test_order_jde_must_never_see_goes_to_a_person(client, runtime, clean_db, fixture_payload, changes, reason):
    row_id = _ready_order(client, runtime, fixture_payload("order-727") | changes)
    result = _post(runtime, row_id)
    assert result.outcome == "needs_attention" and reason in result.error
    assert query(clean_db, "SELECT count(*) AS n FROM journal_entries")[0]["n"] == 0


def test_order_total_beyond_what_postgres_holds_ends_the_delivery_as_error(client, runtime, clean_db,
                                                                          fixture_payload):
    result = _process(runtime, _send(client, fixture_payload("order-727") | {"total": "1E+27"}).json["delivery_id"])
    assert result.outcome == "error" and "numeric field overflow" in result.error
    assert query(clean_db, "SELECT count(*) AS n FROM orders")[0]["n"] == 0


def test_order_that_cannot_be_built_goes_to_a_person_with_the_cause(client, runtime, clean_db, fixture_payload,
                                                                    monkeypatch):
    from connector import ledger

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a rule nobody foresaw")
    monkeypatch.setattr(ledger, "journal_entry", broken)
    row_id = _ready_order(client, runtime, fixture_payload("order-727"))
    result = _post(runtime, row_id)
    assert result.outcome == "needs_attention"
    assert "ZeroDivisionError: a rule nobody foresaw" in result.error
    row = query(clean_db, "SELECT state, attempts, last_error FROM orders WHERE id = %s", row_id)[0]
    assert row["state"] == "needs_attention" and row["attempts"] == 1


def test_order_failing_unexpectedly_at_jde_is_retried_then_parked(client, runtime, clean_db, fixture_payload):
    row_id = _ready_order(client, runtime, fixture_payload("order-727"))

    def odd_client(on_call=None):
        raise KeyError("an answer nobody foresaw")
    outcomes = []
    for _ in range(posting.MAX_ATTEMPTS):
        with runtime.db.transaction() as cur:
            cur.execute("UPDATE orders SET lease_until = NULL WHERE id = %s", (row_id,))
        outcomes.append(posting.post_order(runtime.db, runtime.mapping, odd_client, row_id, lease_seconds=60,
                                           retry_base=0.01))
    assert [r.outcome for r in outcomes] == ["retry"] * (posting.MAX_ATTEMPTS - 1) + ["needs_attention"]
    assert "KeyError: 'an answer nobody foresaw'" in outcomes[-1].error

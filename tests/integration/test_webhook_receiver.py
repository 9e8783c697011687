"""The receiver over the Flask test client, on the real test database."""
from decimal import Decimal

import pytest

from connector import deliveries
from connector.runtime import Runtime
from sandbox.woo_webhooks import delivery_headers, php_json_encode, ping, signed_delivery
from tests.conftest import WEBHOOK_SECRET
from tests.support import query

URL = "/webhooks/woocommerce"



def _process_all(runtime, ids):
    results = []
    for delivery_id in ids:
        with runtime.db.transaction() as cur:
            results.append(deliveries.process(cur, delivery_id, posting_statuses=runtime.mapping.posting.statuses))
    return results


def test_receive_ping_answers_exactly_200_and_stores_nothing(client, clean_db):
    headers, body = ping(webhook_id=17)
    response = client.post(URL, data=body, headers=headers)
    assert response.status_code == 200
    assert query(clean_db, "SELECT count(*) AS n FROM deliveries")[0]["n"] == 0


@pytest.mark.parametrize("name, topic", [
    ("order-727", "order.created"), ("order-723", "order.updated"), ("customer-25", "customer.created"),
])
def test_receive_fixture_php_encoded_is_stored_byte_for_byte(client, clean_db, enqueued, fixture_payload,
                                                            name, topic):
    headers, body = signed_delivery(fixture_payload(name), topic=topic, secret=WEBHOOK_SECRET)
    response = client.post(URL, data=body, headers=headers)
    assert response.status_code == 200, response.json
    row = query(clean_db, "SELECT * FROM deliveries")[0]
    assert bytes(row["body"]) == body and row["topic"] == topic
    assert row["source"] == "https://shop.example.com/"
    assert enqueued == [row["id"]] == [response.json["delivery_id"]]


def test_receive_fixtures_become_orders_and_customers_with_exact_decimals(client, runtime, enqueued,
                                                                        fixture_payload):
    for name, topic in [("order-727", "order.created"), ("order-723", "order.created"),
                        ("customer-25", "customer.created")]:
        headers, body = signed_delivery(fixture_payload(name), topic=topic, secret=WEBHOOK_SECRET)
        assert client.post(URL, data=body, headers=headers).status_code == 200
    results = _process_all(runtime, enqueued)
    assert [r.outcome for r in results] == ["applied"] * 3
    orders = {r["woo_id"]: r for r in query(runtime.database_url, "SELECT * FROM orders")}
    assert orders[727]["total"] == Decimal("29.35") and orders[727]["state"] == "ready"
    assert orders[723]["total"] == Decimal("39.00")
    # The payload keeps money as strings and numbers without floats.
    assert orders[727]["payload"]["line_items"][1]["name"] == "Ship Your Idea &ndash; Color: Black, Size: M Test"
    customer = query(runtime.database_url, "SELECT * FROM customers")[0]
    assert (customer["woo_id"], customer["email"]) == (25, "john.doe@example.com")


def _tamper(body: bytes) -> bytes:
    changed = bytearray(body)
    changed[len(changed) // 2] ^= 0x01
    return bytes(changed)


@pytest.mark.parametrize("case", ["one_byte_changed", "other_secret", "no_signature", "empty_signature"])
def test_receive_unauthentic_gets_401_and_leaves_no_row(client, clean_db, enqueued, fixture_payload, case):
    headers, body = signed_delivery(fixture_payload("order-727"), topic="order.created", secret=WEBHOOK_SECRET)
    if case == "one_byte_changed":
        body = _tamper(body)
    elif case == "other_secret":
        headers = delivery_headers(body=body, topic="order.created", secret="not-the-secret")
    elif case == "no_signature":
        del headers["X-WC-Webhook-Signature"]
    else:
        headers["X-WC-Webhook-Signature"] = ""
    response = client.post(URL, data=body, headers=headers)
    assert response.status_code == 401
    assert "signature" in response.json["error"].lower()
    assert query(clean_db, "SELECT count(*) AS n FROM deliveries")[0]["n"] == 0 and enqueued == []


def test_receive_bad_signature_is_logged_without_body(client, clean_db, caplog):
    body = php_json_encode({"id": 1, "secret_note": "do-not-log-me"})
    client.post(URL, data=body, headers=delivery_headers(body=body, topic="order.created", secret="wrong"))
    assert "signature" in caplog.text and "do-not-log-me" not in caplog.text


def test_receive_rotated_secret_list_accepts_old_secret(runtime, enqueued, fixture_payload):
    from web.app import create_app

    app = create_app({"RUNTIME": runtime, "ENQUEUE": lambda i: enqueued.append(i) or True,
                      "BROKER_CHECK": lambda: True, "WEBHOOK_SECRETS": ("new-secret", "old-secret")})
    headers, body = signed_delivery(fixture_payload("order-727"), topic="order.created", secret="old-secret")
    assert app.test_client().post(URL, data=body, headers=headers).status_code == 200


def test_receive_body_over_2_mib_gets_413(client, clean_db):
    body = b'{"id": 1, "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = client.post(URL, data=body, headers=delivery_headers(body=body, topic="order.created",
                                                                    secret=WEBHOOK_SECRET))
    assert response.status_code == 413
    assert query(clean_db, "SELECT count(*) AS n FROM deliveries")[0]["n"] == 0


def test_receive_unhandled_topic_is_stored_ignored_not_enqueued(client, clean_db, enqueued):
    headers, body = signed_delivery({"id": 5, "name": "Widget"}, topic="coupon.updated", secret=WEBHOOK_SECRET)
    response = client.post(URL, data=body, headers=headers)
    assert response.status_code == 200 and response.json["state"] == "ignored"
    row = query(clean_db, "SELECT state, error FROM deliveries")[0]
    assert row["state"] == "ignored" and "coupon.updated" in row["error"] and enqueued == []


def test_receive_product_update_keeps_its_categories(client, runtime, enqueued):
    product = {"id": 40, "name": "Hoodie", "date_modified_gmt": "2026-11-20T10:00:00",
               "categories": [{"id": 17, "name": "Clothing", "slug": "clothing"},
                              {"id": 18, "name": "Accessories", "slug": "accessories"}]}
    headers, body = signed_delivery(product, topic="product.updated", secret=WEBHOOK_SECRET)
    assert client.post(URL, data=body, headers=headers).json["state"] == "queued"
    [result] = _process_all(runtime, enqueued)
    assert result.outcome == "applied"
    from connector.store import products

    with runtime.db.transaction() as cur:
        assert products.categories_of(cur, source=runtime.mapping.store.source, woo_ids=[40]) == {
            40: ["clothing", "accessories"]}


@pytest.mark.parametrize("body, reason", [
    (b"{this is not json", "not valid JSON"),
    (b'{"id": 9, "status": "processing", "line_items": []}', "currency: Missing data"),
])
def test_receive_authentic_unusable_payload_is_stored_as_error_and_answered_200(client, runtime, enqueued,
                                                                                body, reason):
    headers = delivery_headers(body=body, topic="order.updated", secret=WEBHOOK_SECRET)
    assert client.post(URL, data=body, headers=headers).status_code == 200
    [result] = _process_all(runtime, enqueued)
    assert result.outcome == "error"
    row = query(runtime.database_url, "SELECT state, error, body FROM deliveries")[0]
    assert row["state"] == "error" and reason in row["error"] and bytes(row["body"]) == body
    assert query(runtime.database_url, "SELECT count(*) AS n FROM orders")[0]["n"] == 0


def test_receive_exact_repeat_is_recognised_and_not_processed_twice(client, clean_db, enqueued, fixture_payload):
    headers, body = signed_delivery(fixture_payload("order-727"), topic="order.updated", secret=WEBHOOK_SECRET)
    first = client.post(URL, data=body, headers=headers).json
    headers["X-WC-Webhook-Delivery-ID"] = "99999"  # WooCommerce gives every delivery a new id
    second = client.post(URL, data=body, headers=headers).json
    assert second["duplicate"] is True and second["delivery_id"] == first["delivery_id"]
    assert enqueued == [first["delivery_id"]]
    assert query(clean_db, "SELECT count(*) AS n FROM deliveries")[0]["n"] == 1


def test_receive_second_deletion_of_same_order_the_same_day_is_one_delivery(client, clean_db, enqueued):
    # {"id": N} carries no version: a fresh delivery id must not make a new row each time (a
    # captured deletion resent 1,000 times is one row a day).
    duplicates = []
    for delivery_id in (501, 502):
        headers, body = signed_delivery({"id": 727}, topic="order.deleted", secret=WEBHOOK_SECRET,
                                        delivery_id=delivery_id)
        duplicates.append(client.post(URL, data=body, headers=headers).json["duplicate"])
    assert duplicates == [False, True] and len(enqueued) == 1


def test_receive_broker_down_still_200_and_row_waits_for_sweeper(runtime, fixture_payload):
    from web.app import create_app

    app = create_app({"RUNTIME": runtime, "ENQUEUE": lambda i: False, "BROKER_CHECK": lambda: False})
    headers, body = signed_delivery(fixture_payload("order-727"), topic="order.created", secret=WEBHOOK_SECRET)
    response = app.test_client().post(URL, data=body, headers=headers)
    assert response.status_code == 200
    assert query(runtime.database_url, "SELECT state FROM deliveries")[0]["state"] == "received"
    with runtime.db.transaction() as cur:
        cur.execute("UPDATE deliveries SET lease_until = now() - interval '1 second'")
    with runtime.db.transaction() as cur:
        assert deliveries.take_due(cur, lease_seconds=60) == [response.json["delivery_id"]]


def test_receive_postgres_down_gets_503(runtime, fixture_payload):
    from web.app import create_app

    dead = Runtime(settings=runtime.settings, mapping=runtime.mapping,
                   database_url="postgresql://postgres@127.0.0.1:1/none", redis_url=runtime.redis_url)
    app = create_app({"RUNTIME": dead, "ENQUEUE": lambda i: True, "BROKER_CHECK": lambda: True})
    headers, body = signed_delivery(fixture_payload("order-727"), topic="order.created", secret=WEBHOOK_SECRET)
    client = app.test_client()
    assert client.post(URL, data=body, headers=headers).status_code == 503
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200


def test_readyz_ready_when_postgres_and_broker_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json["checks"] == {"postgres": True, "broker": True}
    # No AIS server to probe here: JDE is unknown, not bad, so nothing is degraded.
    assert response.json["status"] == "ready" and response.json["degraded"] == []
    assert response.json["jde"].startswith("no AIS server to ask")


def test_readyz_says_jde_unreachable_but_stays_ready(client, runtime):
    runtime.redis.flushdb()
    for _ in range(runtime.settings.breaker_threshold):
        runtime.breaker.record_outage("AIS answered 503")
    response = client.get("/readyz")
    # Webhooks are still taken and kept while JDE is down: ready, with the detail.
    assert response.status_code == 200 and response.json["status"] == "degraded" and "jde" in response.json["degraded"]
    assert response.json["jde"].startswith("unreachable since ") and "503" in response.json["jde"]
    runtime.breaker.close()


def test_metrics_counts_webhook_outcomes(client, clean_db):
    body = b"{}"
    client.post(URL, data=body, headers=delivery_headers(body=body, topic="order.created", secret="wrong"))
    text = client.get("/metrics").get_data(as_text=True)
    assert 'connector_webhooks_total{outcome="bad_signature"}' in text


def test_receive_source_of_the_same_shop_is_keyed_as_the_mapping(client, runtime, enqueued, fixture_payload):
    headers, body = signed_delivery(fixture_payload("order-727"), topic="order.created", secret=WEBHOOK_SECRET,
                                    source="http://www.shop.example.com")
    assert client.post(URL, data=body, headers=headers).status_code == 200
    assert query(runtime.database_url, "SELECT source FROM deliveries")[0]["source"] == "https://shop.example.com/"


def test_receive_other_store_is_kept_as_error_not_booked(client, runtime, enqueued, fixture_payload):
    headers, body = signed_delivery(fixture_payload("order-727"), topic="order.created", secret=WEBHOOK_SECRET,
                                    source="https://another-shop.example.org/")
    assert client.post(URL, data=body, headers=headers).status_code == 200
    with runtime.db.transaction() as cur:
        result = deliveries.process(cur, enqueued[0], posting_statuses=runtime.mapping.posting.statuses,
                                    expected_source=runtime.mapping.store.source)
    assert result.outcome == "error" and "another-shop.example.org" in result.error
    assert query(runtime.database_url, "SELECT count(*) AS n FROM orders")[0]["n"] == 0


def test_load_runtime_outside_sandbox_needs_secret_key(monkeypatch):
    from connector.runtime import load_runtime
    from connector.vault import MissingSecretKey

    monkeypatch.setenv("AIS_BASE_URL", "https://ais.example.com")
    monkeypatch.delenv("CONNECTOR_SECRET_KEY", raising=False)
    with pytest.raises(MissingSecretKey, match="CONNECTOR_SECRET_KEY is required"):
        load_runtime()

"""Order upserts on a real Postgres, each test in a rolled-back transaction."""
import copy
import hashlib

import pytest

from connector import deliveries
from connector.store import deliveries as delivery_rows
from sandbox.woo_webhooks import php_json_encode

STATUSES = frozenset({"processing", "completed"})


def _deliver(cur, document, topic="order.updated", wc_delivery_id=None):
    body = php_json_encode(document)
    delivery_id, _ = delivery_rows.insert(
        cur, source="https://shop.example.com/", topic=topic, webhook_id="1", wc_delivery_id=wc_delivery_id,
        body=body, body_sha256=hashlib.sha256(body).digest(),
        dedupe_key=hashlib.sha256(body + (wc_delivery_id or "").encode()).digest(),
        state="received", error=None, lease_seconds=60,
    )
    return deliveries.process(cur, delivery_id, posting_statuses=STATUSES)


def _order(cur, woo_id=727):
    cur.execute("SELECT * FROM orders WHERE woo_id = %s", (woo_id,))
    return cur.fetchone()


def _version(document, minute, status=None):
    doc = copy.deepcopy(document)
    doc["date_modified_gmt"] = f"2017-03-22T19:{minute:02d}:00"
    if status:
        doc["status"] = status
    return doc


def test_process_order_newer_payload_replaces_older(db, fixture_payload):
    base = fixture_payload("order-727")
    _deliver(db, _version(base, 10, "pending"))
    assert _deliver(db, _version(base, 20, "processing")).outcome == "applied"
    row = _order(db)
    assert row["status"] == "processing" and row["state"] == "ready"


def test_process_order_stale_payload_never_overwrites_newer(db, fixture_payload):
    base = fixture_payload("order-727")
    _deliver(db, _version(base, 20, "completed"))
    result = _deliver(db, _version(base, 10, "pending"))
    assert result.outcome == "stale"
    row = _order(db)
    assert row["status"] == "completed" and row["payload"]["date_modified_gmt"] == "2017-03-22T19:20:00"


@pytest.mark.parametrize("status, state", [
    ("pending", "awaiting_payment"), ("on-hold", "awaiting_payment"), ("failed", "awaiting_payment"),
    ("processing", "ready"), ("completed", "ready"),
])
def test_process_order_posting_state_follows_status(db, fixture_payload, status, state):
    result = _deliver(db, _version(fixture_payload("order-727"), 10, status))
    assert result.order_state == state == _order(db)["state"]
    assert result.order_ready is (state == "ready")


def test_process_order_leaves_posting_workflow_states_alone(db, fixture_payload):
    base = fixture_payload("order-727")
    _deliver(db, _version(base, 10, "processing"))
    db.execute("UPDATE orders SET state = 'posted' WHERE woo_id = 727")
    _deliver(db, _version(base, 20, "completed"))
    assert _order(db)["state"] == "posted" and _order(db)["status"] == "completed"


def test_process_delivery_twice_applies_once(db, fixture_payload):
    body = php_json_encode(fixture_payload("order-727"))
    delivery_id, _ = delivery_rows.insert(
        db, source="https://shop.example.com/", topic="order.created", webhook_id="1", wc_delivery_id="1",
        body=body, body_sha256=hashlib.sha256(body).digest(), dedupe_key=hashlib.sha256(body).digest(),
        state="received", error=None, lease_seconds=60,
    )
    assert deliveries.process(db, delivery_id, posting_statuses=STATUSES).outcome == "applied"
    assert deliveries.process(db, delivery_id, posting_statuses=STATUSES) is None
    db.execute("SELECT count(*) AS n FROM audit_log WHERE action = 'delivery.processed'")
    assert db.fetchone()["n"] == 1


def test_process_deleted_then_restored(db, fixture_payload):
    base = fixture_payload("order-727")
    _deliver(db, _version(base, 10))
    assert _deliver(db, {"id": 727}, topic="order.deleted", wc_delivery_id="d1").outcome == "deleted"
    assert _order(db)["deleted"] is True
    _deliver(db, _version(base, 30), topic="order.restored")
    assert _order(db)["deleted"] is False


def test_process_deleted_unknown_order_is_recorded(db):
    assert _deliver(db, {"id": 4242}, topic="order.deleted", wc_delivery_id="d9").outcome == "unknown_resource"


def test_process_customer_stale_update_ignored(db, fixture_payload):
    newer = fixture_payload("customer-25")
    older = copy.deepcopy(newer)
    older["date_modified_gmt"], older["email"] = "2017-03-21T19:00:00", "old@example.com"
    _deliver(db, newer, topic="customer.updated")
    assert _deliver(db, older, topic="customer.updated").outcome == "stale"
    db.execute("SELECT email FROM customers WHERE woo_id = 25")
    assert db.fetchone()["email"] == "john.doe@example.com"


def test_audit_log_refuses_updates(db):
    from connector.store import audit
    import psycopg2

    audit.record(db, subject_type="order", subject_id=1, action="test")
    with pytest.raises(psycopg2.errors.RaiseException, match="append-only"):
        db.execute("UPDATE audit_log SET action = 'rewritten'")

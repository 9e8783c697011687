"""Operator commands that must change nothing when there is nothing to do."""
import hashlib

import psycopg2
from click.testing import CliRunner

from connector import deliveries
from connector.cli import main
from connector.store import deliveries as delivery_rows
from sandbox.woo_webhooks import php_json_encode
from tests.support import one_line_failure

TABLES = ("deliveries", "orders", "customers", "journal_entries", "audit_log")


def _snapshot(db_url) -> dict:
    conn = psycopg2.connect(db_url)
    try:
        with conn.cursor() as cur:
            snapshot = {}
            for table in TABLES:
                cur.execute(f"SELECT t::text FROM {table} t ORDER BY 1")
                snapshot[table] = [row[0] for row in cur.fetchall()]
            return snapshot
    finally:
        conn.close()


def _processed_delivery(runtime, document) -> int:
    body = php_json_encode(document)
    with runtime.db.transaction() as cur:
        delivery_id, _ = delivery_rows.insert(
            cur, source=runtime.mapping.store.source, topic="order.created", webhook_id="1", wc_delivery_id="9",
            body=body, body_sha256=hashlib.sha256(body).digest(), dedupe_key=hashlib.sha256(body).digest(),
            state="queued", error=None, lease_seconds=60)
        deliveries.process(cur, delivery_id, posting_statuses=runtime.mapping.posting.statuses)
    return delivery_id


def test_requeue_processed_delivery_changes_nothing(runtime, fixture_payload):
    delivery_id = _processed_delivery(runtime, fixture_payload("order-727"))
    before = _snapshot(runtime.database_url)
    result = CliRunner().invoke(main, ["requeue", str(delivery_id)])
    assert result.exit_code == 0, result.output
    assert "already processed" in result.output
    assert _snapshot(runtime.database_url) == before


def test_process_delivery_again_changes_nothing(runtime, fixture_payload):
    delivery_id = _processed_delivery(runtime, fixture_payload("order-727"))
    before = _snapshot(runtime.database_url)
    # What `celery -A tasks call process_delivery --args '[id]'` runs in the worker.
    with runtime.db.transaction() as cur:
        assert deliveries.process(cur, delivery_id, posting_statuses=runtime.mapping.posting.statuses) is None
    assert _snapshot(runtime.database_url) == before


def test_replay_unpaid_order_changes_nothing(runtime, fixture_payload):
    pending = fixture_payload("order-727") | {"status": "pending", "date_paid_gmt": None}
    _processed_delivery(runtime, pending)
    before = _snapshot(runtime.database_url)
    result = CliRunner().invoke(main, ["replay", "727"])
    assert result.exit_code == 0, result.output
    assert "not paid" in result.output
    assert _snapshot(runtime.database_url) == before


def test_replay_unknown_order_says_so(runtime):
    result = CliRunner().invoke(main, ["replay", "424242"])
    assert result.exit_code == 0 and "no such order" in result.output


def test_reconcile_ais_unreachable_is_one_line_naming_the_url(runtime, monkeypatch):
    from connector import runtime as runtimes
    from connector.embedded import free_port

    url = f"http://127.0.0.1:{free_port()}"   # nothing listens there
    monkeypatch.setenv("AIS_BASE_URL", url)
    monkeypatch.setenv("CONNECTOR_SECRET_KEY", "mlkxmD3h0Yk0xvJsG4rXH2vS1F0wq3Zb6Yb0hCwQ2kE=")
    monkeypatch.setattr(runtimes, "_current", None)
    result = CliRunner().invoke(main, ["reconcile", "--from", "2026-11-01", "--to", "2026-11-30"])
    one_line_failure(result, "JDE AIS unreachable", url, "Fix:")
    monkeypatch.setattr(runtimes, "_current", None)


def test_orders_show_unknown_order_is_one_line(runtime, monkeypatch):
    from connector import runtime as runtimes

    monkeypatch.setattr(runtimes, "_current", None)
    one_line_failure(CliRunner().invoke(main, ["orders", "show", "999999"]), "order 999999 is not known here")


def test_bad_date_is_one_line(runtime):
    one_line_failure(CliRunner().invoke(main, ["reconcile", "--from", "2026-13-01"]), "2026-13-01", "--help")


def test_run_port_in_use_is_one_line(runtime):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        one_line_failure(CliRunner().invoke(main, ["run", "--port", str(port)]), f"port {port} is in use",
                          "PORT=")

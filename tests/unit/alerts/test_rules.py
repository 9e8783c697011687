"""The scans that notice facts: each fact once, nothing from before alerting started, only
whitelisted fields kept. Real Postgres, each test in a rolled-back transaction."""
import json
from datetime import date, datetime, timedelta, timezone

import pytest

from connector.alerts import rules
from connector.reconciliation import Item
from connector.store import reconciliation as run_rows

SECRET = "pw-Leaked-1"


@pytest.fixture
def cur(db):
    db.execute("TRUNCATE alert_events, alert_channels, alert_messages, reconciliation_runs CASCADE")
    return db


def _audit(cur, *, ago_seconds, action="order.state", subject="727", outcome="needs_attention", response=None,
           detail=None, row_id=None):
    cur.execute(
        "INSERT INTO audit_log (id, at, subject_type, subject_id, action, outcome, response, detail) "
        "VALUES (COALESCE(%s, nextval('audit_log_id_seq')), now() - make_interval(secs => %s), 'order', %s, %s, %s, "
        "%s::jsonb, %s) RETURNING id",
        (row_id, ago_seconds, subject, action, outcome, json.dumps(response) if response else None, detail))
    return cur.fetchone()["id"]


def _events(cur, kind):
    cur.execute("SELECT subject, detail FROM alert_events WHERE kind = %s ORDER BY id", (kind,))
    return [(row["subject"], row["detail"]) for row in cur.fetchall()]


def test_scan_orders_notices_attention_and_failed_once(cur):
    _audit(cur, ago_seconds=30, subject="727", outcome="needs_attention", detail=f"JDE said {SECRET}")
    _audit(cur, ago_seconds=20, subject="728", outcome="failed")
    _audit(cur, ago_seconds=10, subject="729", outcome="posted")
    assert rules.scan_orders(cur) == 2
    assert rules.scan_orders(cur) == 0       # the lookback sees them again, and knows them
    assert _events(cur, "orders") == [("727", {"state": "needs_attention"}), ("728", {"state": "failed"})]


def test_scan_orders_first_scan_leaves_history_alone(cur):
    _audit(cur, ago_seconds=86400, subject="700")
    _audit(cur, ago_seconds=5, subject="727")
    assert rules.scan_orders(cur) == 1
    assert _events(cur, "orders") == [("727", {"state": "needs_attention"})]


def test_scan_orders_sees_row_committed_after_a_newer_one(cur):
    """Ids are taken at insert, rows seen at commit: a lower id may appear after the watermark moved."""
    settled = _audit(cur, ago_seconds=1200, subject="700", outcome="posted")
    _audit(cur, ago_seconds=5, subject="727", row_id=settled + 10)
    assert rules.scan_orders(cur) == 1
    _audit(cur, ago_seconds=60, subject="728", row_id=settled + 5)       # committed late, below 727
    assert rules.scan_orders(cur) == 1
    assert [s for s, _ in _events(cur, "orders")] == ["727", "728"]


def test_scan_webhooks_keeps_known_topics_and_off_since_only(cur):
    _audit(cur, ago_seconds=5, action="webhooks.ensure", subject=f"https://u:{SECRET}@x/webhooks/woocommerce",
           outcome="repaired", response={"created": [], "reactivated": ["order.updated", f"evil {SECRET}"],
                                         "resecured": []},
           detail="off since 2026-11-29 09:40:00+00:00")
    _audit(cur, ago_seconds=4, action="webhooks.ensure", outcome="repaired",
           response={"created": ["order.created"], "reactivated": [], "resecured": []})
    assert rules.scan_webhooks(cur) == 1
    assert _events(cur, "webhooks") == [(None, {"topics": ["order.updated"],
                                                "off_since": "2026-11-29T09:40:00+00:00"})]


@pytest.mark.parametrize("state, down_for, noticed", [
    ({"state": "open", "reason": SECRET}, 899, 0),
    ({"state": "open", "reason": SECRET}, 900, 1),
    ({"state": "closed"}, 3600, 0),
    ({"state": "unknown"}, 3600, 0),
])
def test_scan_jde_after_down_seconds(cur, state, down_for, noticed):
    since = datetime(2026, 11, 29, 9, 40, tzinfo=timezone.utc)
    state = dict(state, since=since)
    now = since + timedelta(seconds=down_for)
    assert rules.scan_jde(cur, state, down_seconds=900, now=now) == noticed
    assert rules.scan_jde(cur, state, down_seconds=900, now=now + timedelta(seconds=1)) == \
        (1 if down_for == 899 else 0)          # once per outage, as soon as it is long enough
    assert _events(cur, "jde") == ([(None, {"since": since.isoformat()})] if state["state"] == "open" else [])


def _finished_run(cur, *, items=(), state="done", error=None):
    run_id = run_rows.start_run(cur, date_from=date(2026, 11, 26), date_to=date(2026, 11, 29))
    run_rows.add_items(cur, run_id, items)
    run_rows.finish_run(cur, run_id, state=state, discrepancies=None if state == "failed" else len(items), error=error)
    return run_id


def test_scan_reconciliation_differences_and_failures_with_whitelisted_fields(cur):
    rules.scan_reconciliation(cur)           # alerting starts: older runs are history
    clean = _finished_run(cur)
    differing = _finished_run(cur, items=[
        Item("missing_in_jde", f"WC-727 for {SECRET}", batch_number="WC-727", woo_id=727),
        Item("unknown_in_jde", "not ours", batch_number=f"XX {SECRET}"),
        Item("amount_differs", "changed", batch_number="WC-728", woo_id=728)])
    failed = _finished_run(cur, state="failed", error=f"AIS said {SECRET}")
    assert rules.scan_reconciliation(cur) == 2
    assert rules.scan_reconciliation(cur) == 0
    events = dict(_events(cur, "reconciliation"))
    assert str(clean) not in events
    assert events[str(differing)] == {"state": "done", "from": "2026-11-26", "to": "2026-11-29", "discrepancies": 3,
                                      "by_kind": {"amount_differs": 1, "missing_in_jde": 1, "unknown_in_jde": 1},
                                      "batches": ["WC-727", "WC-728"]}
    assert events[str(failed)]["state"] == "failed"
    assert SECRET not in json.dumps(events)

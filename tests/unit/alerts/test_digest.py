"""Alert texts: how many, the first few, where to look; and the window between two messages."""
from datetime import datetime, timedelta, timezone

import pytest

from connector.alerts import digest

T0 = datetime(2026, 11, 29, 9, 40, tzinfo=timezone.utc)


def _pending(events, *, subjects=None):
    return {"count": len(events), "subjects": subjects if subjects is not None else len({e["subject"] for e in events}),
            "last_id": len(events), "events": events}


def _order(number, state="needs_attention"):
    return {"subject": str(number), "detail": {"state": state}}


@pytest.mark.parametrize("last, now, due", [
    (None, T0, True),
    (T0, T0 + timedelta(seconds=899), False),
    (T0, T0 + timedelta(seconds=900), True),
])
def test_due_once_per_window(last, now, due):
    assert digest.due(last, now, 900) is due


def test_orders_digest_counts_names_first_few_and_points_to_the_first():
    events = [_order(727), _order(728, "failed")] + [_order(n) for n in range(800, 806)] + [_order(727)]
    message = digest.compose("orders", _pending(events), public_url="https://ops:pw@connector.example.com:8443/")
    assert message.subject == "WooCommerce → JDE connector: 8 orders need attention"
    assert message.body.startswith("727 (needs_attention), 728 (failed), 800 (needs_attention), "
                                   "801 (needs_attention), 802 (needs_attention), and 3 more.")
    assert "https://connector.example.com:8443/admin/orders/727" in message.body
    assert "`connector orders show 727`" in message.body and "pw" not in message.text


def test_orders_digest_of_one_says_order_needs():
    message = digest.compose("orders", _pending([_order(727, "failed")]), public_url=None)
    assert message.subject.endswith("1 order needs attention")
    assert "See /admin/orders/727 or" in message.body and "more" not in message.body


def test_webhooks_digest_names_topics_and_earliest_off_since():
    events = [{"subject": None, "detail": {"topics": ["order.updated"], "off_since": "2026-11-29T09:40:00+00:00"}},
              {"subject": None, "detail": {"topics": ["order.created", "order.updated"],
                                           "off_since": "2026-11-29T08:05:00+00:00"}}]
    message = digest.compose("webhooks", _pending(events), public_url="https://connector.example.com")
    assert "webhooks order.created, order.updated (2 times since the last message), off since 2026-11-29 08:05 UTC" \
        in message.body
    assert "https://connector.example.com/webhooks/woocommerce" in message.body


@pytest.mark.parametrize("sinces, words", [
    (["2026-11-29T09:40:00+00:00"], "unreachable since 2026-11-29 09:40 UTC (15 minutes or more)"),
    (["2026-11-29T09:40:00+00:00", "2026-11-29T11:00:00+00:00"],
     "unreachable 2 times for 15 minutes or more, since 2026-11-29 09:40 UTC, 2026-11-29 11:00 UTC."),
])
def test_jde_digest_says_since_when(sinces, words):
    events = [{"subject": None, "detail": {"since": s}} for s in sinces]
    message = digest.compose("jde", _pending(events), public_url=None, jde_down_seconds=900)
    assert message.subject.endswith("JDE unreachable")
    assert words in message.body and "`connector status`" in message.body


def _run(run_id, state="done", discrepancies=0, by_kind=None, batches=()):
    return {"subject": str(run_id), "detail": {"state": state, "from": "2026-11-26", "to": "2026-11-29",
                                               "discrepancies": discrepancies, "by_kind": by_kind or {},
                                               "batches": list(batches)}}


@pytest.mark.parametrize("events, subject, lines", [
    ([_run(12, discrepancies=3, by_kind={"amount_differs": 1, "missing_in_jde": 2},
           batches=["WC-727", "WC-728"])],
     "reconciliation found 3 differences",
     ["run 12 (GL 2026-11-26..2026-11-29): 3 differences (amount_differs 1, missing_in_jde 2); batches WC-727, WC-728"]),
    ([_run(13, state="failed")], "reconciliation failed",
     ["run 13 (GL 2026-11-26..2026-11-29): failed (the worker's log has why)"]),
    ([_run(12, discrepancies=1, by_kind={"not_posted": 1}), _run(13, state="failed")],
     "2 reconciliation runs need a look",
     ["run 12 (GL 2026-11-26..2026-11-29): 1 difference (not_posted 1)", "run 13 (GL 2026-11-26..2026-11-29): failed"]),
])
def test_reconciliation_digest_per_run(events, subject, lines):
    message = digest.compose("reconciliation", _pending(events), public_url=None)
    assert message.subject.endswith(subject)
    for line in lines:
        assert line in message.body
    assert "`connector reconcile --from 2026-11-26 --to 2026-11-29`" in message.body


@pytest.mark.parametrize("public_url, base", [
    (None, ""),
    ("https://connector.example.com/", "https://connector.example.com"),
    ("https://user:secret@connector.example.com/base/?token=secret#x", "https://connector.example.com/base"),
    ("http://[::1]:8000", "http://[::1]:8000"),
])
def test_admin_base_drops_credentials_and_query(public_url, base):
    assert digest.admin_base(public_url) == base


def test_message_text_is_subject_then_body():
    message = digest.Message("subject", "body")
    assert message.text == "subject\nbody"

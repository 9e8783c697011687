"""The health judges: red only for what needs a person, green only for what is proven."""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from connector import health
from connector.health import BAD, OK, UNKNOWN

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
TZ = ZoneInfo("America/Los_Angeles")


# -- queue growth -----------------------------------------------------------------------------

@pytest.mark.parametrize("depths, expected", [
    ([5, 9, 14, 20], True),          # rising all along
    ([5, 9, 9, 20], True),           # a pause is still no draining
    ([5, 9, 7, 20], False),          # it fell once: the workers take work
    ([20, 15, 10, 5], False),        # draining
    ([7, 7, 7, 7], False),           # steady, not growing
    ([5, 9], False),                 # two readings are no trend
])
def test_growing_needs_a_rise_that_never_fell(depths, expected):
    now = NOW.timestamp()
    samples = [(now - 100 + 30 * i, d) for i, d in enumerate(depths)]
    assert health.growing(samples, now=now, window=120) is expected


def test_growing_ignores_readings_outside_the_window_and_too_short_a_span():
    now = NOW.timestamp()
    old_then_flat = [(now - 500, 1), (now - 400, 50), (now - 90, 60), (now - 60, 60), (now - 30, 60)]
    assert not health.growing(old_then_flat, now=now, window=120)
    quick = [(now - 20, 1), (now - 10, 2), (now, 3)]          # spans 20 s of a 120 s window
    assert not health.growing(quick, now=now, window=120)
    assert not health.growing([(now - 90, None), (now - 60, None), (now, None)], now=now, window=120)


# -- queues -----------------------------------------------------------------------------------

NONE = {"n": 0, "oldest": None}


def test_queues_non_empty_but_moving_is_ok():
    part = health.judge_queues(depths={"celery": 0, "posting": 340}, rising=[], stale_deliveries=NONE,
                               stale_orders=NONE, lease_seconds=120, tz=TZ)
    assert part.status == OK and part.text == "celery 0, posting 340"


@pytest.mark.parametrize("depths, rising, deliveries, orders, words", [
    ({"celery": 0, "posting": 40}, ["posting"], NONE, NONE, "posting growing"),
    ({"celery": 3, "posting": 0}, [], {"n": 3, "oldest": NOW - timedelta(hours=1)}, NONE, "3 webhook deliveries"),
    ({"celery": 0, "posting": 0}, [], NONE, {"n": 2, "oldest": NOW - timedelta(hours=1)}, "2 orders due since"),
    ({"celery": None, "posting": None}, [], NONE, NONE, "the broker does not answer"),
])
def test_queues_bad_only_for_work_nobody_takes_up(depths, rising, deliveries, orders, words):
    part = health.judge_queues(depths=depths, rising=rising, stale_deliveries=deliveries, stale_orders=orders,
                               lease_seconds=120, tz=TZ)
    assert part.status == BAD and words in part.detail


def test_queues_unmeasured_is_unknown():
    part = health.judge_queues(depths=None, rising=[], stale_deliveries=NONE, stale_orders=NONE, lease_seconds=120,
                               tz=TZ)
    assert part.status == UNKNOWN


# -- JDE --------------------------------------------------------------------------------------

PROBE_OK = {"ok": True, "at": NOW.timestamp(), "since": NOW.timestamp() - 600, "detail": "AIS EnterpriseOne 9.2",
            "version": "EnterpriseOne 9.2"}


def test_jde_ok_says_the_token_age_and_the_date_format():
    part = health.judge_jde(breaker={"state": "closed"}, configured=True, probe=PROBE_OK,
                            token={"issued_at": NOW.timestamp() - 3 * 3600 - 120, "date_format": "dd.MM.yyyy"},
                            now=NOW)
    assert part.status == OK and part.text == "reachable"
    assert "token 3 h 2 min old" in part.detail and "dd.MM.yyyy" in part.detail and "EnterpriseOne" in part.detail


def test_jde_breaker_open_is_bad_since_it_opened_even_if_the_probe_answers():
    opened = NOW - timedelta(minutes=7)
    part = health.judge_jde(breaker={"state": "open", "since": opened, "reason": "AIS answered 503"}, configured=True,
                            probe=PROBE_OK, token=None, now=NOW)
    assert part.status == BAD and part.since == opened and "AIS answered 503" in part.detail
    assert "answers the probe again" in part.detail
    assert part.line().startswith("unreachable since 2026-11-29 11:53:00 UTC: AIS answered 503")


def test_jde_probe_failing_is_bad_since_it_began():
    probe = {"ok": False, "at": NOW.timestamp(), "since": NOW.timestamp() - 60, "detail": "cannot connect", "version": None}
    part = health.judge_jde(breaker={"state": "closed"}, configured=True, probe=probe, token=None, now=NOW)
    assert part.status == BAD and part.since == NOW - timedelta(seconds=60) and "cannot connect" in part.detail


def test_jde_nothing_to_ask_is_unknown():
    part = health.judge_jde(breaker={"state": "closed"}, configured=False, probe=None, token=None, now=NOW)
    assert part.status == UNKNOWN


# -- WooCommerce, poll, posting ---------------------------------------------------------------

def test_woo_recent_webhook_is_ok_an_old_one_unknown():
    kwargs = dict(upkeep=None, upkeep_on=False, webhooks_seconds=900, now=NOW, tz=TZ)
    assert health.judge_woo(last_webhook=NOW - timedelta(minutes=5), **kwargs).status == OK
    assert health.judge_woo(last_webhook=NOW - timedelta(hours=5), **kwargs).status == UNKNOWN
    assert health.judge_woo(last_webhook=None, **kwargs).status == UNKNOWN


def test_woo_upkeep_fresh_and_active_is_ok_and_says_what_it_repaired():
    upkeep = {"checked_at": (NOW - timedelta(minutes=3)).isoformat(), "active": ["order.created", "order.updated"],
              "last_repair": {"at": (NOW - timedelta(minutes=3)).isoformat(), "reactivated": ["order.updated"],
                              "off_since": (NOW - timedelta(hours=2)).isoformat()}}
    part = health.judge_woo(last_webhook=None, upkeep=upkeep, upkeep_on=True, webhooks_seconds=900, now=NOW, tz=TZ)
    assert part.status == OK and "2 webhooks active" in part.detail
    assert "reactivated order.updated" in part.detail and "off since 2026-11-29 02:00:00 PST" in part.detail


def test_woo_upkeep_failing_is_bad():
    upkeep = {"checked_at": NOW.isoformat(), "error": "WooError: 401", "failing_since": (NOW - timedelta(hours=1)).isoformat()}
    part = health.judge_woo(last_webhook=NOW, upkeep=upkeep, upkeep_on=True, webhooks_seconds=900, now=NOW, tz=TZ)
    assert part.status == BAD and "401" in part.detail and part.since == NOW - timedelta(hours=1)


def test_poll_on_time_is_ok_overdue_unknown_failing_bad():
    done = {"at": (NOW - timedelta(minutes=4)).isoformat(), "seen": 12, "stored": 2, "ready": 1}
    assert health.judge_poll(done, poll_seconds=300, now=NOW, tz=TZ).status == OK
    assert health.judge_poll(done, poll_seconds=60, now=NOW, tz=TZ).status == UNKNOWN
    failed = {"at": NOW.isoformat(), "error": "WooError: unreachable", "failing_since": NOW.isoformat()}
    assert health.judge_poll(failed, poll_seconds=300, now=NOW, tz=TZ).status == BAD
    assert health.judge_poll(None, poll_seconds=300, now=NOW, tz=TZ).status == UNKNOWN


def test_posting_waiting_for_jde_is_not_red_orders_for_a_person_are():
    last = {"batch_number": "WC-7", "document_number": "100001", "posted_at": NOW}
    waiting = {"failed": 0, "needs_attention": 0, "waiting_for_jde": 40}
    part = health.judge_posting(last=last, waiting=waiting)
    assert part.status == OK and "40 waiting for JDE" in part.detail
    part = health.judge_posting(last=last, waiting=waiting | {"failed": 1, "needs_attention": 2})
    assert part.status == BAD and part.text == "3 orders need a person"


# -- reconciliation ---------------------------------------------------------------------------

def _run(**changes):
    return {"id": 4, "state": "done", "discrepancies": 0, "error": None, "finished_at": NOW - timedelta(minutes=5),
            "gl_date_from": date(2026, 11, 26), "gl_date_to": date(2026, 11, 29), **changes}


@pytest.mark.parametrize("run, status, text", [
    (_run(), OK, "no discrepancy"),
    (_run(discrepancies=2), BAD, "2 discrepancies"),
    (_run(state="failed", discrepancies=None, error="JDE AIS unreachable"), BAD, "failed"),
    (_run(finished_at=NOW - timedelta(days=2)), UNKNOWN, "no discrepancy, but overdue"),
    (None, UNKNOWN, "none yet"),
])
def test_reconciliation_states(run, status, text):
    part = health.judge_reconciliation(run, running=None, reconcile_seconds=900, now=NOW)
    assert part.status == status and part.text == text
    assert "None" not in part.text + part.detail   # a failed run never reads "None discrepancies"


def test_reconciliation_failed_says_why():
    part = health.judge_reconciliation(_run(state="failed", discrepancies=None, error="JDE AIS unreachable"),
                                       running=None, reconcile_seconds=900, now=NOW)
    assert part.detail.startswith("JDE AIS unreachable") and part.facts["run_id"] == 4

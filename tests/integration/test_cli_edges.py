"""The operator's commands at their edges: what they refuse before touching anything, and
stored text that looks like rich markup printed as it is."""
import hashlib

import pytest
from click.testing import CliRunner

from connector import deliveries
from connector.cli import main
from connector.store import deliveries as delivery_rows
from sandbox.woo_webhooks import php_json_encode
from tests.support import one_line_failure, query

TOO_BIG = str(2 ** 63)   # one past the top of a Postgres bigint
OUT_OF_RANGE = ["0", "-1", TOO_BIG]
MARKUP = "[/] [red]x[/red]"   # crashes a markup print; must show as it is


def _runs(db_url) -> int:
    # Counted before and after the command (what it adds is what the test checks).
    return query(db_url, "SELECT count(*) AS n FROM reconciliation_runs")[0]["n"]


def _delivery(runtime, document, *, topic="order.created", source=None, process=True) -> int:
    body = php_json_encode(document)
    with runtime.db.transaction() as cur:
        delivery_id, _ = delivery_rows.insert(
            cur, source=source or runtime.mapping.store.source, topic=topic, webhook_id="1", wc_delivery_id="9",
            body=body, body_sha256=hashlib.sha256(body).digest(), dedupe_key=hashlib.sha256(body).digest(),
            state="queued", error=None, lease_seconds=60)
        if process:
            deliveries.process(cur, delivery_id, posting_statuses=runtime.mapping.posting.statuses)
    return delivery_id


@pytest.fixture
def sent(monkeypatch):
    """What the commands hand to the broker (nothing, when they refuse)."""
    import tasks.enqueue

    calls = []
    monkeypatch.setattr(tasks.enqueue, "send", lambda task, *args, **kw: calls.append((task.name, args)) or True)
    return calls


@pytest.fixture
def fresh_runtime(runtime, monkeypatch):
    """The commands load their own runtime; start them from none."""
    from connector import runtime as runtimes

    monkeypatch.setattr(runtimes, "_current", None)
    yield runtime
    monkeypatch.setattr(runtimes, "_current", None)


# --- reconcile ----------------------------------------------------------------------------------

def test_reconcile_inverted_window_refused_and_not_recorded(fresh_runtime):
    before = _runs(fresh_runtime.database_url)
    result = CliRunner().invoke(main, ["reconcile", "--from", "2026-11-30", "--to", "2026-11-01"])
    one_line_failure(result, "--from 2026-11-30", "--to 2026-11-01", "--help")
    assert _runs(fresh_runtime.database_url) == before


def test_reconcile_from_after_default_to_refused_and_not_recorded(fresh_runtime):
    before = _runs(fresh_runtime.database_url)
    result = CliRunner().invoke(main, ["reconcile", "--from", "9999-12-31"])
    one_line_failure(result, "--from 9999-12-31", "the default --to (today)")
    assert _runs(fresh_runtime.database_url) == before


@pytest.mark.parametrize("size", ["0", "-1", "-1000"])
def test_reconcile_page_size_not_positive_refused(fresh_runtime, size):
    before = _runs(fresh_runtime.database_url)
    result = CliRunner().invoke(main, ["reconcile", "--from", "2026-11-01", "--to", "2026-11-30",
                                       "--page-size", size])
    one_line_failure(result, "--page-size", size)
    assert _runs(fresh_runtime.database_url) == before


def test_reconcile_page_size_not_a_number_refused(fresh_runtime):
    one_line_failure(CliRunner().invoke(main, ["reconcile", "--page-size", "many"]), "--page-size")


# --- ids: requeue, replay, orders show ----------------------------------------------------------

@pytest.mark.parametrize("bad", OUT_OF_RANGE)
def test_requeue_id_out_of_range_refused_nothing_requeued(fresh_runtime, fixture_payload, sent, bad):
    waiting = _delivery(fresh_runtime, fixture_payload("order-727"), process=False)
    before = query(fresh_runtime.database_url, "SELECT id, state, lease_until FROM deliveries ORDER BY id")
    result = CliRunner().invoke(main, ["requeue", str(waiting), bad])
    one_line_failure(result, bad, "delivery id", "DELIVERY_IDS")
    assert sent == []
    assert query(fresh_runtime.database_url, "SELECT id, state, lease_until FROM deliveries ORDER BY id") == before


def test_requeue_largest_id_is_looked_up(fresh_runtime, sent):
    result = CliRunner().invoke(main, ["requeue", str(2 ** 63 - 1)])
    assert result.exit_code == 0, result.output
    assert "unknown" in result.output and sent == []


@pytest.mark.parametrize("bad", OUT_OF_RANGE)
def test_replay_id_out_of_range_refused_nothing_replayed(fresh_runtime, fixture_payload, sent, bad):
    _delivery(fresh_runtime, fixture_payload("order-727"))
    order_rows_sql = "SELECT woo_id, state, attempts, maybe_in_jde, updated_at FROM orders ORDER BY woo_id"
    before = query(fresh_runtime.database_url, order_rows_sql)
    result = CliRunner().invoke(main, ["replay", "727", bad])
    one_line_failure(result, bad, "order id")
    assert sent == []
    assert query(fresh_runtime.database_url, order_rows_sql) == before


@pytest.mark.parametrize("bad", OUT_OF_RANGE)
def test_orders_show_id_out_of_range_refused(fresh_runtime, bad):
    # The line points at the help of `orders show` itself, not of the `orders` group.
    one_line_failure(CliRunner().invoke(main, ["orders", "show", bad]), bad, "order id", "orders show --help")


def test_orders_show_largest_id_is_looked_up(fresh_runtime):
    one_line_failure(CliRunner().invoke(main, ["orders", "show", str(2 ** 63 - 1)]), "is not known here")


def test_replay_since_without_failed_refused(fresh_runtime, sent):
    one_line_failure(CliRunner().invoke(main, ["replay", "727", "--since", "2026-11-01"]), "--since", "--failed")
    assert sent == []


def test_replay_since_in_future_refused(fresh_runtime, sent):
    result = CliRunner().invoke(main, ["replay", "--failed", "--since", "9999-12-31"])
    one_line_failure(result, "--since 9999-12-31", "in the past")
    assert sent == []


def test_replay_since_negative_number_is_the_dates_to_judge(fresh_runtime, sent):
    # After --since, `-1` is that option's value (a bad date), not an order id.
    one_line_failure(CliRunner().invoke(main, ["replay", "--failed", "--since", "-1"]), "--since", "-1")
    assert sent == []


# --- other numbers ------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["0", "-1", TOO_BIG])
def test_status_failures_out_of_range_refused(fresh_runtime, bad):
    one_line_failure(CliRunner().invoke(main, ["status", "--failures", bad]), "--failures", bad)


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "inf"])
def test_check_timeout_not_positive_finite_refused(bad):
    one_line_failure(CliRunner().invoke(main, ["check", "--timeout", bad]), "--timeout", bad)


# --- stored text that looks like markup ---------------------------------------------------------

@pytest.fixture
def marked_up(fresh_runtime, fixture_payload, monkeypatch):
    """Order 727 failed with markup in its status and error; deliveries with markup in topic,
    source and error (stored text is whatever WooCommerce and JDE sent)."""
    monkeypatch.setenv("COLUMNS", "200")   # rich reads it at each print: no cell folded mid-text
    _delivery(fresh_runtime, fixture_payload("order-727"))
    bad = _delivery(fresh_runtime, {"id": 1}, topic=f"order.{MARKUP}", source=f"https://{MARKUP}", process=False)
    shown = _delivery(fresh_runtime, {"id": 2}, topic=f"order.{MARKUP}", process=False)
    with fresh_runtime.db.transaction() as cur:
        cur.execute("UPDATE orders SET state = 'failed', status = %s, last_error = %s, currency = %s",
                    (MARKUP, f"JDE: {MARKUP} C:\\", "[/]"))
        cur.execute("UPDATE deliveries SET state = 'error', error = %s WHERE id IN (%s, %s)",
                    (f"bad {MARKUP}", bad, shown))
        cur.execute("UPDATE deliveries SET resource_id = 727 WHERE id = %s", (shown,))
    return fresh_runtime


def test_status_prints_stored_markup_literally(marked_up):
    result = CliRunner().invoke(main, ["status"])
    assert result.exit_code == 0, result.output
    assert f"JDE: {MARKUP} C:\\" in result.output   # the reason
    assert "C:\\\\" not in result.output               # its last backslash not doubled (as escape() does)
    assert f"order.{MARKUP}" in result.output        # a delivery's topic
    assert f"bad {MARKUP}" in result.output          # and its error
    assert "\\[" not in result.output


def test_orders_show_prints_stored_markup_literally(marked_up):
    result = CliRunner().invoke(main, ["orders", "show", "727"])
    assert result.exit_code == 0, result.output
    assert f"status {MARKUP}  state failed" in result.output
    assert f"last error: JDE: {MARKUP} C:\\\n" in result.output
    assert f"order.{MARKUP}" in result.output and f"bad {MARKUP}" in result.output
    assert "\\[" not in result.output

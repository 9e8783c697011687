"""The polling bridge catches what webhooks lost: dropped deliveries and a disabled webhook."""
import pytest
from click.testing import CliRunner

from sandbox.woo_store import WooStoreServer
from tests.conftest import WEBHOOK_SECRET
from tests.e2e.test_exactly_once import _entries, _states
from tests.support import start_web, wait_for


@pytest.fixture
def shop():
    """A sandbox WooCommerce store that drops 10% of its webhooks, claiming the mapping's identity."""
    with WooStoreServer(seed=4, drop_rate=0.1, delivery_timeout=5, source_url="https://shop.example.com/") as store:
        yield store


def _paid(store) -> set[str]:
    return {f"WC-{o['id']}" for o in store.orders() if o["status"] in ("processing", "completed")}


@pytest.mark.slow
def test_one_poll_cycle_posts_every_paid_order_once(stack, jde, clean_db, shop, monkeypatch):
    stack.start(workers=1, concurrency=2, beat=False)
    for topic in ("order.created", "order.updated"):
        shop.add_webhook(topic, stack.url, WEBHOOK_SECRET)
    placed = shop.generate(120, seed=9, pending_share=0.3)
    for order in placed[:20]:
        if order["status"] == "pending":
            shop.pay_order(order["id"])
    shop.flush()

    # The receiver goes down: WooCommerce's single attempts fail until it disables the webhooks.
    stack.procs["web"].stop()
    shop.generate(30, seed=10, pending_share=0.0)
    shop.flush()
    assert shop.stats()["disabled"]                           # no more webhooks from here on
    stack.procs["web"] = start_web(stack.env, stack.log_dir, stack.port)
    shop.generate(30, seed=11, pending_share=0.0)
    shop.flush()
    assert shop.stats()["dropped"] > 0

    expected = _paid(shop)
    posted_before_poll = _states(clean_db).get("posted", 0)
    assert posted_before_poll < len(expected)                 # webhooks alone left orders behind

    # One poll cycle, as the operator would run it.
    monkeypatch.setenv("WOO_STORE_URL", shop.url)
    monkeypatch.setenv("WOO_CONSUMER_KEY", "ck_sandbox")
    monkeypatch.setenv("WOO_CONSUMER_SECRET", "cs_sandbox")
    monkeypatch.setattr("connector.runtime._current", None)
    result = CliRunner().invoke(__import__("connector.cli", fromlist=["main"]).main, ["poll"])
    assert result.exit_code == 0, result.output

    wait_for(lambda: _states(clean_db).get("posted", 0) == len(expected), timeout=120, interval=0.5,
             what=f"all {len(expected)} paid orders posted")
    entries = _entries(jde)
    assert set(entries) == expected and all(len(docs) == 1 for docs in entries.values())


@pytest.mark.slow
def test_disabled_webhook_reactivated_within_a_beat_interval_and_its_orders_posted(stack, jde, clean_db):
    from connector.woo.registration import TOPICS
    from tests.support import start_beat

    with WooStoreServer(seed=5, delivery_timeout=5, source_url="https://shop.example.com/") as shop:
        stack.env.update(CONNECTOR_PUBLIC_URL=f"http://127.0.0.1:{stack.port}", CONNECTOR_WEBHOOKS_SECONDS="3",
                         CONNECTOR_POLL_SECONDS="3600", WOO_STORE_URL=shop.url, WOO_CONSUMER_KEY="ck_sandbox",
                         WOO_CONSUMER_SECRET="cs_sandbox")
        stack.start(workers=1, concurrency=2, beat=False)
        for topic in TOPICS:
            shop.add_webhook(topic, stack.url, WEBHOOK_SECRET)
        shop.generate(5, seed=1, pending_share=0.0)
        shop.flush()
        wait_for(lambda: _states(clean_db).get("posted", 0) == 5, timeout=60, what="the first orders posted")

        # The receiver goes down long enough for WooCommerce to disable the webhook (> 5 failures).
        stack.procs["web"].stop()
        shop.generate(8, seed=2, pending_share=0.0)
        shop.flush()
        disabled = shop.stats()["disabled"]
        assert disabled
        stack.procs["web"] = start_web(stack.env, stack.log_dir, stack.port)
        shop.generate(4, seed=3, pending_share=0.0)       # placed while the webhook is off: never delivered
        shop.flush()
        expected = _paid(shop)
        assert _states(clean_db).get("posted", 0) < len(expected)

        stack.procs["beat"] = start_beat(stack.env, stack.log_dir)   # its first ensure_webhooks after 3 s
        wait_for(lambda: not shop.stats()["disabled"], timeout=30, what="the webhook re-activated")
        wait_for(lambda: _states(clean_db).get("posted", 0) == len(expected), timeout=90, interval=0.5,
                 what=f"all {len(expected)} paid orders posted")
        entries = _entries(jde)
        assert set(entries) == expected and all(len(docs) == 1 for docs in entries.values())
        status = CliRunner().invoke(__import__("connector.cli", fromlist=["main"]).main, ["status"])
        assert "webhooks: reactivated order.created" in " ".join(status.output.split()), status.output

"""The polling bridge against the sandbox store over HTTP, on the real test database."""
from datetime import datetime, timezone

import pytest

from connector import polling
from connector.store import sync_state
from connector.woo.client import WooClient, WooError
from sandbox.woo_store import WooStoreServer


@pytest.fixture
def shop():
    """A sandbox store with 250 orders and no webhooks."""
    with WooStoreServer(seed=3, source_url="https://shop.example.com/") as store:
        store.generate(250, seed=3, pending_share=0.3)
        yield store


def _poll(runtime, shop):
    woo = WooClient(shop.url, *shop.auth)
    return polling.poll_orders(runtime.db, woo, source=runtime.mapping.store.source,
                               posting_statuses=runtime.mapping.posting.statuses, lease_seconds=60)


def test_split_array_keeps_each_elements_bytes():
    text = ' [ {"a":[1,2],"b":"x\\/y"} , {"c":1.50}]'
    assert polling.split_array(text) == ['{"a":[1,2],"b":"x\\/y"}', '{"c":1.50}']
    assert polling.split_array("[]") == []
    with pytest.raises(ValueError):
        polling.split_array('{"not": "an array"}')


def test_poll_stores_every_order_once_and_readies_the_paid(runtime, shop):
    result = _poll(runtime, shop)
    paid = {o["id"] for o in shop.orders() if o["status"] in ("processing", "completed")}
    assert (result.pages, result.seen, result.stored) == (3, 250, 250)
    assert set(result.ready) == paid
    with runtime.db.transaction() as cur:
        cur.execute("SELECT count(*) AS n, count(DISTINCT body_sha256) AS bodies FROM deliveries")
        assert cur.fetchone() == {"n": 250, "bodies": 250}
        mark = sync_state.get(cur, polling.watermark_key(runtime.mapping.store.source))
    newest = max(o["date_modified_gmt"] for o in shop.orders())
    assert mark["at"].startswith(newest)


def test_poll_again_skips_versions_held_and_catches_changes(runtime, shop):
    _poll(runtime, shop)
    pending = next(o for o in shop.orders() if o["status"] == "pending")
    shop.pay_order(pending["id"])
    again = _poll(runtime, shop)
    assert again.stored == 1 and again.ready == [pending["id"]]   # the overlap brought the rest back


def test_poll_wrong_keys_say_so(runtime, shop):
    woo = WooClient(shop.url, "ck_wrong", "cs_wrong")
    with pytest.raises(WooError, match="401"):
        woo.orders_modified_after(datetime(2026, 1, 1, tzinfo=timezone.utc), page=1)
    assert "cs_wrong" not in repr(woo)

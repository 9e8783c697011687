"""Refunds and cancellations end to end: the sandbox store's REST refunds, a real worker, the
sandbox JDE answering with the faults of the exactly-once test."""
import random
from collections import defaultdict
from decimal import Decimal

import psycopg2
import psycopg2.extras
import pytest

from sandbox.woo_orders import order_document, shoppers
from sandbox.woo_store import WooStoreServer
from sandbox.woo_store import refunds as requests_of
from tests.conftest import WEBHOOK_SECRET
from tests.support import wait_for

PAYABLE, FEES = "M30.2460", "M30.6810"


def _entries(db_url) -> dict[str, str]:
    """{batch: state} of every journal entry recorded."""
    conn = psycopg2.connect(db_url, cursor_factory=psycopg2.extras.RealDictCursor)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT batch_number, state FROM journal_entries")
            return {row["batch_number"]: row["state"] for row in cur.fetchall()}
    finally:
        conn.close()


def _posted(db_url, batches) -> bool:
    entries = _entries(db_url)
    return all(entries.get(batch) == "posted" for batch in batches)


def _newest_refund(shop, order_id) -> int:
    return shop.refunds(order_id)[0]["id"]


@pytest.mark.slow
def test_paid_refunded_cancelled_refunded_nets_to_zero_each_batch_once(stack, jde, clean_db):
    stack.env["CONNECTOR_RETRY_BASE_SECONDS"] = "0.2"
    with WooStoreServer(seed=12, source_url="https://shop.example.com/") as shop:
        stack.env.update(WOO_STORE_URL=shop.url, WOO_CONSUMER_KEY=shop.consumer_key,
                         WOO_CONSUMER_SECRET=shop.consumer_secret)
        stack.start(workers=1, concurrency=2, beat=True)
        for topic in ("order.created", "order.updated"):
            shop.add_webhook(topic, stack.url, WEBHOOK_SECRET)
        jde.configure(error_rate=0.2, drop_rate=0.05, warning_rate=0.1, invalid_token_403_rate=0.5)
        rng = random.Random(12)
        people = shoppers(rng, 10)
        orders = [shop.place_order(order_document(rng, 31000 + n, rng.choice(people)) | {"payment_method": "stripe"})
                  for n in range(8)]
        ids = [o["id"] for o in orders]
        wait_for(lambda: _posted(clean_db, [f"WC-{i}" for i in ids]), timeout=180, interval=0.5,
                 what="every sale posted")

        # One item with its tax, through Stripe.
        for order in orders:
            shop.refund_order(order["id"], **requests_of.item_refund(shop.order(order["id"])))
        first = {i: _newest_refund(shop, i) for i in ids}
        wait_for(lambda: _posted(clean_db, [f"WC-{i}-R{first[i]}" for i in ids]), timeout=180, interval=0.5,
                 what="every item refund posted")
        # Cancelled: WooCommerce returns no money.
        for i in ids:
            shop.cancel_order(i)
        wait_for(lambda: _posted(clean_db, [f"WC-{i}-C" for i in ids]), timeout=180, interval=0.5,
                 what="every cancellation posted")
        # The rest refunded through Stripe: the order turns `refunded`.
        for i in ids:
            shop.refund_order(i, **requests_of.full_refund(shop.order(i), refunds=shop.refunds(i)))
            assert shop.order(i)["status"] == "refunded"
        last = {i: _newest_refund(shop, i) for i in ids}
        wait_for(lambda: _posted(clean_db, [f"WC-{i}-R{last[i]}" for i in ids]), timeout=180, interval=0.5,
                 what="every last refund posted")

    documents: dict[str, set] = defaultdict(set)
    balances: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for line in jde.f0911_rows():
        documents[line["VINV"]].add(line["DOC"])
        woo_id = int(line["VINV"].split("-")[1])
        balances[woo_id][line["ANI"]] += Decimal(str(line["AA"]))
    assert all(len(docs) == 1 for docs in documents.values()), "a batch posted twice"
    assert len(documents) == 4 * len(ids)                         # sale, refund, cancellation, refund
    for woo_id in ids:
        left = {account: amount for account, amount in balances[woo_id].items() if amount}
        assert PAYABLE not in left, (woo_id, left)
        # Only the gateway's fee stays: expensed, and taken from what Stripe pays out.
        assert set(left) <= {FEES, "M30.1110.STRIPE"}, (woo_id, left)
        assert left.get(FEES, Decimal(0)) == -left.get("M30.1110.STRIPE", Decimal(0))

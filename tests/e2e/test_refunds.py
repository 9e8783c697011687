"""Refunds and cancellations end to end: the sandbox store's REST refunds, a real worker, the
sandbox JDE answering with the faults of the exactly-once test."""
import itertools
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


def _waiting(db_url, batches) -> str:
    """What the orders of the batches not posted say, for a failure message."""
    entries = _entries(db_url)
    woo_ids = sorted({int(b.split("-")[1]) for b in batches if entries.get(b) != "posted"})
    conn = psycopg2.connect(db_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT woo_id, state, status, last_error FROM orders WHERE woo_id = ANY(%s)", (woo_ids,))
            return "; ".join(map(str, cur.fetchall()))
    finally:
        conn.close()


def _wait_posted(db_url, batches, what):
    try:
        wait_for(lambda: _posted(db_url, batches), timeout=180, interval=0.5, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {_waiting(db_url, batches)}") from None


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
        # Stripe orders (the gateway refunds), none part paid by gift card (one item may cost more than
        # the money left to refund).
        documents = (order_document(rng, 31000 + n, rng.choice(people)) for n in range(100))
        orders = [shop.place_order(d | {"payment_method": "stripe"})
                  for d in itertools.islice((d for d in documents if not d["gift_cards"]), 8)]
        ids = [o["id"] for o in orders]
        _wait_posted(clean_db, [f"WC-{i}" for i in ids], "every sale posted")

        # One item with its tax, through Stripe.
        for order in orders:
            shop.refund_order(order["id"], **requests_of.item_refund(shop.order(order["id"])))
        first = {i: _newest_refund(shop, i) for i in ids}
        _wait_posted(clean_db, [f"WC-{i}-R{first[i]}" for i in ids], "every item refund posted")
        # Cancelled: WooCommerce returns no money.
        for i in ids:
            shop.cancel_order(i)
        _wait_posted(clean_db, [f"WC-{i}-C" for i in ids], "every cancellation posted")
        # The rest refunded through Stripe: the order turns `refunded`.
        for i in ids:
            shop.refund_order(i, **requests_of.full_refund(shop.order(i), refunds=shop.refunds(i)))
            assert shop.order(i)["status"] == "refunded"
        last = {i: _newest_refund(shop, i) for i in ids}
        _wait_posted(clean_db, [f"WC-{i}-R{last[i]}" for i in ids], "every last refund posted")

    faults = jde.stats()["faults"]
    assert faults["error"] > 0 and faults["warning"] > 0          # the faults really happened
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


def test_refund_waits_while_the_shop_is_unreachable_and_posts_once_it_answers(stack, jde, clean_db,
                                                                              fixture_payload):
    from sandbox.woo_webhooks import signed_delivery
    from tests.support import free_port

    def shop_with_the_refund(port):
        shop = WooStoreServer(port=port, seed=3, source_url="https://shop.example.com/").start()
        shop.place_order(fixture_payload("order-727"), keep_dates=True)
        shop.refund_order(727, **requests_of.item_refund(shop.order(727), api_refund=False))
        return shop

    port = free_port()
    shop = shop_with_the_refund(port)
    refunded, refund_id = shop.order(727), shop.refunds(727)[0]["id"]
    shop.stop()                                    # the shop goes down before the connector reads it
    stack.env.update(CONNECTOR_RETRY_BASE_SECONDS="0.2", WOO_STORE_URL=f"http://127.0.0.1:{port}/",
                     WOO_CONSUMER_KEY="ck_sandbox", WOO_CONSUMER_SECRET="cs_sandbox")
    stack.start()
    stack.send(*signed_delivery(refunded, topic="order.updated", secret=WEBHOOK_SECRET))
    wait_for(lambda: "waiting for WooCommerce's record" in _waiting(clean_db, [f"WC-727-R{refund_id}"]),
             timeout=60, what="the refund waiting for its record")
    assert {line["VINV"] for line in jde.f0911_rows()} == {"WC-727"}     # the sale is in, nothing guessed
    shop = shop_with_the_refund(port)
    try:
        assert shop.refunds(727)[0]["id"] == refund_id
        _wait_posted(clean_db, [f"WC-727-R{refund_id}"], "the refund posted once the shop answers")
    finally:
        shop.stop()
    lines = sorted((l["ANI"], l["AA"]) for l in jde.f0911_rows() if l["VINV"] == f"WC-727-R{refund_id}")
    assert lines == sorted([("M30.4010", Decimal("6.00")), ("M30.2310", Decimal("0.45")),
                            ("M30.2460", Decimal("-6.45"))])

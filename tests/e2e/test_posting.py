"""Orders into the sandbox JDE general ledger, end to end over HTTP."""
import copy
from decimal import Decimal

import psycopg2
import psycopg2.extras
import pytest

from sandbox.woo_webhooks import signed_delivery
from tests.conftest import WEBHOOK_SECRET
from tests.e2e.conftest import BROKERS
from tests.support import wait_for


def _order_row(db_url, woo_id):
    conn = psycopg2.connect(db_url, cursor_factory=psycopg2.extras.RealDictCursor)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT * FROM orders WHERE woo_id = %s", (woo_id,))
            return cur.fetchone()
    finally:
        conn.close()


@pytest.mark.parametrize("broker", BROKERS, indirect=True)
def test_post_fixture_727_exactly_the_design_entry(broker, stack, jde, clean_db, fixture_payload):
    stack.start()
    stack.send(*signed_delivery(fixture_payload("order-727"), topic="order.created", secret=WEBHOOK_SECRET))
    row = wait_for(lambda: (_order_row(clean_db, 727) or {}).get("state") in ("posted", "needs_attention", "failed")
                   and _order_row(clean_db, 727), timeout=60, what="order 727 to be posted")
    assert row["state"] == "posted", row["last_error"]
    lines = jde.f0911_rows()
    assert [(l["ANI"], l["AA"]) for l in lines] == [
        ("M30.1110.BANK", Decimal("29.35")), ("M30.4010", Decimal("-18.00")),
        ("M30.4050", Decimal("-10.00")), ("M30.2310", Decimal("-1.35"))]
    customer = jde.f0101_rows()
    assert len(customer) == 1 and customer[0]["ALPH"] == "Doe, John"
    assert {(l["VINV"], l["DGJ"], l["DCT"], l["KCO"], l["AN8"]) for l in lines} == {
        ("WC-727", "117081", "JE", "00001", customer[0]["AN8"])}
    assert row["batch_number"] == "WC-727" and row["document_number"] == str(lines[0]["DOC"])
    assert [e["EMAL"] for e in jde.f01151_rows()] == ["john.doe@example.com"]


def test_post_pending_order_waits_for_payment(stack, jde, clean_db, fixture_payload):
    stack.start()
    pending = copy.deepcopy(fixture_payload("order-727"))
    pending.update(status="pending", date_paid_gmt=None, date_modified_gmt="2017-03-22T19:28:02")
    stack.send(*signed_delivery(pending, topic="order.created", secret=WEBHOOK_SECRET))
    wait_for(lambda: _order_row(clean_db, 727), timeout=30, what="the pending order to be stored")
    # Nothing can be posted for it: no claim, no AIS call, no line in JDE.
    assert _order_row(clean_db, 727)["state"] == "awaiting_payment"
    assert jde.f0911_rows() == [] and jde.stats()["orchestrations"] == {}

    stack.send(*signed_delivery(fixture_payload("order-727"), topic="order.updated", secret=WEBHOOK_SECRET))
    wait_for(lambda: _order_row(clean_db, 727)["state"] == "posted", timeout=60, what="order 727 to be posted")
    assert len({l["DOC"] for l in jde.f0911_rows()}) == 1 and len(jde.f0911_rows()) == 4


def test_replay_posted_order_looks_up_and_posts_nothing_twice(stack, jde, clean_db, fixture_payload, monkeypatch):
    stack.start()
    stack.send(*signed_delivery(fixture_payload("order-727"), topic="order.created", secret=WEBHOOK_SECRET))
    wait_for(lambda: (_order_row(clean_db, 727) or {}).get("state") == "posted", timeout=60, what="order posted")
    from click.testing import CliRunner

    from connector.cli import main

    result = CliRunner().invoke(main, ["replay", "727"])
    assert result.exit_code == 0 and "queued" in result.output, result.output
    # Replay starts a fresh set of attempts: this is its first.
    wait_for(lambda: _order_row(clean_db, 727)["state"] == "posted" and _order_row(clean_db, 727)["attempts"] == 1
             and not _order_row(clean_db, 727)["maybe_in_jde"], timeout=60, what="the replay to finish")
    assert len({l["DOC"] for l in jde.f0911_rows()}) == 1 and len(jde.f0911_rows()) == 4
    assert jde.stats()["orchestrations"].get("ORCH_WOO_PostJournalEntry") == 1   # looked up, not re-sent


def test_refund_after_posting_is_a_reversing_entry(stack, jde, clean_db, fixture_payload):
    """Order 727 (bank transfer) refunded in full by hand: the shop owes the customer."""
    from sandbox.woo_store import WooStoreServer
    from sandbox.woo_store import refunds as requests_of

    with WooStoreServer(seed=3, source_url="https://shop.example.com/") as shop:
        stack.env.update(WOO_STORE_URL=shop.url, WOO_CONSUMER_KEY=shop.consumer_key,
                         WOO_CONSUMER_SECRET=shop.consumer_secret)
        stack.start()
        shop.add_webhook("order.updated", stack.url, WEBHOOK_SECRET)
        stack.send(*signed_delivery(fixture_payload("order-727"), topic="order.created", secret=WEBHOOK_SECRET))
        wait_for(lambda: (_order_row(clean_db, 727) or {}).get("state") == "posted", timeout=60, what="sale posted")
        shop.place_order(fixture_payload("order-727"), keep_dates=True)
        refund = shop.refund_order(727, **requests_of.full_refund(shop.order(727), api_refund=False))
        wait_for(lambda: _order_row(clean_db, 727)["state"] == "reversed", timeout=60, what="the refund posted")
        by_batch = {}
        for line in jde.f0911_rows():
            by_batch.setdefault(line["VINV"], []).append((line["ANI"], line["AA"]))
        batch = f"WC-727-R{refund['id']}"
        assert set(by_batch) == {"WC-727", batch}
        assert sorted(by_batch[batch]) == sorted([("M30.4010", Decimal("18.00")), ("M30.4050", Decimal("10.00")),
                                                  ("M30.2310", Decimal("1.35")), ("M30.2460", Decimal("-29.35"))])
        made = _julian_of_local_day(refund["date_created_gmt"])
        assert {l["DGJ"] for l in jde.f0911_rows() if l["VINV"] == batch} == {made}
        # The same order delivered again posts nothing more.
        shop.update_order(727, customer_note="again")
        shop.flush()
        wait_for(lambda: _order_row(clean_db, 727)["last_delivery_id"] >= 3, timeout=30, what="the repeat processed")
        assert _order_row(clean_db, 727)["state"] == "reversed" and len(jde.f0911_rows()) == 8


def _julian_of_local_day(moment_gmt: str) -> str:
    """JDE's CYYDDD of the store's (Los Angeles) day of a `*_gmt` moment."""
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from connector.jde.dates import julian

    moment = datetime.fromisoformat(moment_gmt).replace(tzinfo=timezone.utc)
    return julian(moment.astimezone(ZoneInfo("America/Los_Angeles")).date())


def test_customer_created_then_guest_order_links_not_duplicates(stack, jde, clean_db, fixture_payload):
    stack.start()
    stack.send(*signed_delivery(fixture_payload("customer-25"), topic="customer.created", secret=WEBHOOK_SECRET))
    wait_for(lambda: len(jde.f0101_rows()) == 1, timeout=60, what="the customer in the Address Book")
    # Order 727 is a guest order of the same email: found through F01151, linked, not added again.
    stack.send(*signed_delivery(fixture_payload("order-727"), topic="order.created", secret=WEBHOOK_SECRET))
    wait_for(lambda: (_order_row(clean_db, 727) or {}).get("state") == "posted", timeout=60, what="order posted")
    [customer] = jde.f0101_rows()
    assert customer["ALPH"] == "Doe, John" and customer["AT1"] == "C"
    assert {line["AN8"] for line in jde.f0911_rows()} == {customer["AN8"]}
    assert jde.stats()["orchestrations"].get("ORCH_WOO_AddCustomer") == 1


def test_every_rule_lands_in_its_account_in_jde(stack, jde, clean_db, fixture_payload):
    """County tax per rate, a negative fee, a gift card and Stripe's fee, posted and reconciled."""
    order = fixture_payload("order-727")
    order.update(payment_method="stripe", total="22.54", total_tax="1.54",
                 meta_data=[{"id": 1, "key": "_stripe_fee", "value": "0.95"},
                            {"id": 2, "key": "_stripe_currency", "value": "USD"}],
                 gift_cards=[{"id": 4, "code": "GC-4", "amount": "5.00"}],
                 fee_lines=[{"id": 9, "name": "Loyalty", "total": "-2.00", "total_tax": "0.00"}])
    order["tax_lines"].append({"id": 319, "rate_code": "US-CA-COUNTY TAX-2", "rate_id": 76, "label": "County Tax",
                               "compound": True, "tax_total": "0.19", "shipping_tax_total": "0.00"})
    stack.start()
    stack.send(*signed_delivery(order, topic="order.created", secret=WEBHOOK_SECRET))
    wait_for(lambda: (_order_row(clean_db, 727) or {}).get("state") == "posted", timeout=60, what="order posted")
    lines = sorted((l["ANI"], l["AA"]) for l in jde.f0911_rows())
    assert lines == sorted([
        ("M30.1110.STRIPE", Decimal("22.54")), ("M30.2450", Decimal("5.00")), ("M30.6810", Decimal("0.95")),
        ("M30.1110.STRIPE", Decimal("-0.95")), ("M30.4010", Decimal("-18.00")), ("M30.4050", Decimal("-10.00")),
        ("M30.4090", Decimal("2.00")), ("M30.2310", Decimal("-1.35")), ("M30.2320", Decimal("-0.19"))])


def test_revenue_by_category_fetches_each_product_once(stack, jde, clean_db, tmp_path):
    """Categories from the shop's products API, one REST call per product however many orders."""
    import random

    from sandbox.woo_orders import order_document, shoppers
    from sandbox.woo_store import WooStoreServer
    from tests.conftest import ROOT
    from tests.support import order_states

    with WooStoreServer(seed=6) as shop:
        # The demo store's own mapping: revenue by category, as `make run` posts it.
        stack.env.update(CONNECTOR_CONFIG=str(ROOT / "connector.toml"), WOO_STORE_URL=shop.url,
                         WOO_CONSUMER_KEY=shop.consumer_key, WOO_CONSUMER_SECRET=shop.consumer_secret)
        stack.start(concurrency=2)
        rng = random.Random(8)
        people = shoppers(rng, 6)
        orders = [order_document(rng, 61000 + n, rng.choice(people)) for n in range(24)]
        stack.send_orders(orders)
        wait_for(lambda: order_states(clean_db).get("posted", 0) == len(orders), timeout=120, interval=0.5,
                 what="every order posted")
        reads = shop.stats()["product_reads"]
        sold = {item["product_id"] for o in orders for item in o["line_items"]}
        assert set(map(int, reads)) <= sold and all(n == 1 for n in reads.values()), reads
        accounts = {line["ANI"] for line in jde.f0911_rows()}
        assert {"M40.4020", "M30.4030"} <= accounts           # music and clothing, each its cost center

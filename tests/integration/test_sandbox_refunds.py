"""Refunds and cancellations in the sandbox WooCommerce store, over real HTTP on loopback."""
import itertools
import json
import random
from decimal import Decimal

import pytest
import requests

from sandbox.woo_orders import Shopper, order_document
from sandbox.woo_store import WooStoreServer
from sandbox.woo_store.refunds import amount_refund, full_refund, item_refund, requested_amount, shipping_refund
from tests.integration.test_sandbox_woo_store import SECRET, Clock, Receiver

SHOPPER = Shopper(0, "Zoë", "Müller", "zoe@example.com")
CANNOT_CREATE = "woocommerce_rest_cannot_create_order_refund"


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def shop(clock):
    store = WooStoreServer(seed=7, clock=clock).start()
    yield store
    store.stop()


@pytest.fixture
def receiver():
    endpoint = Receiver()
    yield endpoint
    endpoint.stop()


def _paid(shop, method="stripe", where=lambda document: True, **changes) -> dict:
    """A paid order in the shop: the first seeded document `where` accepts, with `changes`."""
    for seed in itertools.count(1):
        document = order_document(random.Random(seed), shop.store.next_order_id, SHOPPER, status="processing")
        if where(document) and not document["gift_cards"]:
            return shop.place_order(document | {"payment_method": method} | changes)


def _two_items_and_shipping(document) -> bool:
    return len(document["line_items"]) >= 2 and Decimal(document["shipping_total"]) > 0


def _refunds_url(shop, order_id, refund_id=None) -> str:
    tail = "" if refund_id is None else f"/{refund_id}"
    return f"{shop.url}wp-json/wc/v3/orders/{order_id}/refunds{tail}"


def _post(shop, order_id, body) -> requests.Response:
    return requests.post(_refunds_url(shop, order_id), json=body, auth=shop.auth, timeout=10)


def _created(shop, order_id, body) -> dict:
    response = _post(shop, order_id, body)
    assert response.status_code == 201, response.text
    return response.json()


def _get(shop, order_id, refund_id=None, **params) -> requests.Response:
    return requests.get(_refunds_url(shop, order_id, refund_id), params=params, auth=shop.auth, timeout=10)


def _order(shop, order_id) -> dict:
    response = requests.get(f"{shop.url}wp-json/wc/v3/orders/{order_id}", auth=shop.auth, timeout=10)
    assert response.status_code == 200
    return response.json()


def _negative(amount: str) -> str:
    return str(-Decimal(amount))


def _error(status, code, message) -> dict:
    return {"code": code, "message": message, "data": {"status": status}}


# -- the refund object ----------------------------------------------------------------------

def test_refund_one_item_copies_the_line_negative_with_its_taxes(shop):
    """The refunded line item: a new id, negative total, quantity and taxes per rate, a
    _refunded_item_id meta naming the order's item; the amount positive; tax lines of its own."""
    order = _paid(shop, where=_two_items_and_shipping)
    item = order["line_items"][1]
    refund = _created(shop, order["id"], item_refund(order, item["id"], reason="Broken in transit"))
    item_tax = sum(Decimal(t["total"]) for t in item["taxes"])
    assert refund["amount"] == str(Decimal(item["total"]) + item_tax) and not refund["amount"].startswith("-")
    assert refund["reason"] == "Broken in transit" and refund["refunded_by"] == 1
    [line] = refund["line_items"]
    assert line["id"] not in {i["id"] for i in order["line_items"]}
    assert (line["name"], line["product_id"], line["sku"]) == (item["name"], item["product_id"], item["sku"])
    assert line["total"] == line["subtotal"] == _negative(item["total"])
    assert line["quantity"] == -item["quantity"]
    assert line["taxes"] == [{"id": t["id"], "total": _negative(t["total"]), "subtotal": _negative(t["total"])}
                             for t in item["taxes"]]
    assert line["total_tax"] == str(-item_tax)
    assert {"key": "_refunded_item_id", "value": str(item["id"])}.items() <= line["meta_data"][0].items()
    assert refund["shipping_lines"] == refund["fee_lines"] == []
    assert [(t["rate_id"], t["rate_code"], t["tax_total"], t["shipping_tax_total"]) for t in refund["tax_lines"]] == [
        (t["id"], rate["rate_code"], _negative(t["total"]), "0.00")
        for t, rate in zip(item["taxes"], order["tax_lines"])]


def test_refund_shipping_only_puts_its_tax_in_shipping_tax_total(shop):
    """A shipping refund copies the shipping line (method kept, taxes without subtotal)."""
    order = _paid(shop, where=_two_items_and_shipping)
    shipping = order["shipping_lines"][0]
    refund = _created(shop, order["id"], shipping_refund(order))
    assert refund["amount"] == str(Decimal(shipping["total"]) + Decimal(shipping["total_tax"]))
    [line] = refund["shipping_lines"]
    assert (line["method_id"], line["total"]) == ("flat_rate", _negative(shipping["total"]))
    assert line["taxes"] == [{"id": 75, "total": _negative(shipping["total_tax"]), "subtotal": ""}]
    assert refund["line_items"] == [] and [(t["rate_id"], t["tax_total"], t["shipping_tax_total"])
                                           for t in refund["tax_lines"]] == [(75, "0.00",
                                                                              _negative(shipping["total_tax"]))]


def test_refund_amount_only_has_no_lines(shop):
    order = _paid(shop)
    refund = _created(shop, order["id"], amount_refund(order, "10.5", reason="Price match"))
    assert refund["amount"] == "10.50"
    assert refund["line_items"] == refund["shipping_lines"] == refund["fee_lines"] == refund["tax_lines"] == []


def test_refund_without_amount_is_its_lines_added_up(shop):
    """No `amount` in the request: the lines' refund_total and refund_tax together."""
    order = _paid(shop)
    request = item_refund(order)
    expected = request.pop("amount")
    assert _created(shop, order["id"], request)["amount"] == expected


def test_refund_amount_as_number_is_400(shop):
    """The schema says string: WordPress refuses a JSON number before WooCommerce sees it."""
    order = _paid(shop)
    response = _post(shop, order["id"], {"amount": 5})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "rest_invalid_param" and body["data"]["details"]["amount"]["code"] == "rest_invalid_type"
    assert shop.refunds(order["id"]) == []


# -- the order ------------------------------------------------------------------------------

def test_order_refunds_newest_first_with_negative_totals(shop):
    """The order payload lists {id, reason, total} newest first; a partial refund keeps the status."""
    order = _paid(shop)
    first = _created(shop, order["id"], amount_refund(order, "2.00", reason="first"))
    second = _created(shop, order["id"], amount_refund(order, "3.00", reason="second"))
    seen = _order(shop, order["id"])
    assert seen["refunds"] == [{"id": second["id"], "reason": "second", "total": "-3.00"},
                               {"id": first["id"], "reason": "first", "total": "-2.00"}]
    assert seen["status"] == "processing" and seen["total"] == order["total"]
    assert second["id"] > first["id"] and {first["id"], second["id"]}.isdisjoint({o["id"] for o in shop.orders()})


def test_refunds_list_pages_newest_first(shop):
    order = _paid(shop)
    ids = [_created(shop, order["id"], amount_refund(order, "1.00"))["id"] for _ in range(3)]
    page = _get(shop, order["id"], per_page=2)
    assert page.status_code == 200 and [r["id"] for r in page.json()] == ids[:0:-1]
    assert (page.headers["X-WP-Total"], page.headers["X-WP-TotalPages"]) == ("3", "2")
    assert 'rel="next"' in page.headers["Link"]
    assert [r["amount"] for r in _get(shop, order["id"], per_page=2, page=2).json()] == ["1.00"]
    assert [r["id"] for r in _get(shop, order["id"], per_page=2, page=2).json()] == ids[:1]


def test_refund_full_sets_status_refunded(shop):
    """Refunds reaching the order's total turn it `refunded`."""
    order = _paid(shop, where=_two_items_and_shipping)
    refund = _created(shop, order["id"], full_refund(order))
    assert refund["amount"] == order["total"]
    assert len(refund["line_items"]) == len(order["line_items"]) and len(refund["shipping_lines"]) == 1
    assert _order(shop, order["id"])["status"] == "refunded"


def test_refund_full_after_partial_gives_back_only_the_rest(shop):
    """The full-refund request leaves out what an earlier refund gave back; both add up to the order."""
    order = _paid(shop, where=_two_items_and_shipping)
    first = _created(shop, order["id"], item_refund(order))
    request = full_refund(_order(shop, order["id"]), refunds=shop.refunds(order["id"]))
    assert order["line_items"][0]["id"] not in {line["id"] for line in request["line_items"]}
    second = _created(shop, order["id"], request)
    assert Decimal(first["amount"]) + Decimal(second["amount"]) == Decimal(order["total"])
    lines = [line for refund in (first, second) for kind in ("line_items", "shipping_lines", "fee_lines")
             for line in refund[kind]]
    assert -sum(Decimal(line["total"]) + Decimal(line["total_tax"]) for line in lines) == Decimal(order["total"])
    assert _order(shop, order["id"])["status"] == "refunded"


def test_refund_full_of_gift_card_order_is_capped_at_what_was_paid(shop):
    """Gift cards lower the total, not the items: every line goes back, the amount is the total."""
    base = _paid(shop, where=lambda d: Decimal(d["total"]) > 40)
    shop.update_order(base["id"], total=str(Decimal(base["total"]) - 20),
                            gift_cards=[{"id": 1, "code": "GC-1", "amount": "20.00"}])
    order = _order(shop, base["id"])
    request = full_refund(order)
    assert request["amount"] == order["total"] and requested_amount(None, request["line_items"]) == \
        Decimal(base["total"])
    assert _created(shop, order["id"], request)["amount"] == order["total"]
    assert _order(shop, order["id"])["status"] == "refunded"


def test_cancelled_order_stays_cancelled_after_partial_then_refunded_when_full(shop):
    order = _paid(shop)
    assert shop.cancel_order(order["id"])["status"] == "cancelled"
    assert _order(shop, order["id"])["refunds"] == []           # cancelling gives no money back
    _created(shop, order["id"], amount_refund(order, "5.00"))
    assert _order(shop, order["id"])["status"] == "cancelled"
    _created(shop, order["id"], full_refund(_order(shop, order["id"])))
    assert _order(shop, order["id"])["status"] == "refunded"


def test_order_set_to_refunded_refunds_what_is_left(shop):
    """wc_order_fully_refunded: setting the status makes a refund of the rest, no items, no money back."""
    order = _paid(shop)
    _created(shop, order["id"], amount_refund(order, "4.00"))
    shop.update_order(order["id"], status="refunded")
    latest = _order(shop, order["id"])["refunds"][0]
    assert latest["reason"] == "Order fully refunded." and latest["total"] == str(4 - Decimal(order["total"]))
    refund = _get(shop, order["id"], latest["id"]).json()
    assert refund["refunded_payment"] is False and refund["line_items"] == []


def test_refund_fires_order_updated_and_stamps_the_order_later(shop, receiver):
    shop.add_webhook("order.updated", receiver.url, SECRET)
    order = _paid(shop)
    refund = _created(shop, order["id"], amount_refund(order, "1.00"))
    shop.flush()
    [delivery] = receiver.deliveries()
    payload = json.loads(delivery["body"])
    assert payload["refunds"][0]["id"] == refund["id"]
    assert payload["date_modified_gmt"] > order["date_modified_gmt"]   # the clock stood still: bumped


# -- refused refunds ----------------------------------------------------------------------------

def test_refund_amount_too_large_is_500_and_stores_nothing(shop, receiver):
    shop.add_webhook("order.updated", receiver.url, SECRET)
    order = _paid(shop)
    _created(shop, order["id"], amount_refund(order, "10.00"))
    shop.flush()
    before = _order(shop, order["id"])
    too_much = str(Decimal(order["total"]) - 10 + Decimal("0.01"))
    response = _post(shop, order["id"], amount_refund(order, too_much))
    assert (response.status_code, response.json()) == (500, _error(500, CANNOT_CREATE, "Invalid refund amount."))
    assert _order(shop, order["id"]) == before and len(_get(shop, order["id"]).json()) == 1
    shop.flush()
    assert len(receiver.deliveries()) == 1


def test_refund_negative_amount_is_400(shop):
    order = _paid(shop)
    response = _post(shop, order["id"], {"amount": "-1.00"})
    assert (response.status_code, response.json()) == (400, _error(400, "woocommerce_rest_invalid_order_refund",
                                                                   "Refund amount must be greater than zero."))
    assert shop.refunds(order["id"]) == []


def test_refund_unknown_order_is_404(shop):
    response = _post(shop, 4242, {"amount": "1.00"})
    assert (response.status_code, response.json()) == (404, _error(404, "woocommerce_rest_invalid_order_id",
                                                                   "Invalid order ID."))
    listed = _get(shop, 4242)
    assert (listed.status_code, listed.json(), listed.headers["X-WP-Total"]) == (200, [], "0")


@pytest.mark.parametrize("method", ["bacs", "cod"])
def test_refund_api_refund_on_gateway_without_refunds_is_500(shop, method):
    """bacs and cod cannot give money back through an API; without api_refund the refund is made."""
    order = _paid(shop, method=method)
    response = _post(shop, order["id"], amount_refund(order, "1.00"))
    assert (response.status_code, response.json()) == (500, _error(
        500, CANNOT_CREATE, "The payment gateway for this order does not support automatic refunds."))
    assert shop.refunds(order["id"]) == []
    refund = _created(shop, order["id"], amount_refund(order, "1.00", api_refund=False))
    assert _get(shop, order["id"], refund["id"]).json()["refunded_payment"] is False


def test_refund_api_refund_on_unpaid_order_is_500(shop):
    """No payment, nothing for the gateway to give back (the sandbox's stand-in for a failed API call)."""
    order = _paid(shop, status="pending", date_paid_gmt=None)
    response = _post(shop, order["id"], amount_refund(order, "1.00"))
    assert response.status_code == 500 and response.json()["code"] == CANNOT_CREATE
    assert _post(shop, order["id"], amount_refund(order, "1.00", api_refund=False)).status_code == 201


# -- reading one refund --------------------------------------------------------------------------

def test_refund_get_single_in_view_and_create_answers_in_edit_context(shop):
    """The 201 is written in the edit context (no refunded_payment, a view-only field), with
    WooCommerce's unfilled Location; GET shows it, true for a gateway that refunded."""
    order = _paid(shop, method="stripe")
    response = _post(shop, order["id"], item_refund(order))
    created = response.json()
    assert response.status_code == 201 and "refunded_payment" not in created
    assert response.headers["Location"].endswith(f"/wc/v3/orders/(?P<order_id>[\\d]+)/refunds/{created['id']}")
    fetched = _get(shop, order["id"], created["id"])
    assert fetched.status_code == 200 and fetched.json()["refunded_payment"] is True
    assert {key: value for key, value in fetched.json().items() if key != "refunded_payment"} == created
    assert fetched.json()["date_created_gmt"] == "2026-11-26T12:00:00"
    assert fetched.json()["date_created"] == "2026-11-26T09:00:00"   # the store is at UTC-3
    assert fetched.json()["_links"]["up"] == [{"href": f"{shop.url}wp-json/wc/v3/orders/{order['id']}"}]


def test_refund_get_of_another_order_is_404(shop):
    first, second = _paid(shop), _paid(shop)
    refund = _created(shop, first["id"], amount_refund(first, "1.00"))
    not_of_order = _error(404, "woocommerce_rest_invalid_order_refund_id", "Invalid order refund ID.")
    for order_id, refund_id, expected in [
            (second["id"], refund["id"], not_of_order),
            (first["id"], second["id"], not_of_order),          # an order's id is no refund
            (first["id"], 99_999_999, _error(404, "woocommerce_rest_shop_order_refund_invalid_id", "Invalid ID.")),
            (4242, refund["id"], _error(404, "woocommerce_rest_invalid_order_id", "Invalid order ID."))]:
        response = _get(shop, order_id, refund_id)
        assert (response.status_code, response.json()) == (404, expected), (order_id, refund_id)

import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from connector.woo.schemas import PayloadError, decode_json, load_customer, load_deleted, load_order
from sandbox.woo_webhooks import php_json_encode


def test_load_order_fixture_727_money_is_exact_decimal(fixture_payload):
    order = load_order(decode_json(php_json_encode(fixture_payload("order-727"))))
    assert order["total"] == Decimal("29.35") and isinstance(order["total"], Decimal)
    assert order["shipping_total"] == Decimal("10.00")
    assert order["total_tax"] == Decimal("1.35")
    assert [line["total"] for line in order["line_items"]] == [Decimal("6.00"), Decimal("12.00")]
    assert isinstance(order["line_items"][1]["price"], Decimal)
    assert order["line_items"][1]["taxes"][0]["total"] == Decimal("0.9")


def test_load_order_dates_are_aware_utc(fixture_payload):
    order = load_order(fixture_payload("order-727"))
    assert order["date_paid_gmt"] == datetime(2017, 3, 22, 19, 28, 8, tzinfo=timezone.utc)
    assert order["date_completed_gmt"] is None


def test_load_order_fixture_723_has_refunds_and_no_payment_date(fixture_payload):
    order = load_order(fixture_payload("order-723"))
    assert order["date_paid_gmt"] is None
    assert sum(r["total"] for r in order["refunds"]) == Decimal("-19.00")


def test_load_order_tolerates_unknown_keys(fixture_payload):
    document = fixture_payload("order-727") | {"plugin_field": {"x": 1}, "is_editable": True}
    document["line_items"][0]["new_key"] = "y"
    assert load_order(document)["id"] == 727


def test_decode_json_never_yields_float():
    document = decode_json(b'{"price": 12.99, "qty": 2}')
    assert document["price"] == Decimal("12.99") and isinstance(document["price"], Decimal)


@pytest.mark.parametrize("body, words", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe", "not UTF-8"),
    (b"[1, 2]", "must be a JSON object"),
    (b'{"id": "seven", "status": "processing", "currency": "USD", "total": "1.00"}', "id: Not a valid integer"),
    (b'{"id": 7, "currency": "USD", "total": "1.00"}', "status: Missing data"),
    (b'{"id": 7, "status": "processing", "currency": "USD", "total": "abc"}', "total: Not a valid number"),
    (b'{"id": 7, "status": "processing", "currency": "USD", "total": "1.00", "line_items": [{"total": "x"}]}',
     "line_items.0"),
])
def test_load_order_bad_input_reason_is_readable(body, words):
    with pytest.raises(PayloadError) as caught:
        load_order(decode_json(body))
    assert words in str(caught.value)


def test_load_customer_fixture_25(fixture_payload):
    customer = load_customer(fixture_payload("customer-25"))
    assert customer["email"] == "john.doe@example.com"
    assert customer["date_modified_gmt"] == datetime(2017, 3, 21, 19, 9, 30, tzinfo=timezone.utc)


def test_load_deleted_needs_only_the_id():
    assert load_deleted(json.loads('{"id": 42}')) == {"id": 42}
    with pytest.raises(PayloadError):
        load_deleted({})


def test_load_refund_shipping_tax_with_blank_subtotal_as_woocommerce_sends_it():
    from connector.woo.schemas import load_refund

    refund = load_refund({"id": 5, "date_created_gmt": "2026-11-25T10:00:00", "amount": "10.73",
                          "shipping_lines": [{"id": 9, "total": "-10.00",
                                              "taxes": [{"id": 75, "total": "-0.73", "subtotal": ""}]}]})
    assert refund["shipping_lines"][0]["taxes"][0]["total"] == Decimal("-0.73")


def test_load_refund_without_its_date_is_refused():
    from connector.woo.schemas import PayloadError, load_refund

    with pytest.raises(PayloadError, match="date_created_gmt"):
        load_refund({"id": 5, "amount": "1.00"})

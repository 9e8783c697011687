"""Refunds and cancellations as WooCommerce recorded them: worked examples, lines written out.

The order: a Stripe order paid 20 November 2026 — a mug (15.30, state tax 1.11, county 0.16), a
hoodie (45.00, state 3.26, county 0.48), shipping 10.00 (state 0.73): total 76.04, Stripe's fee
2.51. Its sale entry: clearing 76.04 and fee 2.51 Dr; revenue 60.30, shipping 10.00, state tax
(tax_payable) 5.10, county tax 0.64, clearing 2.51 Cr.
"""
import re
from decimal import Decimal

import pytest

from connector.ledger import NotPostable, journal_entry
from connector.ledger import reversals
from connector.mapping import parse_mapping
from connector.woo.schemas import load_order, load_refund
from tests.unit.ledger.conftest import MAPPING_TEXT

D = Decimal
CLEARING, REVENUE, SHIPPING, STATE, COUNTY = "M30.1110.STRIPE", "M30.4010", "M30.4050", "M30.2310", "M30.2320"
PAYABLE, GIFT_CARDS, DISCOUNTS, FEES = "M30.2460", "M30.2450", "M30.4090", "M30.6810"


def _order(**changes) -> dict:
    document = {
        "id": 5001, "number": "5001", "status": "processing", "currency": "USD", "payment_method": "stripe",
        "date_created_gmt": "2026-11-20T17:59:00", "date_paid_gmt": "2026-11-20T18:00:00",
        "date_modified_gmt": "2026-11-20T18:00:00", "total": "76.04", "total_tax": "5.74",
        "line_items": [
            {"id": 11, "name": "Mug", "product_id": 31, "quantity": 1, "subtotal": "15.30", "total": "15.30",
             "taxes": [{"id": 75, "total": "1.11"}, {"id": 76, "total": "0.16"}]},
            {"id": 12, "name": "Hoodie", "product_id": 40, "quantity": 1, "subtotal": "45.00", "total": "45.00",
             "taxes": [{"id": 75, "total": "3.26"}, {"id": 76, "total": "0.48"}]}],
        "shipping_lines": [{"id": 13, "method_id": "flat_rate", "total": "10.00", "total_tax": "0.73"}],
        "fee_lines": [],
        "tax_lines": [{"id": 14, "rate_code": "US-CA-STATE TAX-1", "rate_id": 75, "label": "State Tax",
                       "tax_total": "4.37", "shipping_tax_total": "0.73"},
                      {"id": 15, "rate_code": "US-CA-COUNTY TAX-2", "rate_id": 76, "label": "County Tax",
                       "tax_total": "0.64", "shipping_tax_total": "0.00"}],
        "meta_data": [{"key": "_stripe_fee", "value": "2.51"}, {"key": "_stripe_currency", "value": "USD"}],
        "refunds": [],
    }
    document.update(changes)
    return load_order(document)


def _refund(refund_id, amount, *, lines=(), shipping=(), fees=(), paid=True, at="2026-11-25T20:00:00") -> dict:
    """A refund record as `GET /orders/{id}/refunds` returns it (line totals negative)."""
    def copy(item_id, total, taxes, **more):
        return {"id": 900 + item_id, "total": f"-{total}", "subtotal": f"-{total}",
                "taxes": [{"id": rate, "total": f"-{tax}", "subtotal": f"-{tax}"} for rate, tax in taxes],
                "meta_data": [{"id": 1, "key": "_refunded_item_id", "value": str(item_id)}], **more}
    return load_refund({
        "id": refund_id, "date_created_gmt": at, "amount": amount, "reason": "", "refunded_payment": paid,
        "line_items": [copy(i, t, taxes, product_id=p, quantity=-1) for i, p, t, taxes in lines],
        "shipping_lines": [copy(i, t, taxes, method_id="flat_rate") for i, t, taxes in shipping],
        "fee_lines": [copy(i, t, taxes, name=n) for i, n, t, taxes in fees]})


MUG = (11, 31, "15.30", [(75, "1.11"), (76, "0.16")])
HOODIE = (12, 40, "45.00", [(75, "3.26"), (76, "0.48")])
SHIPPING_LINE = (13, "10.00", [(75, "0.73")])


@pytest.fixture
def mapping(mapping_with):
    """The tests' mapping (the refunds payable liability is 2460)."""
    return mapping_with()


def _sale_lines(order, mapping):
    return [(line.account_number, line.amount) for line in journal_entry(order, mapping).lines]


def _plan(order, mapping, refunds=(), recorded=()):
    named = {r["id"]: r for r in refunds}
    order = dict(order, refunds=order["refunds"] or [{"id": r["id"], "total": -r["amount"]} for r in refunds])
    return reversals.plan(order, _sale_lines(order, mapping), list(recorded), named, mapping, currency="USD")


def _lines(entry):
    return sorted((line.account_number, line.amount) for line in entry.lines)


def _recorded(plan):
    return [(kind, entry.batch_number, [(l.account_number, l.amount) for l in entry.lines])
            for kind, entry in plan.entries]


def test_sale_of_the_worked_example_is_as_described(mapping):
    assert sorted(_sale_lines(_order(), mapping)) == sorted([
        (CLEARING, D("76.04")), (FEES, D("2.51")), (REVENUE, D("-60.30")), (SHIPPING, D("-10.00")),
        (STATE, D("-5.10")), (COUNTY, D("-0.64")), (CLEARING, D("-2.51"))])


def test_refund_of_one_item_with_its_tax_takes_back_that_item_and_each_rate(mapping):
    [(kind, entry)] = _plan(_order(), mapping, [_refund(9001, "16.57", lines=[MUG])]).entries
    assert kind == "refund" and entry.batch_number == "WC-5001-R9001"
    assert _lines(entry) == sorted([(REVENUE, D("15.30")), (STATE, D("1.11")), (COUNTY, D("0.16")),
                                    (CLEARING, D("-16.57"))])


def test_refund_is_dated_the_store_local_day_it_was_made(mapping):
    # 25 November 05:30 UTC is still 24 November in Los Angeles; the order's own dates do not matter.
    order = _order(date_modified_gmt="2026-12-02T10:00:00")
    [(_, entry)] = _plan(order, mapping, [_refund(9001, "16.57", lines=[MUG], at="2026-11-25T05:30:00")]).entries
    assert entry.gl_date.isoformat() == "2026-11-24"


def test_refund_of_shipping_only_takes_back_shipping_and_its_tax(mapping):
    [(_, entry)] = _plan(_order(), mapping, [_refund(9002, "10.73", shipping=[SHIPPING_LINE])]).entries
    assert _lines(entry) == sorted([(SHIPPING, D("10.00")), (STATE, D("0.73")), (CLEARING, D("-10.73"))])


def test_refund_of_an_amount_only_is_pro_rata_with_the_cent_on_the_largest_line(mapping):
    [(_, entry)] = _plan(_order(), mapping, [_refund(9003, "20.00")]).entries
    # 20.00 / 76.04 of each credit line of the sale: 15.86, 2.63, 1.34, 0.17 (sum 20.00).
    assert _lines(entry) == sorted([(REVENUE, D("15.86")), (SHIPPING, D("2.63")), (STATE, D("1.34")),
                                    (COUNTY, D("0.17")), (CLEARING, D("-20.00"))])


def test_refund_in_full_reverses_every_credit_line_and_leaves_the_gateway_fee(mapping):
    refund = _refund(9004, "76.04", lines=[MUG, HOODIE], shipping=[SHIPPING_LINE])
    [(_, entry)] = _plan(_order(status="refunded"), mapping, [refund]).entries
    assert _lines(entry) == sorted([(REVENUE, D("60.30")), (SHIPPING, D("10.00")), (STATE, D("5.10")),
                                    (COUNTY, D("0.64")), (CLEARING, D("-76.04"))])
    assert FEES not in {account for account, _ in _lines(entry)}


def test_refund_without_the_gateway_is_owed_to_the_customer_in_refunds_payable(mapping):
    [(_, entry)] = _plan(_order(), mapping, [_refund(9005, "16.57", lines=[MUG], paid=False)]).entries
    assert _lines(entry) == sorted([(REVENUE, D("15.30")), (STATE, D("1.11")), (COUNTY, D("0.16")),
                                    (PAYABLE, D("-16.57"))])


def test_refund_without_the_gateway_needs_refunds_payable_mapped():
    unmapped = parse_mapping(re.sub(r"^refunds_payable = .*$", "", MAPPING_TEXT, flags=re.M))
    with pytest.raises(NotPostable, match="refunds_payable"):
        _plan(_order(), unmapped, [_refund(9005, "16.57", lines=[MUG], paid=False)])


def test_refund_whose_lines_differ_from_its_amount_is_scaled_to_the_amount(mapping):
    # The mug given back, but 10.00 of money: the money is what left the bank.
    [(_, entry)] = _plan(_order(), mapping, [_refund(9006, "10.00", lines=[MUG])]).entries
    assert _lines(entry) == sorted([(REVENUE, D("9.23")), (STATE, D("0.67")), (COUNTY, D("0.10")),
                                    (CLEARING, D("-10.00"))])


def test_last_refund_reverses_exactly_what_is_left(mapping):
    order = _order()
    first = _refund(9001, "16.57", lines=[MUG])
    rest = _refund(9007, "59.47", at="2026-11-26T20:00:00")     # amount only: all the rest
    _, last = [entry for _, entry in _plan(order, mapping, [first, rest]).entries]
    assert _lines(last) == sorted([(REVENUE, D("45.00")), (SHIPPING, D("10.00")), (STATE, D("3.99")),
                                  (COUNTY, D("0.48")), (CLEARING, D("-59.47"))])


def test_refunds_are_reversed_in_the_order_they_were_made(mapping):
    early = _refund(9010, "20.00", at="2026-11-22T20:00:00")
    late = _refund(9009, "16.57", lines=[MUG], at="2026-11-23T20:00:00")
    plan = _plan(_order(), mapping, [late, early])
    assert [entry.batch_number for _, entry in plan.entries] == ["WC-5001-R9010", "WC-5001-R9009"]


def test_cancellation_of_a_paid_order_owes_the_customer_and_never_touches_clearing(mapping):
    [(kind, entry)] = _plan(_order(status="cancelled", date_modified_gmt="2026-11-21T19:00:00"), mapping).entries
    assert kind == "cancellation" and entry.batch_number == "WC-5001-C"
    assert _lines(entry) == sorted([(REVENUE, D("60.30")), (SHIPPING, D("10.00")), (STATE, D("5.10")),
                                    (COUNTY, D("0.64")), (PAYABLE, D("-76.04"))])
    assert entry.gl_date.isoformat() == "2026-11-21"


def test_refund_after_the_cancellation_only_pays_the_customer_back(mapping):
    order = _order(status="cancelled")
    cancelled = _recorded(_plan(order, mapping))
    refund = _refund(9011, "76.04", lines=[MUG, HOODIE], shipping=[SHIPPING_LINE])
    [(_, entry)] = _plan(_order(status="refunded"), mapping, [refund], recorded=cancelled).entries
    assert _lines(entry) == sorted([(PAYABLE, D("76.04")), (CLEARING, D("-76.04"))])


def test_partly_refunded_cancelled_then_refunded_nets_every_account_to_zero(mapping):
    order = _order()
    first = _refund(9001, "16.57", lines=[MUG])
    recorded = _recorded(_plan(order, mapping, [first]))
    cancelled = _order(status="cancelled", refunds=[{"id": 9001, "total": "-16.57"}],
                       date_modified_gmt="2026-11-26T10:00:00")
    recorded += _recorded(_plan(cancelled, mapping, [first], recorded))
    assert [batch for _, batch, _ in recorded] == ["WC-5001-R9001", "WC-5001-C"]
    assert sorted(recorded[1][2]) == sorted([(REVENUE, D("45.00")), (SHIPPING, D("10.00")), (STATE, D("3.99")),
                                             (COUNTY, D("0.48")), (PAYABLE, D("-59.47"))])
    last = _refund(9012, "59.47", at="2026-11-27T10:00:00")
    refunded = _order(status="refunded", refunds=[{"id": 9012, "total": "-59.47"}, {"id": 9001, "total": "-16.57"}])
    recorded += _recorded(_plan(refunded, mapping, [first, last], recorded))
    assert sorted(recorded[2][2]) == sorted([(PAYABLE, D("59.47")), (CLEARING, D("-59.47"))])
    balances = {}
    for account, amount in _sale_lines(order, mapping) + [l for _, _, lines in recorded for l in lines]:
        balances[account] = balances.get(account, D(0)) + amount
    assert {a: v for a, v in balances.items() if v} == {FEES: D("2.51"), CLEARING: D("-2.51")}


def test_order_reversed_in_full_needs_nothing_more(mapping):
    refund = _refund(9004, "76.04", lines=[MUG, HOODIE], shipping=[SHIPPING_LINE])
    recorded = _recorded(_plan(_order(status="refunded"), mapping, [refund]))
    order = _order(status="cancelled", refunds=[{"id": 9004, "total": "-76.04"}])
    assert _plan(order, mapping, [refund], recorded).entries == []


def test_refund_of_more_than_is_left_on_an_account_goes_to_a_person(mapping):
    first = _refund(9001, "16.57", lines=[MUG])
    recorded = _recorded(_plan(_order(), mapping, [first]))
    again = _refund(9013, "46.00", lines=[(11, 31, "46.00", [])])    # 45.00 of revenue is left
    order = _order(refunds=[{"id": 9013, "total": "-46.00"}, {"id": 9001, "total": "-16.57"}])
    with pytest.raises(NotPostable, match="takes 46.00 back from account M30.4010, where the sale has 45.00 left"):
        _plan(order, mapping, [first, again], recorded)


def test_refund_of_more_money_than_was_paid_goes_to_a_person(mapping):
    with pytest.raises(NotPostable, match="more than the 76.04 paid"):
        _plan(_order(), mapping, [_refund(9015, "80.00")])


def test_refund_record_not_held_yet_is_asked_for_not_guessed(mapping):
    order = _order(refunds=[{"id": 9016, "total": "-5.00"}])
    plan = reversals.plan(order, _sale_lines(order, mapping), [], {}, mapping, currency="USD")
    assert plan.entries == [] and plan.missing_refunds == (9016,)


def test_full_refund_credits_clearing_with_all_paid_when_the_sale_has_other_debits(mapping):
    # A negative fee (a discount entered as a fee) is a debit of the sale besides clearing.
    order = _order(fee_lines=[{"id": 16, "name": "Loyalty discount", "total": "-5.00", "total_tax": "0.00"}],
                   total="71.04", meta_data=[])
    [(_, entry)] = _plan(dict(order, status="refunded"), mapping, [_refund(9017, "71.04")]).entries
    assert _lines(entry) == sorted([(REVENUE, D("60.30")), (SHIPPING, D("10.00")), (STATE, D("5.10")),
                                    (COUNTY, D("0.64")), (DISCOUNTS, D("-5.00")), (CLEARING, D("-71.04"))])


def test_full_refund_gives_gift_cards_back_to_the_liability(mapping):
    order = _order(total="51.04", meta_data=[], gift_cards=[{"id": 1, "code": "GC-1", "amount": "25.00"}])
    [(_, entry)] = _plan(dict(order, status="refunded"), mapping, [_refund(9018, "51.04")]).entries
    assert _lines(entry) == sorted([(REVENUE, D("60.30")), (SHIPPING, D("10.00")), (STATE, D("5.10")),
                                    (COUNTY, D("0.64")), (CLEARING, D("-51.04")), (GIFT_CARDS, D("-25.00"))])


def test_cancellation_gives_gift_cards_back_and_owes_only_the_money(mapping):
    order = _order(status="cancelled", total="51.04", meta_data=[],
                   gift_cards=[{"id": 1, "code": "GC-1", "amount": "25.00"}])
    [(_, entry)] = _plan(order, mapping).entries
    assert (PAYABLE, D("-51.04")) in _lines(entry) and (GIFT_CARDS, D("-25.00")) in _lines(entry)


def test_refund_in_gross_mode_takes_back_the_gross_and_the_discount_as_sold(mapping_with):
    gross = mapping_with(posting='discounts = "gross"')
    order = _order(line_items=[
        {"id": 11, "name": "Mug", "product_id": 31, "quantity": 1, "subtotal": "17.00", "total": "15.30",
         "taxes": [{"id": 75, "total": "1.11"}, {"id": 76, "total": "0.16"}]},
        {"id": 12, "name": "Hoodie", "product_id": 40, "quantity": 1, "subtotal": "45.00", "total": "45.00",
         "taxes": [{"id": 75, "total": "3.26"}, {"id": 76, "total": "0.48"}]}])
    [(_, entry)] = _plan(order, gross, [_refund(9019, "16.57", lines=[MUG])]).entries
    assert _lines(entry) == sorted([(REVENUE, D("17.00")), (DISCOUNTS, D("-1.70")), (STATE, D("1.11")),
                                    (COUNTY, D("0.16")), (CLEARING, D("-16.57"))])


def test_refund_by_category_debits_the_account_its_item_was_sold_to(mapping_with):
    by_category = mapping_with(accounts__revenue_by_category='clothing = { business_unit = "M40", account = "4030" }')
    order = _order()
    categories = {31: ["decor"], 40: ["clothing"]}
    sale = [(l.account_number, l.amount) for l in journal_entry(order, by_category, categories).lines]
    refund = _refund(9020, "48.74", lines=[HOODIE])
    plan = reversals.plan(dict(order, refunds=[{"id": 9020, "total": "-48.74"}]), sale, [], {9020: refund},
                          by_category, currency="USD", categories=categories)
    assert _lines(plan.entries[0][1]) == sorted([("M40.4030", D("45.00")), (STATE, D("3.26")), (COUNTY, D("0.48")),
                                                 (CLEARING, D("-48.74"))])


def test_refund_after_cancellation_paid_back_by_hand_moves_nothing(mapping):
    cancelled = _recorded(_plan(_order(status="cancelled"), mapping))
    plan = _plan(_order(status="cancelled"), mapping, [_refund(9021, "76.04", paid=False)], recorded=cancelled)
    assert plan.entries == [] and "refunds_payable" in plan.notes[0]


def test_unrecorded_sees_new_refunds_and_a_new_cancellation():
    order = {"id": 7, "status": "cancelled", "refunds": [{"id": 1}]}
    assert reversals.unrecorded(order, {"WC-7", "WC-7-C"})
    assert reversals.unrecorded(order, {"WC-7", "WC-7-R1"})
    assert not reversals.unrecorded(order, {"WC-7", "WC-7-R1", "WC-7-C"})

"""Worked examples of each rule family, with amounts as WooCommerce's totals rules produce them
(WC_Cart_Totals: line totals after coupons, each tax rounded per line or at subtotal; WC_Tax:
compound rates on top of the others; fees carry their own tax)."""
from decimal import Decimal

import pytest

from connector.ledger import NothingToPost, NotPostable, ProductsUnknown, journal_entry
from connector.woo.schemas import load_order

D = Decimal


def _lines(entry):
    return [(line.account_number, line.amount) for line in entry.lines]


def _canadian_order(order):
    """A Québec order: GST 5 % and QST 9.975 % on 100.00 of goods and 10.00 of taxed shipping."""
    order.update(total="126.48", total_tax="16.48", shipping_total="10.00", shipping_tax="1.50",
                 discount_total="0.00")
    order["line_items"] = [dict(order["line_items"][0], subtotal="100.00", total="100.00", total_tax="14.98")]
    order["shipping_lines"] = [dict(order["shipping_lines"][0], total="10.00", total_tax="1.50")]
    order["tax_lines"] = [
        {"id": 1, "rate_code": "CA-GST-1", "rate_id": 11, "label": "GST", "compound": False,
         "tax_total": "5.00", "shipping_tax_total": "0.50"},
        {"id": 2, "rate_code": "CA-QC-QST-2", "rate_id": 12, "label": "QST", "compound": False,
         "tax_total": "9.98", "shipping_tax_total": "1.00"}]
    return order


def test_tax_per_rate_each_authority_its_account(mapping_with, order_727):
    mapping = mapping_with(accounts__tax='"CA-GST-1" = "2311"\n"12" = { business_unit = "Q10", account = "2312" }')
    entry = journal_entry(load_order(_canadian_order(order_727)), mapping)
    lines = _lines(entry)
    assert ("M30.2311", D("-5.50")) in lines and ("Q10.2312", D("-10.98")) in lines
    assert [l.explanation for l in entry.lines if l.account_number == "M30.2311"] == ["WC 727 GST"]


def test_tax_unmapped_rate_goes_to_tax_payable(mapping_with, order_727):
    entry = journal_entry(load_order(_canadian_order(order_727)), mapping_with(accounts__tax='"CA-GST-1" = "2311"'))
    assert ("M30.2310", D("-10.98")) in _lines(entry)


def _coupon_order(order):
    """10 % coupon: items 6.00 + 12.00 before, 5.40 + 10.80 after; tax on the discounted totals."""
    order.update(total="27.44", total_tax="1.24", discount_total="1.80")
    order["line_items"][0].update(subtotal="6.00", total="5.40", total_tax="0.41")
    order["line_items"][1].update(subtotal="12.00", total="10.80", total_tax="0.83")
    order["tax_lines"][0].update(tax_total="1.24")
    return order


def test_discounts_net_books_revenue_after_coupons(mapping_with, order_727):
    lines = _lines(journal_entry(load_order(_coupon_order(order_727)), mapping_with()))
    assert ("M30.4010", D("-16.20")) in lines and not any(a == "M30.4090" for a, _ in lines)   # coupons unseen


def test_discounts_gross_books_revenue_before_coupons_and_debits_discounts(mapping_with, order_727):
    mapping = mapping_with(posting='discounts = "gross"')
    lines = _lines(journal_entry(load_order(_coupon_order(order_727)), mapping))
    assert ("M30.4010", D("-18.00")) in lines and ("M30.4090", D("1.80")) in lines
    assert sum(a for _, a in lines) == 0


def test_negative_fee_debits_discounts_when_mapped(mapping_with, order_727):
    order_727["fee_lines"] = [{"id": 1, "name": "Loyalty", "total": "-12.00"}, {"id": 2, "name": "Wrap",
                                                                                "total": "4.00"}]
    order_727["total"] = "21.35"
    lines = _lines(journal_entry(load_order(order_727), mapping_with()))
    assert ("M30.4090", D("12.00")) in lines and ("M30.4060", D("-4.00")) in lines


def test_revenue_by_category_first_mapped_category_in_file_order(mapping_with, order_727):
    mapping = mapping_with(accounts__revenue_by_category='music = { business_unit = "M40", account = "4020" }\n'
                                                          'clothing = "4030"')
    ids = [item["product_id"] for item in order_727["line_items"]]
    categories = {ids[0]: ["clothing", "music"], ids[1]: ["posters"]}
    lines = _lines(journal_entry(load_order(order_727), mapping, categories))
    assert ("M40.4020", D("-6.00")) in lines         # music comes first in the file
    assert ("M30.4010", D("-12.00")) in lines        # no mapped category: revenue


def test_revenue_by_category_unknown_product_waits(mapping_with, order_727):
    mapping = mapping_with(accounts__revenue_by_category='music = "4020"')
    with pytest.raises(ProductsUnknown) as caught:
        journal_entry(load_order(order_727), mapping, {})
    assert caught.value.product_ids == sorted({i["product_id"] for i in order_727["line_items"]})


def _stripe(order, fee="1.15", currency="USD"):
    order["payment_method"] = "stripe"
    order["meta_data"] = [{"id": 1, "key": "_stripe_fee", "value": fee},
                          {"id": 2, "key": "_stripe_currency", "value": currency}]
    return order


def test_gateway_fee_moves_from_clearing_to_payment_fees(mapping_with, order_727):
    lines = _lines(journal_entry(load_order(_stripe(order_727)), mapping_with()))
    assert lines[:1] == [("M30.1110.STRIPE", D("29.35"))]
    assert ("M30.6810", D("1.15")) in lines and ("M30.1110.STRIPE", D("-1.15")) in lines


def test_gateway_fee_in_another_currency_is_not_booked(mapping_with, order_727):
    lines = _lines(journal_entry(load_order(_stripe(order_727, currency="EUR")),
                                 mapping_with()))
    assert not any(a == "M30.6810" for a, _ in lines)


def test_gift_card_debits_the_liability_clearing_gets_the_rest(mapping_with, order_727):
    order_727["gift_cards"] = [{"id": 3, "code": "GIFT-50", "amount": "20.00"}]
    order_727["total"] = "9.35"
    lines = _lines(journal_entry(load_order(order_727), mapping_with()))
    assert lines[:2] == [("M30.1110.BANK", D("9.35")), ("M30.2450", D("20.00"))]


def test_gift_card_without_mapping_is_not_postable(mapping_with, order_727):
    from dataclasses import replace

    order_727["gift_cards"] = [{"id": 3, "code": "GIFT-50", "amount": "20.00"}]
    order_727["total"] = "9.35"
    mapping = mapping_with()
    mapping = replace(mapping, accounts=replace(mapping.accounts, gift_cards=None))
    with pytest.raises(NotPostable, match="gift_cards"):
        journal_entry(load_order(order_727), mapping)


def test_nothing_to_post_when_every_amount_is_zero(mapping_with, order_727):
    order_727.update(total="0.00", total_tax="0.00", shipping_total="0.00")
    for item in order_727["line_items"]:
        item.update(subtotal="0.00", total="0.00", total_tax="0.00")
    order_727["shipping_lines"][0]["total"] = "0.00"
    order_727["tax_lines"][0]["tax_total"] = "0.00"
    with pytest.raises(NothingToPost):
        journal_entry(load_order(order_727), mapping_with())


def test_full_coupon_in_gross_mode_posts_revenue_and_discount(mapping_with, order_727):
    order_727.update(total="0.00", total_tax="0.00", shipping_total="0.00", discount_total="18.00")
    for item in order_727["line_items"]:
        item.update(total="0.00", total_tax="0.00")
    order_727["shipping_lines"][0]["total"] = "0.00"
    order_727["tax_lines"][0]["tax_total"] = "0.00"
    mapping = mapping_with(posting='discounts = "gross"')
    assert _lines(journal_entry(load_order(order_727), mapping)) == [("M30.4010", D("-18.00")),
                                                                     ("M30.4090", D("18.00"))]


def test_rounding_tolerance_is_one_unit_per_rounded_amount(mapping_with, order_727):
    # 2 items + 1 shipping + 1 tax line: up to 0.04 is WooCommerce's rounding, 0.05 is not.
    order_727["total"] = "29.39"
    assert ("M30.7990", D("-0.04")) in _lines(journal_entry(load_order(order_727), mapping_with()))
    order_727["total"] = "29.40"
    with pytest.raises(NotPostable, match="differs"):
        journal_entry(load_order(order_727), mapping_with())


def test_foreign_currency_transaction_mode_posts_in_the_orders_currency(mapping_with, order_727):
    order_727["currency"] = "EUR"
    entry = journal_entry(load_order(order_727), mapping_with(posting='foreign_currency = "transaction"'))
    assert (entry.currency, entry.currency_mode) == ("EUR", "F")
    assert entry.orchestration_input(1)["CurrencyMode"] == "F" and entry.lines[0].amount == D("29.35")


@pytest.mark.parametrize("changes, reason", [
    ({"id": 100_000_000}, "order id 100000000 is outside JDE's document number range"),
    ({"id": 2 ** 63 - 1}, "outside JDE's document number range"),
    ({"total": "-29.35"}, "total is negative"),
    ({"total": "1E+27"}, "beyond what a JDE amount holds"),
    ({"date_paid_gmt": "0001-01-01T00:00:00"}, "outside the years 1900–2099"),
    ({"date_created_gmt": "2100-01-01T00:00:00"}, "outside the years 1900–2099"),
])
def test_journal_entry_values_jde_must_never_see_go_to_a_person(mapping_with, order_727, changes, reason):
    with pytest.raises(NotPostable, match=reason):
        journal_entry(load_order(order_727 | changes), mapping_with())

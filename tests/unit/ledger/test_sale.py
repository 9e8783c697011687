"""Journal-entry rules (docs/design.md §8/§9)."""
import copy
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import assume, given, settings, strategies as st

from connector.ledger import NotPostable, journal_entry, julian
from connector.mapping import load_mapping, parse_mapping
from connector.woo.schemas import load_order

MAPPING = load_mapping(Path(__file__).resolve().parents[2] / "fixtures" / "connector.toml")


def _lines(entry):
    return [(line.account_number, line.amount) for line in entry.lines]


def test_journal_entry_fixture_727_is_the_design_example(fixture_payload):
    entry = journal_entry(load_order(fixture_payload("order-727")), MAPPING)
    assert _lines(entry) == [("M30.1110.BANK", Decimal("29.35")), ("M30.4010", Decimal("-18.00")),
                             ("M30.4050", Decimal("-10.00")), ("M30.2310", Decimal("-1.35"))]
    assert (entry.batch_number, entry.gl_date_julian, entry.company, entry.document_type) == (
        "WC-727", "117081", "00001", "JE")
    payload = entry.orchestration_input(10001)
    assert payload["Lines"][1]["Amount"] == "-18.00" and payload["AddressNumber"] == 10001


@pytest.mark.parametrize("day, expected", [
    (date(2026, 11, 26), "126330"), (date(2017, 3, 22), "117081"), (date(1999, 12, 31), "099365"),
    (date(2000, 1, 1), "100001"), (date(2024, 12, 31), "124366"),
])
def test_julian_is_cyyddd(day, expected):
    assert julian(day) == expected


@pytest.mark.parametrize("paid_gmt, expected", [
    ("2017-03-22T19:28:08", "117081"),   # 12:28 in Los Angeles
    ("2017-03-23T06:59:59", "117081"),   # still the 22nd in Los Angeles
    ("2017-03-23T07:00:00", "117082"),
])
def test_journal_entry_gl_date_is_store_local_day(fixture_payload, paid_gmt, expected):
    doc = fixture_payload("order-727") | {"date_paid_gmt": paid_gmt}
    assert journal_entry(load_order(doc), MAPPING).gl_date_julian == expected


def test_journal_entry_gl_date_falls_back_to_completed_then_created(fixture_payload):
    doc = fixture_payload("order-727") | {"date_paid_gmt": None, "date_completed_gmt": None}
    assert journal_entry(load_order(doc), MAPPING).gl_date_julian == "117081"   # created 19:28:02Z
    doc["date_completed_gmt"] = "2017-04-01T20:00:00"
    assert journal_entry(load_order(doc), MAPPING).gl_date_julian == "117091"


@pytest.mark.parametrize("method, account", [("bacs", "M30.1110.BANK"), ("stripe", "M30.1110.STRIPE"),
                                             ("cod", "M30.1110.WEB"), ("", "M30.1110.WEB")])
def test_journal_entry_clearing_account_by_payment_method(fixture_payload, method, account):
    doc = fixture_payload("order-727") | {"payment_method": method}
    assert journal_entry(load_order(doc), MAPPING).lines[0].account_number == account


def test_journal_entry_other_currency_is_not_postable(fixture_payload):
    with pytest.raises(NotPostable, match="EUR is not the company currency USD"):
        journal_entry(load_order(fixture_payload("order-727") | {"currency": "EUR"}), MAPPING)


def test_journal_entry_one_cent_tax_rounding_goes_to_rounding_account(fixture_payload):
    doc = fixture_payload("order-727") | {"total": "29.36"}
    entry = journal_entry(load_order(doc), MAPPING)
    assert ("M30.7990", Decimal("-0.01")) in _lines(entry)
    assert sum(amount for _, amount in _lines(entry)) == 0


def test_journal_entry_larger_difference_is_not_postable(fixture_payload):
    doc = fixture_payload("order-727") | {"total": "29.40"}
    with pytest.raises(NotPostable, match="differs .* by 0.05"):
        journal_entry(load_order(doc), MAPPING)


def test_journal_entry_aggregates_lines_of_one_account(fixture_payload):
    text = (Path(__file__).resolve().parents[2] / "fixtures" / "connector.toml").read_text().replace(
        'shipping = "4050"', 'shipping = "4010"')
    entry = journal_entry(load_order(fixture_payload("order-727")), parse_mapping(text))
    assert ("M30.4010", Decimal("-28.00")) in _lines(entry) and len(entry.lines) == 3


def test_journal_entry_fees_and_negative_fees_are_never_netted(fixture_payload):
    doc = copy.deepcopy(fixture_payload("order-727"))
    doc["fee_lines"] = [{"id": 1, "name": "Gift wrap", "total": "2.50"}, {"id": 2, "name": "Discount", "total": "-1.00"}]
    doc["total"] = "30.85"
    lines = _lines(journal_entry(load_order(doc), MAPPING))
    # The fee credits fee income; the negative fee debits the discounts given.
    assert ("M30.4060", Decimal("-2.50")) in lines and ("M30.4090", Decimal("1.00")) in lines


def test_journal_entry_zero_decimal_currency_quantises_to_units(fixture_payload):
    text = (Path(__file__).resolve().parents[2] / "fixtures" / "connector.toml").read_text().replace('"USD"', '"JPY"')
    doc = copy.deepcopy(fixture_payload("order-727"))
    doc.update(currency="JPY", total="2935", shipping_total="1000", total_tax="135", tax_lines=[])
    doc["line_items"][0]["total"], doc["line_items"][1]["total"] = "600", "1200"
    doc["shipping_lines"][0]["total"] = "1000"
    entry = journal_entry(load_order(doc), parse_mapping(text))
    assert [amount for _, amount in _lines(entry)] == [Decimal("2935"), Decimal("-1800"), Decimal("-1000"),
                                                        Decimal("-135")]


cents = st.integers(min_value=0, max_value=10_000_00).map(lambda c: Decimal(c).scaleb(-2))


@settings(max_examples=200, deadline=None)
@given(items=st.lists(cents, min_size=1, max_size=8), shipping=cents, tax=cents,
       fees=st.lists(st.integers(-500_00, 500_00).map(lambda c: Decimal(c).scaleb(-2)), max_size=3),
       rounding=st.sampled_from([Decimal("0"), Decimal("0.01"), Decimal("-0.01")]),
       method=st.sampled_from(["bacs", "stripe", "paypal"]))
def test_journal_entry_always_balances_to_the_cent(items, shipping, tax, fees, rounding, method):
    total = sum(items) + shipping + tax + sum(fees, Decimal(0)) + rounding
    assume(total >= 0)     # WooCommerce never totals below zero (a negative total is refused: guards)
    if total == 0 and not any([*items, shipping, tax, *fees]):
        return
    order = {
        "id": 1, "status": "processing", "currency": "USD", "total": str(total), "total_tax": str(tax),
        "payment_method": method, "date_paid_gmt": "2026-11-26T12:00:00",
        "line_items": [{"id": i, "total": str(v)} for i, v in enumerate(items)],
        "shipping_lines": [{"id": 1, "total": str(shipping)}],
        "fee_lines": [{"id": i, "total": str(v)} for i, v in enumerate(fees)],
        "tax_lines": [{"id": 1, "tax_total": str(tax)}],
    }
    entry = journal_entry(load_order(order), MAPPING)
    assert sum(line.amount for line in entry.lines) == 0
    assert all(line.amount == line.amount.quantize(Decimal("0.01")) and line.amount != 0 for line in entry.lines)
    # One line per account and side: a debit and a credit to one account are never netted.
    assert len({(line.account_number, line.amount > 0) for line in entry.lines}) == len(entry.lines)
    assert entry.lines[0].amount == total or total <= 0

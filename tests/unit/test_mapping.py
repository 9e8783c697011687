import re
from pathlib import Path

import pytest

from connector.mapping import MappingError, currency_places, load_mapping, parse_mapping

EXAMPLE = (Path(__file__).resolve().parents[1] / "fixtures" / "connector.toml").read_text()


def _without(text: str, key_line: str) -> str:
    lines = [line for line in text.splitlines() if not re.match(rf"^{re.escape(key_line)}\s*=", line)]
    return "\n".join(lines)


def test_parse_mapping_example_file():
    mapping = parse_mapping(EXAMPLE)
    assert mapping.store.source == "https://shop.example.com/"
    assert mapping.store.timezone.key == "America/Los_Angeles"
    assert mapping.posting.statuses == {"processing", "completed"}
    assert str(mapping.accounts.clearing_for("bacs")) == "1110.BANK"
    assert str(mapping.accounts.clearing_for("cod")) == "1110.WEB"
    assert mapping.account_number(mapping.accounts.revenue) == "M30.4010"


@pytest.mark.parametrize("key, name", [
    ("company", "store.company"),
    ("business_unit", "store.business_unit"),
    ("timezone", "store.timezone"),
    ("revenue", "accounts.revenue"),
    ("tax_payable", "accounts.tax_payable"),
    ("rounding", "accounts.rounding"),
    ("default", "accounts.clearing.default"),
])
def test_parse_mapping_missing_key_is_named(key, name):
    with pytest.raises(MappingError, match=re.escape(f"[{name}]")):
        parse_mapping(_without(EXAMPLE, key))


def test_parse_mapping_defaults_for_posting_and_orchestrations():
    text = EXAMPLE.split("[posting]")[0] + "[accounts]" + EXAMPLE.split("[accounts]")[1].split("[orchestrations]")[0]
    mapping = parse_mapping(text)
    assert mapping.posting.statuses == {"processing", "completed"}
    assert mapping.orchestrations.post_journal_entry == "ORCH_WOO_PostJournalEntry"
    assert mapping.orchestrations.reference_column == "VINV"


@pytest.mark.parametrize("change, name", [
    (('timezone = "America/Los_Angeles"', 'timezone = "Mars/Olympus"'), "store.timezone"),
    (('currency = "USD"', 'currency = "dollars"'), "store.currency"),
    (('revenue = "4010"', 'revenue = "40 10"'), "accounts.revenue"),
    (('statuses = ["processing", "completed"]', 'statuses = "processing"'), "posting.statuses"),
])
def test_parse_mapping_bad_value_is_named(change, name):
    with pytest.raises(MappingError, match=re.escape(f"[{name}]")):
        parse_mapping(EXAMPLE.replace(*change))


def test_parse_mapping_unparsable_says_so():
    with pytest.raises(MappingError, match="does not parse"):
        parse_mapping("[store\nsource = ")


def test_load_mapping_missing_file_says_how(tmp_path):
    with pytest.raises(MappingError, match="CONNECTOR_CONFIG"):
        load_mapping(tmp_path / "nope.toml")


@pytest.mark.parametrize("currency, places", [("USD", 2), ("jpy", 0), ("KWD", 3), ("EUR", 2)])
def test_currency_places(currency, places):
    assert currency_places(currency) == places


@pytest.mark.parametrize("a, b, same", [
    ("https://shop.example.com/", "https://shop.example.com", True),
    ("http://shop.example.com/", "https://www.Shop.example.com/", True),
    ("https://shop.example.com/eu/", "https://shop.example.com/", False),
    ("https://other.example.com/", "https://shop.example.com/", False),
])
def test_same_store_ignores_scheme_www_and_case(a, b, same):
    from connector.mapping import same_store

    assert same_store(a, b) is same


@pytest.mark.parametrize("change, key, words", [
    (('reference_column = "VINV"', 'refrence_column = "VINV"'), "orchestrations.refrence_column",
     "did you mean 'reference_column'"),
    (('statuses = ["processing", "completed"]', 'statuses = ["processing", "complete"]'), "posting.statuses",
     "did you mean 'completed'"),
    (('currency = "USD"', 'currency = "usd"'), "store.currency", "write 'USD'"),
    (('currency = "USD"', 'currency = "XYZ"'), "store.currency", "not an ISO 4217"),
    (('[orchestrations]', '[orchestration]'), "orchestration", "did you mean 'orchestrations'"),
])
def test_parse_mapping_typo_is_an_error_naming_key_and_line(change, key, words):
    text = EXAMPLE.replace(*change)
    line = next(n for n, l in enumerate(text.splitlines(), 1) if change[1] in l)
    with pytest.raises(MappingError) as caught:
        parse_mapping(text)
    assert f"connector.toml:{line}: [{key}]" in str(caught.value) and words in str(caught.value)


@pytest.mark.parametrize("value, number", [('"4020"', "M30.4020"), ('"4020.APP"', "M30.4020.APP"),
                                           ('{ business_unit = "M40", account = "4020" }', "M40.4020"),
                                           ('{ business_unit = "M40", account = "4020.APP" }', "M40.4020.APP")])
def test_parse_mapping_account_may_name_its_own_business_unit(value, number):
    mapping = parse_mapping(EXAMPLE.replace('revenue = "4010"', f"revenue = {value}"))
    assert mapping.account_number(mapping.accounts.revenue) == number


@pytest.mark.parametrize("value, words", [('{ account = "4020" }', "business_unit"),
                                          ('{ business_unit = "M40", account = "40-20" }', "not an Object"),
                                          ('{ business_unit = "M40", account = "4020", sub = "x" }', "not sub")])
def test_parse_mapping_bad_account_table_names_the_key(value, words):
    with pytest.raises(MappingError, match=re.escape("[accounts.revenue]")) as caught:
        parse_mapping(EXAMPLE.replace('revenue = "4010"', f"revenue = {value}"))
    assert words in str(caught.value)


def test_parse_mapping_optional_keys_have_todays_defaults():
    optional = ("discounts", "payment_fees", "gift_cards", '"US-CA-COUNTY TAX-2"', "[accounts.tax]")
    mapping = parse_mapping("\n".join(line for line in EXAMPLE.splitlines() if not line.startswith(optional)))
    assert (mapping.posting.discounts, mapping.posting.foreign_currency) == ("net", "refuse")
    assert mapping.posting.fee_meta == {"stripe": "_stripe_fee"}
    assert mapping.accounts.tax == {} and mapping.accounts.discounts is None


def test_demo_mapping_is_the_tests_mapping_plus_revenue_by_category():
    demo = load_mapping(Path(__file__).resolve().parents[2] / "connector.toml")
    tests = parse_mapping(EXAMPLE)
    assert {k: demo.account_number(a) for k, a in demo.accounts.revenue_by_category.items()} == {
        "music": "M40.4020", "clothing": "M30.4030"}
    assert demo.accounts.clearing == tests.accounts.clearing and demo.accounts.tax == tests.accounts.tax
    assert (demo.store, demo.posting, demo.orchestrations) == (tests.store, tests.posting, tests.orchestrations)

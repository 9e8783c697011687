import re
from pathlib import Path

import pytest

from connector.mapping import MappingError, currency_places, load_mapping, parse_mapping

EXAMPLE = (Path(__file__).resolve().parents[2] / "connector.toml").read_text()


def _without(text: str, key_line: str) -> str:
    lines = [line for line in text.splitlines() if not re.match(rf"^{re.escape(key_line)}\s*=", line)]
    return "\n".join(lines)


def test_parse_mapping_example_file():
    mapping = parse_mapping(EXAMPLE)
    assert mapping.store.source == "https://shop.example.com/"
    assert mapping.store.timezone.key == "America/Los_Angeles"
    assert mapping.posting.statuses == {"processing", "completed"}
    assert mapping.accounts.clearing_for("bacs") == "1110.BANK"
    assert mapping.accounts.clearing_for("cod") == "1110.WEB"
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

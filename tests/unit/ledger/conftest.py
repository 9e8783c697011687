"""Orders and mappings for the ledger rules' worked examples."""
import copy
import re
from pathlib import Path

import pytest

from connector.mapping import parse_mapping

MAPPING_TEXT = (Path(__file__).resolve().parents[2] / "fixtures" / "connector.toml").read_text()


@pytest.fixture
def mapping_with():
    """The demo mapping with extra TOML appended to a table (`{"accounts": 'discounts = "4090"'}`)."""
    def build(**tables):
        text = MAPPING_TEXT
        for table, extra in tables.items():
            header = f"[{table.replace('__', '.')}]"
            line = re.compile(rf"^{re.escape(header)}[^\n]*$", re.M)    # the header itself, not a comment
            text = line.sub(lambda m: f"{m.group(0)}\n{extra}", text, count=1) if line.search(text) \
                else f"{text}\n{header}\n{extra}\n"
        return parse_mapping(text)
    return build


@pytest.fixture
def order_727(fixture_payload):
    """WooCommerce's documented order 727, a fresh copy for each test."""
    return copy.deepcopy(fixture_payload("order-727"))

"""Orchestration inputs in the JDE Standard and generic formats."""
import json
from pathlib import Path

import pytest

from connector.jde import inputs

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ais"
HEADER = {"BatchNumber": "WC-727", "Company": "00001", "DocumentType": "JE", "GLDate": "03/22/2017",
          "Currency": "USD", "Explanation": "WooCommerce order 727", "AddressNumber": 70001}
LINES = [{"LineNumber": n, "AccountNumber": a, "Amount": amount, "Explanation": f"WC 727 {what}"}
         for n, (a, amount, what) in enumerate([("M30.1110.BANK", "29.35", "payment"), ("M30.4010", "-18.00", "sales"),
                                                ("M30.4050", "-10.00", "shipping"),
                                                ("M30.2310", "-1.35", "sales tax")], 1)]


def test_standard_format_is_oracles_documented_shape():
    expected = json.loads((FIXTURES / "orchestration-request-standard.json").read_text())["request"]
    assert inputs.encode({**HEADER, "Lines": LINES}, input_format="standard", grid="Lines") == expected


def test_generic_format_is_the_flat_object():
    body = inputs.encode({**HEADER, "Lines": LINES}, input_format="generic", grid="Lines")
    assert body["Lines"] == LINES and body["AddressNumber"] == 70001


def test_standard_format_without_grid_has_only_inputs():
    body = inputs.encode({"AlphaName": "Doe, John", "TaxId": None}, input_format="standard")
    assert body == {"inputs": [{"name": "AlphaName", "value": "Doe, John"}, {"name": "TaxId", "value": ""}]}


def test_unknown_format_is_refused():
    with pytest.raises(ValueError):
        inputs.encode(HEADER, input_format="xml")

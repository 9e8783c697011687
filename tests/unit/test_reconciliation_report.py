"""Reconciliation findings as records and CSV: one text for an amount, formulas neutralised."""
import csv
import io
from decimal import Decimal

import pytest

from connector.reconciliation import Item
from connector.reconciliation_report import COLUMNS, REPLAYABLE, WHAT_TO_DO, neutralise, record, write_csv


def test_record_is_the_same_from_an_item_and_from_its_stored_row():
    item = Item("amount_differs", "WC-7 document 100001: …", "WC-7", 7, Decimal("29.35"), Decimal("1.00"),
                ("100001",))
    row = {"kind": "amount_differs", "detail": "WC-7 document 100001: …", "batch_number": "WC-7", "woo_id": 7,
           "expected": Decimal("29.3500"), "found": Decimal("1.0000"), "documents": ["100001"]}
    assert record(item) == record(row) == {"kind": "amount_differs", "batch": "WC-7", "order": 7, "expected": "29.35",
                                           "found": "1.00", "documents": ["100001"],
                                           "detail": "WC-7 document 100001: …"}


@pytest.mark.parametrize("amount, text", [(Decimal("1500"), "1500.00"), (Decimal("1.2340"), "1.234"),
                                          (Decimal("-0.5"), "-0.50"), (None, None)])
def test_record_amounts_keep_their_significant_places(amount, text):
    assert record({"kind": "not_posted", "detail": "", "batch_number": None, "woo_id": None, "expected": amount,
                   "found": None, "documents": None})["expected"] == text


@pytest.mark.parametrize("cell, written", [("=1+1", "'=1+1"), ("+1", "+1"), ("-12.50", "-12.50"), ("-1+2", "'-1+2"),
                                           ("@A1", "'@A1"), ("\t=x", "'\t=x"), ("\r=x", "'\r=x"), ("WC-1", "WC-1"),
                                           ("", ""), (None, "")])
def test_neutralise_quotes_what_a_spreadsheet_would_evaluate(cell, written):
    assert neutralise(cell) == written


def test_write_csv_has_the_header_and_neutralised_cells():
    out = io.StringIO()
    write_csv([{"kind": "unknown_in_jde", "batch": "=cmd()", "order": None, "expected": None, "found": "50.00",
                "documents": ["900002", "900003"], "detail": "@x"}], out)
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [
        list(COLUMNS), ["unknown_in_jde", "'=cmd()", "", "", "50.00", "900002 900003", "'@x"]]


def test_every_kind_says_what_mends_it():
    kinds = {"missing_in_jde", "not_posted", "not_recorded", "amount_differs", "posted_twice", "unknown_in_jde"}
    assert set(WHAT_TO_DO) == kinds and set(REPLAYABLE) < kinds

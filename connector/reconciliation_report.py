"""Reconciliation findings for people: what to do about each kind, and the findings as records
and CSV, the same for `connector reconcile --format csv|json` and the admin pages.

CSV cells are neutralised for spreadsheets: a cell starting with `=`, `+`, `-`, `@`, a tab or
a carriage return is read as a formula by Excel, LibreOffice and Google Sheets (OWASP, "CSV
Injection"), so such a cell is written with a leading `'`. A batch number or detail text comes
from JDE's F0911 or WooCommerce and must never run in finance's spreadsheet. A plain number
(`-12.50`) is left as it is: it cannot be a formula, and a quote would turn it into text.
"""
from __future__ import annotations

import csv
import re
from decimal import Decimal

COLUMNS = ("kind", "batch", "order", "expected", "found", "documents", "detail")

# Kinds that `connector replay` mends: the batch is looked up in JDE first, then posted or
# recorded. The others need a person in JDE.
REPLAYABLE = ("missing_in_jde", "not_posted", "not_recorded")
WHAT_TO_DO = {
    "missing_in_jde": "replay: it is posted again once a lookup confirms it is absent from JDE",
    "not_posted": "replay: it is posted (after a lookup)",
    "not_recorded": "replay: the lookup finds it in JDE and records its document",
    "amount_differs": "investigate in JDE: the entry was changed there after it was posted",
    "posted_twice": "void the extra document in JDE",
    "unknown_in_jde": "find who posted it in JDE; if it is a real order of the shop, `connector poll` fetches it",
}

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def _amount(value) -> str | None:
    """An amount as the same text whether it was just computed (`29.35`) or read back from
    Postgres's numeric(19, 4) (`29.3500`): its significant places, at least two."""
    if value is None:
        return None
    amount = Decimal(value)
    places = max(2, -amount.normalize().as_tuple().exponent)
    return f"{amount:.{places}f}"


def record(item) -> dict:
    """A finding as a plain record: from a reconciliation.Item or a reconciliation_items row."""
    get = item.get if isinstance(item, dict) else lambda name: getattr(item, name)
    documents = get("documents") or ()
    return {"kind": get("kind"), "batch": get("batch_number"), "order": get("woo_id"),
            "expected": _amount(get("expected")), "found": _amount(get("found")), "documents": list(documents),
            "detail": get("detail")}


def neutralise(cell) -> str:
    """A cell as text a spreadsheet shows and never evaluates."""
    text = "" if cell is None else str(cell)
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def write_csv(records, out) -> None:
    """The records as CSV (a header, then one row each) to the text stream `out`."""
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for r in records:
        writer.writerow([neutralise(" ".join(r["documents"]) if column == "documents" else r[column])
                         for column in COLUMNS])

"""The JDE tables the sandbox holds: columns, their data-dictionary descriptions, which are
numeric (the data service compares those as numbers, the rest as exact strings) and which are
dates (stored as JDE stores them, Julian `CYYDDD` text; the data service reads their condition
values in the user's date format, compares them as days and writes them as `yyyyMMdd`).

F0901's MCU is stored right-justified in 12 characters, as JDE stores a business unit, so a
query for MCU EQUAL "M30" finds nothing there, as it would on a real server (chart.py)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    columns: dict[str, str]  # alias -> description, in AIS column order
    numeric: frozenset[str]
    dates: frozenset[str] = frozenset()

    def default(self, column: str):
        return 0 if column in self.numeric else ""


TABLES = {table.name: table for table in (
    Table("F0911", "Account Ledger", {
        "KCO": "Document Company", "DCT": "Document Type", "DOC": "Document Number",
        "DGJ": "G/L Date", "JELN": "Journal Entry Line Number",
        "ANI": "Account Number Input (Mode Unknown)", "MCU": "Business Unit", "OBJ": "Object Account",
        "SUB": "Subsidiary", "AA": "Amount", "ACR": "Amount - Currency", "CRCD": "Currency Code - From",
        "EXA": "Explanation - Name Alpha", "AN8": "Address Number", "VINV": "Supplier Invoice Number",
        "ICU": "Batch Number", "LT": "Ledger Type",
    }, frozenset({"DOC", "JELN", "AA", "ACR", "AN8", "ICU"}), frozenset({"DGJ"})),
    Table("F0101", "Address Book Master", {
        "AN8": "Address Number", "ALPH": "Alpha Name", "AT1": "Search Type", "TAX": "Tax ID",
    }, frozenset({"AN8"})),
    Table("F01151", "Electronic Address", {
        "AN8": "Address Number", "IDLN": "Who's Who Line Number - ID", "RCK7": "Line Number ID",
        "ETP": "Electronic Address Type", "EMAL": "Electronic Address",
    }, frozenset({"AN8", "IDLN", "RCK7"})),
    Table("F0901", "Account Master", {
        "AID": "Account ID", "MCU": "Business Unit", "OBJ": "Object Account", "SUB": "Subsidiary",
        "DL01": "Description", "PEC": "Posting Edit", "LDA": "Account Level of Detail",
    }, frozenset()),
)}

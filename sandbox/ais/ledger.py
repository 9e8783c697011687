"""The sandbox's JDE database (F0911, F0101, F01151) and the two orchestrations that write it.

The orchestrations validate the way JDE would reject the input (missing input, no lines, a
non-decimal amount, an unbalanced entry, a bad Julian date or account, a batch number that
is already in the ledger) and raise AisError; on success they append rows and answer the
orchestration's outputs. The error CODEs are the sandbox's own, not JDE data-dictionary ids.
Not thread-safe on its own: the service calls it under its lock.
"""
from __future__ import annotations

import calendar
import re
from decimal import Decimal

from sandbox.ais.errors import AisError, orchestration_failed
from sandbox.ais.tables import TABLES

POST_JOURNAL_ENTRY = "ORCH_WOO_PostJournalEntry"
ADD_CUSTOMER = "ORCH_WOO_AddCustomer"
FIRST_DOCUMENT, FIRST_ICU, FIRST_ADDRESS = 100001, 7001, 10001

_DECIMAL_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_JE_REQUIRED = ("BatchNumber", "Company", "DocumentType", "GLDate", "Currency")


def _fail(name, code, title, desc=""):
    return orchestration_failed(name, code, f"Error: {title}", desc)


def parse_amount(value) -> Decimal | None:
    """The exact Decimal of a JSON number or a decimal string; None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, Decimal)):
        return Decimal(value) if Decimal(value).is_finite() else None
    if isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value.strip()):
        return Decimal(value.strip())
    return None


def _julian(value) -> str | None:
    """`CYYDDD` (C = centuries after 1900) as 6 digits, or None when it is no real day."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not re.fullmatch(r"\d{5,6}", value):
        return None
    value = value.zfill(6)
    year = 1900 + 100 * int(value[0]) + int(value[1:3])
    day = int(value[3:])
    return value if 1 <= day <= (366 if calendar.isleap(year) else 365) else None


def _text(value) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, Decimal)):
        return str(value)
    return value.strip() if isinstance(value, str) else None


class Ledger:
    def __init__(self):
        self.tables: dict[str, list[dict]] = {name: [] for name in TABLES}
        self._next_document, self._next_icu, self._next_address = FIRST_DOCUMENT, FIRST_ICU, FIRST_ADDRESS

    # -- orchestrations -------------------------------------------------------------------

    def post_journal_entry(self, inputs: dict) -> dict:
        name = POST_JOURNAL_ENTRY
        header = {key: _text(inputs.get(key)) for key in _JE_REQUIRED}
        missing = [key for key, value in header.items() if not value]
        if missing:
            raise _fail(name, "4001", f"Required input missing: {', '.join(missing)}",
                        "The orchestration input must supply every header field.")
        batch = header["BatchNumber"]
        gl_date = _julian(header["GLDate"])
        if gl_date is None:
            raise _fail(name, "4002", f"Invalid G/L date {header['GLDate']!r}",
                        "GLDate must be a Julian date CYYDDD, e.g. 126330 for 2026-11-26.")
        address = inputs.get("AddressNumber") or 0
        address_number = parse_amount(address)
        if address_number is None or address_number != address_number.to_integral_value() or address_number < 0:
            raise _fail(name, "4003", f"Invalid address number {address!r}", "AddressNumber must be a whole number.")
        lines = inputs.get("Lines")
        if not isinstance(lines, list) or not lines or not all(isinstance(line, dict) for line in lines):
            raise _fail(name, "4004", "No journal entry lines", "Lines must be a non-empty list of lines.")
        parsed, total, seen = [], Decimal(0), set()
        for index, line in enumerate(lines, start=1):
            number = parse_amount(line.get("LineNumber", index))
            if number is None or number <= 0 or number in seen:
                raise _fail(name, "4005", f"Invalid line number {line.get('LineNumber')!r}",
                            "LineNumber must be a positive number, unique in the entry.")
            seen.add(number)
            account = _text(line.get("AccountNumber"))
            if not account:
                raise _fail(name, "4006", f"Account number missing on line {number}",
                            "Every line needs an AccountNumber BU.Object or BU.Object.Sub.")
            parts = account.split(".")
            if len(parts) not in (2, 3) or not parts[0] or not parts[1] or len(parts[0]) > 12 \
                    or len(parts[1]) > 6 or (len(parts) == 3 and len(parts[2]) > 8):
                raise _fail(name, "4007", f"Invalid account number {account!r} on line {number}",
                            "AccountNumber must be BU.Object or BU.Object.Sub.")
            amount = parse_amount(line.get("Amount"))
            if amount is None:
                raise _fail(name, "4008", f"Invalid amount {line.get('Amount')!r} on line {number}",
                            "Amount must be a decimal number such as -29.35.")
            total += amount
            parsed.append((number, account, parts, amount, _text(line.get("Explanation"))))
        if total != 0:
            raise _fail(name, "4009", "Journal entry out of balance",
                        f"Lines of batch {batch} sum to {total}, not 0.00.")
        if any(row["VINV"] == batch for row in self.tables["F0911"]):
            # What F0911Z1's key (user, transaction, batch, line) does to a repeated batch.
            raise _fail(name, "4010", f"Duplicate batch number {batch}", "batch already exists in F0911Z1")
        document, icu = self._next_document, self._next_icu
        self._next_document += 1
        self._next_icu += 1
        explanation = _text(inputs.get("Explanation")) or ""
        for number, account, parts, amount, line_explanation in parsed:
            self.tables["F0911"].append({
                "KCO": header["Company"], "DCT": header["DocumentType"], "DOC": document, "DGJ": gl_date,
                "JELN": int(number) if number == number.to_integral_value() else number,
                "ANI": account, "MCU": parts[0], "OBJ": parts[1], "SUB": parts[2] if len(parts) == 3 else "",
                "AA": amount, "CRCD": header["Currency"],
                # EXA holds 30 characters; a line without its own explanation takes the header's.
                "EXA": (line_explanation or explanation)[:30], "AN8": int(address_number),
                "VINV": batch, "ICU": icu, "LT": "AA",
            })
        return {"DocumentNumber": document, "BatchNumber": batch}

    def add_customer(self, inputs: dict) -> dict:
        name = ADD_CUSTOMER
        alpha = _text(inputs.get("AlphaName"))
        if not alpha:
            raise _fail(name, "4101", "Required input missing: AlphaName", "A new address book record needs a name.")
        search_type = _text(inputs.get("SearchType")) or "C"
        if len(search_type) > 3:
            raise _fail(name, "4102", f"Invalid search type {search_type!r}", "SearchType is at most 3 characters.")
        number = self._next_address
        self._next_address += 1
        self.tables["F0101"].append({"AN8": number, "ALPH": alpha[:40], "AT1": search_type,
                                     "TAX": (_text(inputs.get("TaxId")) or "")[:20]})
        email = _text(inputs.get("Email"))
        if email:
            self.tables["F01151"].append({"AN8": number, "IDLN": 0, "RCK7": 1, "ETP": "E", "EMAL": email[:256]})
        return {"AddressNumber": number}

    # -- tester's edits (reconciliation scenarios) ----------------------------------------

    def delete_batch(self, batch: str) -> int:
        rows = self.tables["F0911"]
        kept = [row for row in rows if row["VINV"] != batch]
        deleted = len(rows) - len(kept)
        rows[:] = kept
        return deleted

    def set_amount(self, batch: str, line, amount) -> int:
        value, number = parse_amount(amount), parse_amount(line)
        if value is None or number is None:
            raise AisError(400, "set-amount needs a numeric line and a decimal amount")
        matching = [row for row in self.tables["F0911"] if row["VINV"] == batch and row["JELN"] == number]
        for row in matching:
            row["AA"] = value
        return len(matching)

    def insert_f0911(self, rows) -> int:
        """Raw rows as given (missing columns take blanks/zeros); the document counter moves
        past any DOC inserted so later posts never reuse it."""
        table = TABLES["F0911"]
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise AisError(400, "insert needs {\"rows\": [ {column: value}, ... ]}")
        built = []
        for raw in rows:
            unknown = set(raw) - set(table.columns)
            if unknown:
                raise AisError(400, f"unknown F0911 columns: {', '.join(sorted(unknown))}")
            row = {column: raw.get(column, table.default(column)) for column in table.columns}
            for column in set(table.columns) - table.numeric:
                row[column] = row[column] if isinstance(row[column], str) else str(row[column])
            for column in table.numeric:
                value = parse_amount(row[column])
                if value is None:
                    raise AisError(400, f"F0911.{column} must be numeric, got {row[column]!r}")
                row[column] = value if column == "AA" or value != value.to_integral_value() else int(value)
            built.append(row)
        self.tables["F0911"].extend(built)
        for row in built:
            self._next_document = max(self._next_document, int(row["DOC"]) + 1)
        return len(built)

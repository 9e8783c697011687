"""The sandbox's JDE database (F0911, F0101, F01151, F0901) and the two orchestrations that write it.

Each orchestration runs one form service request, as a real one built in the Orchestrator
Studio would: the GL entry goes through FR_WOO_WriteF0911Z1 on P0911Z1 (the journal entry
batch input), the customer through FR_WOO_AddAddressBook on P01012. Its input arrives flat
(inputs.py reads both input formats). It validates the way JDE would reject the input and
raises FormError with the form's error (CODE, TITLE, DESC with CAUSE/RESOLUTION, MOBILE);
the service answers that in Oracle's 500 shape. On success it appends rows and answers the
orchestration's outputs. Checks, in order: a required input missing, a GL date that does not
read in the configured form (`gl_date_input`: Julian CYYDDD, the user's date format, or epoch
milliseconds), a bad address number, no lines, a bad line number, an account that is not
BU.Object or BU.Object.Sub within JDE's lengths, an account not in the Account Master (F0901,
chart.py) or one whose posting edit code refuses posting (N: a header account, I: inactive),
a non-decimal amount, an unbalanced entry, a batch number already in F0911 (F0911Z1's key
refuses it). The CODEs are the sandbox's own, not JDE data-dictionary ids; clients must not
read texts. F0911.DGJ is stored Julian, as in JDE's database. F0901 starts as the chart the
sandbox was given (chart.DEFAULT_CHART unless told otherwise) and testers edit it.

`snapshot()` and `restore()` carry the tables and the number counters to and from a state
file (state.py). Not thread-safe on its own: the service calls it under its lock.
"""
from __future__ import annotations

import re
from decimal import Decimal

from sandbox.ais import chart, dates
from sandbox.ais.errors import AisError
from sandbox.ais.inputs import LINES
from sandbox.ais.tables import TABLES

POST_JOURNAL_ENTRY = "ORCH_WOO_PostJournalEntry"
ADD_CUSTOMER = "ORCH_WOO_AddCustomer"
# orchestration -> (the service request it runs, that request's form): where JDE nests errors.
STEPS = {
    POST_JOURNAL_ENTRY: ("FR_WOO_WriteF0911Z1", "P0911Z1_W0911Z1A"),
    ADD_CUSTOMER: ("FR_WOO_AddAddressBook", "P01012_W01012A"),
}
FIRST_DOCUMENT, FIRST_ICU, FIRST_ADDRESS = 100001, 7001, 10001

_DECIMAL_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_JE_REQUIRED = ("BatchNumber", "Company", "DocumentType", "GLDate", "Currency")
_DATE_FORMS = {"julian": "a Julian date CYYDDD (e.g. 126330 for 2026-11-26)",
               "epoch_ms": "milliseconds since 1970-01-01 at a UTC midnight"}


class FormError(Exception):
    """A form's error, JDE-worded: `DESC` is "CAUSE . . . . x\\nRESOLUTION. . y"."""

    def __init__(self, code: str, title: str, cause: str, resolution: str):
        super().__init__(f"{title}: {cause}")
        self.error = {"CODE": code, "TITLE": f"Error: {title}",
                      "DESC": f"CAUSE . . . . {cause}\nRESOLUTION. . {resolution}", "MOBILE": cause}


# The sandbox company's currency and its rates (P0015A), for entries posted in a foreign currency.
DOMESTIC_CURRENCY = "USD"
EXCHANGE_RATES = {"EUR": Decimal("1.08"), "GBP": Decimal("1.27"), "CAD": Decimal("0.73"), "JPY": Decimal("0.0067")}


def parse_amount(value) -> Decimal | None:
    """The exact Decimal of a JSON number or a decimal string; None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, Decimal)):
        return Decimal(value) if Decimal(value).is_finite() else None
    if isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value.strip()):
        return Decimal(value.strip())
    return None


def _text(value) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, Decimal)):
        return str(value)
    return value.strip() if isinstance(value, str) else None


def read_gl_date(value, form: str, user_format: dates.UserDateFormat):
    """The day `value` names in the configured `form`, or None."""
    if form == "julian":
        return dates.from_julian(value.strip() if isinstance(value, str) else value)
    if form == "user":
        return user_format.parse(value.strip() if isinstance(value, str) else value)
    return dates.from_epoch_ms(value)


def _account_error(number, account: str, cause: str) -> FormError:
    return FormError("0002", "Invalid Account Number",
                     f"The account number {account!r} entered on line {number} is not valid{cause}.",
                     "Enter a valid account number as BU.Object or BU.Object.Sub, one that exists in the "
                     "Account Master (F0901).")


def _not_postable(number, account: str, row: dict) -> FormError:
    code = row["PEC"].strip()
    return FormError("0009", "Account Not Postable",
                     f"The account {account!r} entered on line {number} has posting edit code {code!r}: it is "
                     f"{chart.NOT_POSTABLE[code]} and takes no journal entries.",
                     "Enter a detail account whose posting edit code is blank, or change the posting edit code "
                     "in the Account Master (F0901).")


class Ledger:
    def __init__(self, accounts: list[dict]):
        """`accounts`: the F0901 rows to start with (chart.build makes them)."""
        self.tables: dict[str, list[dict]] = {name: [] for name in TABLES}
        self.tables["F0901"] = [dict(row) for row in accounts]
        self._next_document, self._next_icu, self._next_address = FIRST_DOCUMENT, FIRST_ICU, FIRST_ADDRESS

    # -- orchestrations -------------------------------------------------------------------

    def post_journal_entry(self, inputs: dict, *, gl_date_input: str = "julian",
                           date_format: str = "dd.MM.yyyy") -> dict:
        header = {key: _text(inputs.get(key)) for key in _JE_REQUIRED}
        missing = [key for key, value in header.items() if not value]
        if missing:
            raise FormError("0001", "Required Field Missing",
                            f"The required input {', '.join(missing)} is missing or blank.",
                            "Supply every header input: " + ", ".join(_JE_REQUIRED) + ".")
        batch = header["BatchNumber"]
        user_format = dates.user_format(date_format)
        day = read_gl_date(inputs.get("GLDate"), gl_date_input, user_format)
        gl_date = dates.to_julian(day) if day else None
        if gl_date is None:
            expected = _DATE_FORMS.get(gl_date_input) or f"a date in the user's format {user_format.pattern}"
            raise FormError("0004", "Invalid Date",
                            f"The G/L date {inputs.get('GLDate')!r} is not a valid date.",
                            f"Enter the G/L date as {expected}.")
        address = inputs.get("AddressNumber") or 0
        address_number = parse_amount(address)
        if address_number is None or address_number != address_number.to_integral_value() or address_number < 0:
            raise FormError("0005", "Invalid Address Number",
                            f"The address number {address!r} is not valid.", "Enter a whole address number.")
        lines = inputs.get(LINES)
        if not isinstance(lines, list) or not lines or not all(isinstance(line, dict) for line in lines):
            raise FormError("0007", "No Detail Lines", "The journal entry has no journal entry lines.",
                            "Enter at least one grid row with an account and an amount.")
        parsed, total, seen = [], Decimal(0), set()
        accounts = {chart.key(row): row for row in self.tables["F0901"]}
        for index, line in enumerate(lines, start=1):
            number = parse_amount(line.get("LineNumber", index))
            if number is None or number <= 0 or number in seen:
                raise FormError("0006", "Invalid Line Number",
                                f"The line number {line.get('LineNumber')!r} is not valid.",
                                "Enter a positive line number, unique in the entry.")
            seen.add(number)
            account = _text(line.get("AccountNumber"))
            if not account:
                raise _account_error(number, "", ": the account number is missing")
            parts = chart.parse_account(account)
            if parts is None:
                raise _account_error(number, account, "")
            row = accounts.get(parts)
            if row is None:
                raise _account_error(number, account, ": it is not in the chart of accounts (F0901)")
            if row["PEC"].strip() in chart.NOT_POSTABLE:
                raise _not_postable(number, account, row)
            amount = parse_amount(line.get("Amount"))
            if amount is None:
                raise FormError("0003", "Invalid Amount",
                                f"The amount {line.get('Amount')!r} on line {number} is not a number.",
                                "Enter a decimal amount such as -29.35.")
            total += amount
            parsed.append((number, account, parts, amount, _text(line.get("Explanation"))))
        if total != 0:
            raise FormError("0025", "Batch Out of Balance",
                            f"The lines of batch {batch} sum to {total}, not 0.00; debits do not equal credits.",
                            "Correct the amounts so that the batch balances.")
        if any(row["VINV"] == batch for row in self.tables["F0911"]):
            # What F0911Z1's key (user, transaction, batch, line) does to a repeated batch.
            raise FormError("0026", "Duplicate Key",
                            f"Record already exists in F0911Z1 for batch {batch}: the key is a duplicate.",
                            "Enter a batch number that has not been used.")
        domestic, foreign = self._domestic_amounts(header["Currency"], _text(inputs.get("CurrencyMode")),
                                                   [amount for _, _, _, amount, _ in parsed])
        document, icu = self._next_document, self._next_icu
        self._next_document += 1
        self._next_icu += 1
        explanation = _text(inputs.get("Explanation")) or ""
        for (number, account, parts, amount, line_explanation), aa in zip(parsed, domestic):
            self.tables["F0911"].append({
                "KCO": header["Company"], "DCT": header["DocumentType"], "DOC": document, "DGJ": gl_date,
                "JELN": int(number) if number == number.to_integral_value() else number,
                "ANI": account, "MCU": parts[0], "OBJ": parts[1], "SUB": parts[2],
                # Foreign (CurrencyMode F): ACR holds the transaction amount, AA the company's.
                "AA": aa, "ACR": amount if foreign else Decimal(0), "CRCD": header["Currency"],
                # EXA holds 30 characters; a line without its own explanation takes the header's.
                "EXA": (line_explanation or explanation)[:30], "AN8": int(address_number),
                "VINV": batch, "ICU": icu, "LT": "AA",
            })
        return {"DocumentNumber": document, "BatchNumber": batch}

    @staticmethod
    def _domestic_amounts(currency: str, mode: str | None, amounts: list[Decimal]) -> tuple[list[Decimal], bool]:
        """The company-currency amounts of the lines: themselves, or — for a foreign entry
        (`CurrencyMode` "F") — converted at the sandbox's rate, the rounding cent on the largest
        line so the batch still balances, as JDE's journal entry does."""
        if (mode or "").upper() != "F" or currency == DOMESTIC_CURRENCY:
            return amounts, False
        rate = EXCHANGE_RATES.get(currency)
        if rate is None:
            raise FormError("0030", "Exchange Rate Not Found",
                            f"No exchange rate from {currency} to {DOMESTIC_CURRENCY} for the G/L date.",
                            "Enter the rate in the currency exchange rates (P0015A).")
        converted = [(a * rate).quantize(Decimal("0.01")) for a in amounts]
        largest = max(range(len(converted)), key=lambda i: abs(converted[i]))
        converted[largest] -= sum(converted)
        return converted, True

    def add_customer(self, inputs: dict, **_) -> dict:
        alpha = _text(inputs.get("AlphaName"))
        if not alpha:
            raise FormError("0001", "Required Field Missing", "The required input AlphaName is missing or blank.",
                            "A new address book record needs a name.")
        search_type = _text(inputs.get("SearchType")) or "C"
        if len(search_type) > 3:
            raise FormError("0008", "Invalid Search Type", f"The search type {search_type!r} is not valid.",
                            "Enter a search type of at most 3 characters, e.g. C.")
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
        """Raw rows as given (missing columns take blanks/zeros, dates are Julian text); the
        document counter moves past any DOC inserted so later posts never reuse it."""
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
            for column in table.dates:
                # Stored as JDE stores a date: Julian CYYDDD text, or blank for no date.
                if row[column] and dates.from_julian(row[column]) is None:
                    raise AisError(400, f"F0911.{column} must be a Julian date CYYDDD or blank, got {row[column]!r}")
                row[column] = row[column].zfill(6) if row[column] else ""
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

    def add_accounts(self, entries) -> int:
        """Add chart entries to F0901 (chart.py's forms); AisError 400 names what is wrong."""
        try:
            rows = chart.build(entries, self.tables["F0901"])
        except ValueError as error:
            raise AisError(400, f"F0901 insert: {error}") from None
        self.tables["F0901"].extend(rows)
        return len(rows)

    def remove_account(self, account) -> int:
        """Delete the F0901 row of `BU.Object[.Subsidiary]`; how many rows went (0 or 1)."""
        parts = chart.parse_account(account) if isinstance(account, str) else None
        if parts is None:
            raise AisError(400, f"delete needs {{\"account\": \"BU.Object[.Subsidiary]\"}}, got {account!r}")
        rows = self.tables["F0901"]
        kept = [row for row in rows if chart.key(row) != parts]
        deleted = len(rows) - len(kept)
        rows[:] = kept
        return deleted

    # -- state that survives a restart (state.py) -----------------------------------------

    def snapshot(self) -> dict:
        """The tables (row copies; their values are immutable) and the number counters."""
        return {"tables": {name: [dict(row) for row in rows] for name, rows in self.tables.items()},
                "counters": {"next_document": self._next_document, "next_icu": self._next_icu,
                             "next_address": self._next_address}}

    def restore(self, state: dict) -> None:
        """Take the tables and counters of a snapshot read back from JSON; ValueError when it is
        not one. A table the snapshot lacks keeps what it has (F0901: the starting chart)."""
        tables, counters = state.get("tables"), state.get("counters")
        if not isinstance(tables, dict) or not isinstance(counters, dict):
            raise ValueError("a state has \"tables\" and \"counters\" objects")
        restored = {name: _restore_rows(TABLES[name], rows) for name, rows in tables.items() if name in TABLES}
        numbers = {}
        for name in ("next_document", "next_icu", "next_address"):
            value = counters.get(name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"counter {name} is not a whole number: {value!r}")
            numbers[name] = value
        self.tables.update(restored)
        self._next_document, self._next_icu, self._next_address = (
            numbers["next_document"], numbers["next_icu"], numbers["next_address"])

def _restore_rows(table, rows) -> list[dict]:
    """Rows as the ledger keeps them: every column present, AA an exact Decimal, other numbers
    int when whole, text as text."""
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ValueError(f"{table.name} is not a list of rows")
    restored = []
    for raw in rows:
        if set(raw) != set(table.columns):
            raise ValueError(f"a {table.name} row has columns {sorted(raw)}, not {sorted(table.columns)}")
        row = {}
        for column in table.columns:
            value = raw[column]
            if column in table.numeric:
                number = parse_amount(value)
                if number is None:
                    raise ValueError(f"{table.name}.{column} is not a number: {value!r}")
                value = number if column == "AA" or number != number.to_integral_value() else int(number)
            elif not isinstance(value, str):
                raise ValueError(f"{table.name}.{column} is not text: {value!r}")
            row[column] = value
        restored.append(row)
    return restored

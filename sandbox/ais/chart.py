"""The chart of accounts: F0901 rows, the default chart, and how an account number finds its row.

JDE keeps every G/L account in the Account Master (F0901): AID (an 8-digit account id), MCU
(the business unit, stored right-justified in 12 characters), OBJ, SUB (blank when none), DL01,
PEC (the posting edit code: blank posts, N is a non-posting header account, I an inactive one)
and LDA (the level of detail). A journal entry line names its account as BU.Object[.Subsidiary];
JDE finds it in F0901 and refuses one it does not find or whose posting edit code forbids
posting. The sandbox keeps a blank SUB as "" (JDE's database pads it with spaces) and a posting
account's PEC as " " (one blank, the char(1) JDE stores); it compares MCU and SUB without
their padding. A tester's chart may give PEC as "" too: both post.

Entries (the constructor's `chart`, /sandbox/f0901/insert, `add_accounts`) are an account
string "M30.4010" / "M30.1110.WEB", a dict {"account", "description", "PEC", "LDA"}, or a row
{MCU, OBJ, SUB, DL01, PEC, LDA, AID} with MCU right-justified or not. AIDs not given are
numbered on from the highest in the table.
"""
from __future__ import annotations

MCU_WIDTH, OBJ_WIDTH, SUB_WIDTH, DL01_WIDTH, AID_WIDTH = 12, 6, 8, 30, 8
POSTING_ACCOUNT_LEVEL = "7"
FIRST_AID = 101
# Posting edit codes that refuse a journal entry line, and what to call them in the error.
NOT_POSTABLE = {"N": "a non-posting (header) account", "I": "an inactive account"}

# The demo company's chart for business unit M30: the clearing accounts the payment methods
# post to, the income and tax accounts of an order, rounding, and one header account.
DEFAULT_CHART = [
    {"account": "M30.1100", "description": "Cash and clearing", "PEC": "N", "LDA": "6"},
    {"account": "M30.1110.BANK", "description": "Bank clearing"},
    {"account": "M30.1110.STRIPE", "description": "Stripe clearing"},
    {"account": "M30.1110.WEB", "description": "Web clearing"},
    {"account": "M30.2310", "description": "Sales tax payable"},
    {"account": "M30.2320", "description": "County tax payable"},
    {"account": "M30.2450", "description": "Gift cards outstanding"},
    {"account": "M30.2460", "description": "Customer refunds payable"},
    {"account": "M30.4010", "description": "Sales"},
    {"account": "M30.4030", "description": "Clothing sales"},
    {"account": "M40.4020", "description": "Music sales"},
    {"account": "M30.4050", "description": "Shipping income"},
    {"account": "M30.4060", "description": "Fee income"},
    {"account": "M30.4090", "description": "Discounts given"},
    {"account": "M30.6810", "description": "Payment processing fees"},
    {"account": "M30.7990", "description": "Rounding"},
]

_ROW_KEYS = {"AID", "MCU", "OBJ", "SUB", "DL01", "PEC", "LDA"}
_ENTRY_KEYS = {"account", "description", "PEC", "LDA", "AID"}


def parse_account(text: str) -> tuple[str, str, str] | None:
    """(business unit, object, subsidiary) of `BU.Object[.Subsidiary]` within JDE's lengths
    (subsidiary "" when none), or None when `text` is not of that shape."""
    parts = text.split(".")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1] or len(parts[0]) > MCU_WIDTH \
            or len(parts[1]) > OBJ_WIDTH or (len(parts) == 3 and len(parts[2]) > SUB_WIDTH):
        return None
    return parts[0], parts[1], parts[2] if len(parts) == 3 else ""


def key(row: dict) -> tuple[str, str, str]:
    """What an account number is compared with: the row's MCU, OBJ and SUB without padding."""
    return row["MCU"].strip(), row["OBJ"].strip(), row["SUB"].strip()


def account_number(row: dict) -> str:
    """The row as BU.Object[.Subsidiary]."""
    mcu, obj, sub = key(row)
    return f"{mcu}.{obj}.{sub}" if sub else f"{mcu}.{obj}"


def next_aid(rows: list[dict]) -> int:
    return max([FIRST_AID - 1] + [int(row["AID"]) for row in rows if str(row["AID"]).isdigit()]) + 1


def account_row(entry, aid: int) -> dict:
    """The F0901 row of one chart entry (see the module docstring); ValueError says what is wrong."""
    if isinstance(entry, str):
        entry = {"account": entry}
    if not isinstance(entry, dict):
        raise ValueError(f"a chart entry is an account string or an object, got {entry!r}")
    if "account" in entry:
        unknown = set(entry) - _ENTRY_KEYS
        parsed = parse_account(entry["account"]) if isinstance(entry["account"], str) else None
        if parsed is None:
            raise ValueError(f"account {entry['account']!r} is not BU.Object or BU.Object.Subsidiary "
                             f"within {MCU_WIDTH}.{OBJ_WIDTH}.{SUB_WIDTH} characters")
        mcu, obj, sub = parsed
        description = entry.get("description", "")
    else:
        unknown = set(entry) - _ROW_KEYS
        mcu, obj, sub = (_text(entry, column) for column in ("MCU", "OBJ", "SUB"))
        description = entry.get("DL01", "")
    if unknown:
        raise ValueError(f"unknown chart entry keys: {', '.join(sorted(unknown))}")
    mcu, obj, sub = mcu.strip(), obj.strip(), sub.strip()
    if not mcu or not obj or len(mcu) > MCU_WIDTH or len(obj) > OBJ_WIDTH or len(sub) > SUB_WIDTH \
            or "." in mcu + obj + sub:
        raise ValueError(f"an account needs MCU (at most {MCU_WIDTH}), OBJ (at most {OBJ_WIDTH}) and an optional "
                         f"SUB (at most {SUB_WIDTH}), none with a dot; got {mcu!r}, {obj!r}, {sub!r}")
    if not isinstance(description, str) or len(description) > DL01_WIDTH:
        raise ValueError(f"DL01 is text of at most {DL01_WIDTH} characters, got {description!r}")
    pec, lda = _text(entry, "PEC", " "), _text(entry, "LDA", POSTING_ACCOUNT_LEVEL)
    if len(pec) > 1 or len(lda) != 1:
        raise ValueError(f"PEC is one character (or blank) and LDA one character, got {pec!r}, {lda!r}")
    given_aid = _text(entry, "AID", "")
    if given_aid and not (given_aid.isdigit() and len(given_aid) <= AID_WIDTH):
        raise ValueError(f"AID is at most {AID_WIDTH} digits, got {given_aid!r}")
    return {"AID": (given_aid or str(aid)).zfill(AID_WIDTH), "MCU": mcu.rjust(MCU_WIDTH), "OBJ": obj, "SUB": sub,
            "DL01": description, "PEC": pec, "LDA": lda}


def _text(entry: dict, column: str, default: str = "") -> str:
    value = entry.get(column, default)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"F0901.{column} must be text, got {value!r}")
    return str(value)


def build(entries, existing: list[dict]) -> list[dict]:
    """The new F0901 rows of `entries`, checked against `existing` and each other: an account
    (MCU, OBJ, SUB) or an AID appears once, as F0901's unique indexes require."""
    if not isinstance(entries, (list, tuple)):
        raise ValueError("a chart is a list of entries")
    rows, keys, aids = [], {key(row) for row in existing}, {row["AID"] for row in existing}
    aid = next_aid(existing)
    for entry in entries:
        row = account_row(entry, aid)
        if key(row) in keys:
            raise ValueError(f"account {account_number(row)} is already in F0901")
        if row["AID"] in aids:
            raise ValueError(f"AID {row['AID']} is already in F0901")
        keys.add(key(row))
        aids.add(row["AID"])
        aid = max(aid, int(row["AID"])) + 1
        rows.append(row)
    return rows

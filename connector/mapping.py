"""The mapping file (connector.toml, docs/design.md §9): which JDE company, cost center and
accounts a WooCommerce order lands on.

It is loaded once at start-up and validated whole: a file that does not parse, lacks a
key, or cannot map a payment method stops the process with a message naming the key.
"""
from __future__ import annotations

import difflib
import re
import tomllib
from urllib.parse import urlsplit
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Currencies whose minor unit is not 2 (ISO 4217). Everything else has cents.
_CURRENCY_PLACES = {
    "BHD": 3, "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0, "JOD": 3,
    "JPY": 0, "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0, "RWF": 0,
    "TND": 3, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}

DEFAULT_POSTING_STATUSES = ("processing", "completed")
# The order statuses WooCommerce itself has (wc_get_order_statuses(), REST names without "wc-").
WOO_ORDER_STATUSES = frozenset({"pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed",
                                "trash", "checkout-draft"})

# ISO 4217 active codes: a currency is one of these, in upper case, as WooCommerce sends it.
ISO_4217 = frozenset("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF
CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL
HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL
MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON
RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL""".split())

# Every key the file may have (the contract); anything else is a typo to stop on.
_KNOWN_KEYS = {
    "": {"store", "posting", "accounts", "orchestrations"},
    "store": {"source", "company", "business_unit", "currency", "timezone"},
    "posting": {"statuses", "document_type", "discounts", "foreign_currency", "fee_meta"},
    "accounts": {"revenue", "shipping", "fees", "tax_payable", "rounding", "clearing", "tax", "discounts",
                 "revenue_by_category", "payment_fees", "gift_cards", "refunds_payable"},
    "orchestrations": {"post_journal_entry", "add_customer", "reference_column", "input_format", "date_format"},
}

# An account is Object or Object.Subsidiary (the business unit is prefixed later).
_ACCOUNT = re.compile(r"^[A-Za-z0-9]{1,6}(\.[A-Za-z0-9]{1,8})?$")


class MappingError(ValueError):
    """The mapping file cannot be used; the message names the file and the key."""


def currency_places(currency: str) -> int:
    return _CURRENCY_PLACES.get(currency.upper(), 2)


@dataclass(frozen=True)
class StoreMapping:
    source: str
    company: str
    business_unit: str
    currency: str
    timezone: ZoneInfo


DISCOUNT_MODES = ("net", "gross")
FOREIGN_CURRENCY_MODES = ("refuse", "transaction")
# The order meta key holding a gateway's fee, by payment method (docs/ledger.md lists the
# gateways' own keys); `[posting.fee_meta]` replaces it.
DEFAULT_FEE_META = {"stripe": "_stripe_fee"}


@dataclass(frozen=True)
class PostingRules:
    statuses: frozenset[str]
    document_type: str
    discounts: str = "net"
    foreign_currency: str = "refuse"
    fee_meta: dict = field(default_factory=lambda: dict(DEFAULT_FEE_META))


@dataclass(frozen=True)
class Account:
    """`Obj` or `Obj.Sub`, posted to the store's business unit unless it names its own (a cost center)."""
    account: str
    business_unit: str | None = None

    def number(self, default_business_unit: str) -> str:
        return f"{self.business_unit or default_business_unit}.{self.account}"

    def __str__(self):
        return self.account if self.business_unit is None else f"{self.business_unit}.{self.account}"


@dataclass(frozen=True)
class Accounts:
    revenue: Account
    shipping: Account
    fees: Account
    tax_payable: Account
    rounding: Account
    clearing: dict[str, Account]
    tax: dict[str, Account] = field(default_factory=dict)          # rate code or rate id → account
    revenue_by_category: dict[str, Account] = field(default_factory=dict)   # in the file's order
    discounts: Account | None = None
    payment_fees: Account | None = None
    gift_cards: Account | None = None
    refunds_payable: Account | None = None

    def clearing_for(self, payment_method: str | None) -> Account | None:
        """Clearing account of a payment method; the `default` entry catches the rest."""
        return self.clearing.get(payment_method or "", self.clearing.get("default"))


# How the GL orchestration's GLDate input is written (connector/jde/dates.py): Julian CYYDDD,
# the AIS user's date format, or epoch milliseconds — whatever its Orchestrator Studio input
# was built to take.
DATE_FORMATS = ("julian", "user", "epoch_ms")
INPUT_FORMATS = ("standard", "generic")


@dataclass(frozen=True)
class Orchestrations:
    post_journal_entry: str
    add_customer: str
    reference_column: str
    input_format: str = "standard"
    date_format: str = "julian"


@dataclass(frozen=True)
class Mapping:
    store: StoreMapping
    posting: PostingRules
    accounts: Accounts
    orchestrations: Orchestrations

    def account_number(self, account: "Account | str") -> str:
        """`BU.Object.Sub` as JDE's AccountNumber input wants it."""
        if isinstance(account, Account):
            return account.number(self.store.business_unit)
        return f"{self.store.business_unit}.{account}"


def normalise_source(url: str) -> str:
    """Store identity as WooCommerce sends it in X-WC-Webhook-Source: with one trailing slash."""
    return url.strip().rstrip("/") + "/"


def same_store(a: str, b: str) -> bool:
    """One site whatever its scheme, `www.` or letter case: a shop moved to https is the same
    shop, and its order 727 must not become a second order 727."""
    def key(url: str) -> tuple[str, str]:
        parts = urlsplit(normalise_source(url).lower())
        return parts.netloc.removeprefix("www."), parts.path
    return key(a) == key(b)


class _Reader:
    def __init__(self, data: dict, path: Path, text: str = ""):
        self.data, self.path, self.lines = data, path, text.splitlines()

    def fail(self, key: str, problem: str):
        line = self.line_of(key)
        where = f"{self.path}:{line}" if line else f"{self.path}"
        raise MappingError(f"{where}: [{key}] {problem}")

    def line_of(self, key: str) -> int | None:
        """The line that sets `key` (table.key), found in the text: tomllib keeps no positions."""
        table, _, name = key.rpartition(".")
        current = ""
        for number, raw in enumerate(self.lines, start=1):
            line = raw.strip()
            header = re.fullmatch(r"\[\s*([^\]]+?)\s*\]", line)
            if header:
                current = header.group(1).replace(" ", "")
                if current == key:
                    return number
                continue
            if current == table and re.match(rf"^\"?{re.escape(name)}\"?\s*=", line):
                return number
        return None

    def unknown_keys(self) -> None:
        for table, known in _KNOWN_KEYS.items():
            section = self.data if not table else self.data.get(table)
            if not isinstance(section, dict):
                continue
            for name in section:
                if name not in known:
                    key = f"{table}.{name}" if table else name
                    close = difflib.get_close_matches(name, known, n=1)
                    self.fail(key, "is not a key of the mapping file" + (f": did you mean {close[0]!r}?" if close
                                                                         else f" (known: {', '.join(sorted(known))})"))

    def table(self, key: str) -> dict:
        value = self.data
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
            if value is None:
                self.fail(key, "is missing")
        if not isinstance(value, dict):
            self.fail(key, "must be a table")
        return value

    def text(self, table: str, key: str, default: str | None = None) -> str:
        # A key with a default may come with its whole table missing.
        section = self.table(table) if default is None else (self.data.get(table) or {})
        value = section.get(key, default)
        if value is None:
            self.fail(f"{table}.{key}", "is missing")
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{table}.{key}", "must be a non-empty string")
        return value.strip()

    def choice(self, table: str, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(table, key, default)
        if value not in choices:
            self.fail(f"{table}.{key}", f"{value!r} is not one of {', '.join(repr(c) for c in choices)}")
        return value

    def account(self, table: str, key: str, value=None) -> Account:
        """`"Obj"`, `"Obj.Sub"`, or `{ business_unit = "M40", account = "4020" }`."""
        if value is None:
            section = self.table(table)
            if key not in section:
                self.fail(f"{table}.{key}", "is missing")
            value = section[key]
        name = f"{table}.{key}"
        if isinstance(value, dict):
            extra = set(value) - {"business_unit", "account"}
            if extra:
                self.fail(name, f"an account table has `business_unit` and `account`, not {', '.join(sorted(extra))}")
            unit, number = value.get("business_unit"), value.get("account")
            if not isinstance(unit, str) or not unit.strip() or len(unit.strip()) > 12:
                self.fail(name, "business_unit must be a business unit of at most 12 characters")
            if not isinstance(number, str) or not _ACCOUNT.match(number.strip()):
                self.fail(name, f"account {number!r} is not an Object or Object.Subsidiary account")
            return Account(number.strip(), unit.strip())
        if not isinstance(value, str) or not _ACCOUNT.match(value.strip()):
            self.fail(name, f"{value!r} is not an Object or Object.Subsidiary account (or a table with "
                            "business_unit and account)")
        return Account(value.strip())

    def optional_account(self, table: str, key: str) -> Account | None:
        section = self.data.get(table.split(".")[0]) or {}
        return self.account(table, key, section[key]) if key in section else None

    def account_table(self, key: str) -> dict[str, Account]:
        """An optional table of name → account, in the file's order."""
        section = self.data
        for part in key.split("."):
            section = section.get(part) if isinstance(section, dict) else None
        if section is None:
            return {}
        if not isinstance(section, dict):
            self.fail(key, "must be a table")
        return {str(name): self.account(key, str(name), value) for name, value in section.items()}


def parse_mapping(text: str, path: Path = Path("connector.toml")) -> Mapping:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{path}: does not parse: {exc}") from None
    r = _Reader(data, path, text)
    r.unknown_keys()

    tz_name = r.text("store", "timezone")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        r.fail("store.timezone", f"{tz_name!r} is not an IANA time zone")
    currency = r.text("store", "currency")
    if currency not in ISO_4217:
        hint = f": write {currency.upper()!r}" if currency.upper() in ISO_4217 else ""
        r.fail("store.currency", f"{currency!r} is not an ISO 4217 currency code in upper case{hint}")
    store = StoreMapping(
        source=normalise_source(r.text("store", "source")),
        company=r.text("store", "company"),
        business_unit=r.text("store", "business_unit"),
        currency=currency,
        timezone=tz,
    )

    # [posting] and [orchestrations] have the defaults of docs/design.md §6/§8; the store and
    # its accounts have none, since a guess there would book revenue to the wrong place.
    statuses = (data.get("posting") or {}).get("statuses", list(DEFAULT_POSTING_STATUSES))
    if not isinstance(statuses, list) or not statuses or not all(isinstance(s, str) and s for s in statuses):
        r.fail("posting.statuses", "must be a non-empty list of WooCommerce order statuses")
    for status in statuses:
        if status not in WOO_ORDER_STATUSES:
            close = difflib.get_close_matches(status, WOO_ORDER_STATUSES, n=1)
            r.fail("posting.statuses", f"{status!r} is not a WooCommerce order status"
                   + (f": did you mean {close[0]!r}?" if close else
                      f" ({', '.join(sorted(WOO_ORDER_STATUSES))})"))
    fee_meta = (data.get("posting") or {}).get("fee_meta", DEFAULT_FEE_META)
    if not isinstance(fee_meta, dict) or not all(isinstance(v, str) and v.strip() for v in fee_meta.values()):
        r.fail("posting.fee_meta", "must be a table of payment method = \"order meta key\"")
    posting = PostingRules(frozenset(statuses), r.text("posting", "document_type", "JE"),
                           discounts=r.choice("posting", "discounts", DISCOUNT_MODES, "net"),
                           foreign_currency=r.choice("posting", "foreign_currency", FOREIGN_CURRENCY_MODES, "refuse"),
                           fee_meta={str(k): v.strip() for k, v in fee_meta.items()})

    clearing_table = r.table("accounts.clearing")
    if "default" not in clearing_table:
        # Without a default an unknown payment method could not be posted; docs/design.md §9
        # wants that found at start-up, not on the first such order.
        r.fail("accounts.clearing.default", "is missing: every payment method needs a clearing account")
    clearing = {m: r.account("accounts.clearing", m, v) for m, v in clearing_table.items()}
    accounts = Accounts(
        **{k: r.account("accounts", k) for k in ("revenue", "shipping", "fees", "tax_payable", "rounding")},
        clearing=clearing,
        tax=r.account_table("accounts.tax"),
        revenue_by_category=r.account_table("accounts.revenue_by_category"),
        **{k: r.optional_account("accounts", k) for k in ("discounts", "payment_fees", "gift_cards",
                                                            "refunds_payable")},
    )

    if posting.discounts == "gross" and accounts.discounts is None:
        r.fail("accounts.discounts", "is missing: [posting] discounts = \"gross\" debits the discounts given to it")

    orchestrations = Orchestrations(
        post_journal_entry=r.text("orchestrations", "post_journal_entry", "ORCH_WOO_PostJournalEntry"),
        add_customer=r.text("orchestrations", "add_customer", "ORCH_WOO_AddCustomer"),
        reference_column=r.text("orchestrations", "reference_column", "VINV"),
        input_format=r.choice("orchestrations", "input_format", INPUT_FORMATS, "standard"),
        date_format=r.choice("orchestrations", "date_format", DATE_FORMATS, "julian"),
    )
    return Mapping(store, posting, accounts, orchestrations)


def load_mapping(path: Path) -> Mapping:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MappingError(f"{path}: mapping file not found (set CONNECTOR_CONFIG or create it)") from None
    return parse_mapping(text, Path(path))

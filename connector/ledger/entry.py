"""A journal entry and how it is put together from the parts of an order.

Every rule of the ledger (sale lines, tax, discounts, categories, fees and tenders,
reversals) produces `Part`s: an account, a signed amount (debit > 0, credit < 0) and what it
is. `assemble` aggregates them by account and side in the order first seen — debits and
credits to one account stay two lines, so nothing is netted out of sight (a gateway fee taken
from clearing, a negative fee against revenue) — drops zero lines and checks the entry
balances to the cent.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from connector.jde.dates import julian
from connector.mapping import Mapping, currency_places

EXPLANATION_LENGTH = 30   # F0911.EXA


class NotPostable(ValueError):
    """The order cannot become a journal entry as it is; the message says why, for finance."""


class NothingToPost(ValueError):
    """Every amount of the order is zero: there is no entry to post (the message says why)."""


@dataclass(frozen=True)
class JournalLine:
    line_number: int
    account_number: str        # BU.Object.Sub
    amount: Decimal            # debit > 0, credit < 0
    explanation: str


@dataclass(frozen=True)
class JournalEntry:
    batch_number: str
    company: str
    document_type: str
    gl_date: date
    currency: str
    explanation: str
    lines: tuple[JournalLine, ...] = field(default_factory=tuple)
    # "F": the amounts are in a foreign (transaction) currency, JDE converts them.
    currency_mode: str | None = None

    @property
    def gl_date_julian(self) -> str:
        return julian(self.gl_date)

    @property
    def total_debit(self) -> Decimal:
        return sum((line.amount for line in self.lines if line.amount > 0), Decimal(0))

    def orchestration_input(self, address_number: int | None) -> dict:
        """The GL orchestration's inputs as one flat dict, the journal lines under `Lines`
        (connector/jde/inputs.py writes them in the orchestration's input format; posting
        writes GLDate in the form the orchestration takes)."""
        values = {
            "BatchNumber": self.batch_number,
            "Company": self.company,
            "DocumentType": self.document_type,
            "GLDate": self.gl_date_julian,
            "Currency": self.currency,
            "Explanation": self.explanation,
            "AddressNumber": address_number,
        }
        if self.currency_mode:
            values["CurrencyMode"] = self.currency_mode
        values["Lines"] = [
            {"LineNumber": line.line_number, "AccountNumber": line.account_number,
             "Amount": str(line.amount), "Explanation": line.explanation}
            for line in self.lines
        ]
        return values


@dataclass(frozen=True)
class Part:
    account_number: str
    amount: Decimal      # debit > 0, credit < 0
    label: str


class Money:
    """Amounts of one currency, quantised to its places (ISO 4217), never float."""

    def __init__(self, currency: str):
        self.currency = currency
        self.unit = Decimal(1).scaleb(-currency_places(currency))

    def __call__(self, value) -> Decimal:
        return Decimal(value or 0).quantize(self.unit, rounding=ROUND_HALF_UP)

    def sum(self, values) -> Decimal:
        return sum((self(v) for v in values), Decimal(0))


def explain(text: str) -> str:
    return text[:EXPLANATION_LENGTH]


def batch_number(woo_id: int) -> str:
    """The order reference, also the JDE-side duplicate guard (F0911Z1 batch key)."""
    return f"WC-{woo_id}"


def gl_date(order: dict, mapping: Mapping) -> date:
    """The store's local calendar day of payment (else completion, else creation)."""
    for key in ("date_paid_gmt", "date_completed_gmt", "date_created_gmt"):
        moment: datetime | None = order.get(key)
        if moment is not None:
            return moment.astimezone(mapping.store.timezone).date()
    raise NotPostable("order has no payment, completion or creation date to date the entry")


def assemble(parts: list[Part], *, woo_id, batch: str, mapping: Mapping, order: dict, currency: str,
             explanation: str, currency_mode: str | None = None, when: dict | None = None) -> JournalEntry:
    """The balanced entry of `parts`: aggregated by account and side (first seen first), zeros dropped."""
    by_account: dict[tuple[str, bool], tuple[Decimal, str]] = {}
    for part in parts:
        key = (part.account_number, part.amount > 0)
        previous, label = by_account.get(key, (Decimal(0), part.label))
        by_account[key] = (previous + part.amount, label)
    lines = tuple(
        JournalLine(n, account, amount, explain(f"WC {woo_id} {label}"))
        for n, ((account, _), (amount, label)) in enumerate(
            ((a, v) for a, v in by_account.items() if v[0] != 0), start=1))
    if not lines:
        raise NothingToPost("every amount of the order is zero: there is nothing to post")
    total = sum(line.amount for line in lines)
    if total != 0:
        raise AssertionError(f"journal entry {batch} does not balance: {total}")
    return JournalEntry(batch_number=batch, company=mapping.store.company,
                        document_type=mapping.posting.document_type, gl_date=gl_date(when or order, mapping),
                        currency=currency, explanation=explain(explanation), lines=lines,
                        currency_mode=currency_mode)

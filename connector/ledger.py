"""Journal-entry rules: a paid WooCommerce order → one balanced JDE revenue journal entry.

Debit the clearing account of the payment method for the order total; credit revenue,
shipping, fees and sales tax payable. Every amount is a `Decimal` quantised to the
currency's places; lines are aggregated by account; debits are positive, credits negative,
and the lines always sum to exactly zero.

WooCommerce rounds tax per line or per order, so its total may differ from the sum of its
parts by a cent per tax line. Such a difference goes to the rounding account; anything larger
means the order cannot be trusted as it is and goes to a person (`NotPostable`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from connector.jde.dates import julian  # noqa: F401  (JDE's date, part of the entry's vocabulary)
from connector.mapping import Mapping, currency_places

EXPLANATION_LENGTH = 30   # F0911.EXA


class NotPostable(ValueError):
    """The order cannot become a journal entry as it is; the message says why, for finance."""


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
        return {
            "BatchNumber": self.batch_number,
            "Company": self.company,
            "DocumentType": self.document_type,
            "GLDate": self.gl_date_julian,
            "Currency": self.currency,
            "Explanation": self.explanation,
            "AddressNumber": address_number,
            "Lines": [
                {"LineNumber": line.line_number, "AccountNumber": line.account_number,
                 "Amount": str(line.amount), "Explanation": line.explanation}
                for line in self.lines
            ],
        }


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


def _explain(text: str) -> str:
    return text[:EXPLANATION_LENGTH]


def journal_entry(order: dict, mapping: Mapping) -> JournalEntry:
    """The sale entry of a paid order (a loaded OrderSchema document)."""
    currency = (order.get("currency") or "").upper()
    if currency != mapping.store.currency:
        raise NotPostable(f"order currency {currency or '(none)'} is not the company currency "
                          f"{mapping.store.currency}: convert it in JDE or map the store to a company in {currency}")
    unit = Decimal(1).scaleb(-currency_places(currency))

    def money(value) -> Decimal:
        return Decimal(value or 0).quantize(unit, rounding=ROUND_HALF_UP)

    accounts = mapping.accounts
    clearing = accounts.clearing_for(order.get("payment_method"))
    if clearing is None:   # unreachable with a validated mapping (it requires a default)
        raise NotPostable(f"no clearing account for payment method {order.get('payment_method')!r}")

    woo_id = order["id"]
    total = money(order["total"])
    credits = [
        (accounts.revenue, sum((money(item["total"]) for item in order["line_items"]), Decimal(0)), "sales"),
        (accounts.shipping, sum((money(s["total"]) for s in order["shipping_lines"]), Decimal(0)), "shipping"),
        (accounts.fees, sum((money(f["total"]) for f in order["fee_lines"]), Decimal(0)), "fees"),
        (accounts.tax_payable, money(order["total_tax"]), "sales tax"),
    ]
    difference = total - sum(amount for _, amount, _ in credits)
    tolerance = unit * len(order["tax_lines"])
    if abs(difference) > tolerance:
        raise NotPostable(
            f"order total {total} differs from its items, shipping, fees and tax by {difference} "
            f"(more than the {tolerance} that tax rounding explains): check the order in WooCommerce")
    if difference:
        credits.append((accounts.rounding, difference, "tax rounding"))

    # Aggregate by account, debit first, credits in the order above; zero lines are dropped.
    by_account: dict[str, tuple[Decimal, str]] = {}
    for account, amount, what in [(clearing, -total, "payment")] + credits:
        number = mapping.account_number(account)
        previous, label = by_account.get(number, (Decimal(0), what))
        by_account[number] = (previous - amount, label)
    lines = tuple(
        JournalLine(n, account, amount, _explain(f"WC {woo_id} {label}"))
        for n, (account, (amount, label)) in enumerate(
            ((a, v) for a, v in by_account.items() if v[0] != 0), start=1)
    )
    if not lines:
        raise NotPostable("order has no amounts to post (total, items, shipping, fees and tax are all zero)")
    assert sum(line.amount for line in lines) == 0, "journal entry does not balance"
    return JournalEntry(
        batch_number=batch_number(woo_id),
        company=mapping.store.company,
        document_type=mapping.posting.document_type,
        gl_date=gl_date(order, mapping),
        currency=currency,
        explanation=_explain(f"WooCommerce order {order.get('number') or woo_id}"),
        lines=lines,
    )

"""Refunds and cancellations after posting: reversing entries with their own batch numbers.

A posted sale is never changed in JDE; money going back is a new entry, and the sale is
reversed at most once in all:

- **A refund** (`WC-<order>-R<refund id>`) is read from WooCommerce's own record of it (the
  `refunds` table) and dated the store-local day it was made. Its lines take back what they
  name, on the accounts the sale used (`refund_lines`); an amount typed without lines is spread
  over what is left of the sale pro rata, the cent of rounding on the largest line; lines whose
  sum differs from the amount are scaled to the amount (the money is what left the bank). The
  refund that returns the last of the money paid reverses everything left of the sale exactly,
  and gives back any gift-card redemption to the gift-card liability. The credit goes to the
  payment's clearing account when the gateway returned the money (`refunded_payment`), else to
  `[accounts] refunds_payable`: the shop must still pay it back by hand.
- **A cancellation** (`WC-<order>-C`) of a paid, posted order: WooCommerce returns no money on
  cancel, so it reverses everything left of the sale, credits `refunds_payable` with what the
  customer paid and has not got back (a liability) and gives back any gift-card redemption; it
  never touches the clearing account or the gateway's fee.
- **A refund after the cancellation** only pays that liability: it debits `refunds_payable`
  and credits clearing (nothing to post when the shop paid by hand: the liability stays for a
  person to clear).
- The gateway's fee is not returned by the gateway: its expense stays.

`Remainder` is what the sale has left to give back, per account and side, rebuilt from the
sale and every reversal recorded so far; a reversal that would take more than is left from any
account, or more money than was paid, is refused (`NotPostable`, so the order goes to a person).
Entries already recorded are never recomputed: new ones follow them, refunds in the order they
were made, then the cancellation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from connector.ledger import guards
from connector.ledger.entry import JournalEntry, Money, NothingToPost, NotPostable, Part, assemble
from connector.ledger.refund_lines import refund_parts

REVERSED_STATUSES = frozenset({"cancelled", "refunded"})
KINDS = ("refund", "cancellation")      # journal_entries.kind of a reversal


def refund_batch(woo_id: int, refund_id: int) -> str:
    return f"WC-{woo_id}-R{refund_id}"


def cancellation_batch(woo_id: int) -> str:
    return f"WC-{woo_id}-C"


def _tender_accounts(mapping) -> dict[str, str]:
    """{account number: role} of the accounts that say how the order was paid, not what was sold."""
    accounts = mapping.accounts
    roles = {mapping.account_number(a): "clearing" for a in accounts.clearing.values()}
    for role in ("payment_fees", "gift_cards", "refunds_payable"):
        account = getattr(accounts, role)
        if account is not None:
            roles[mapping.account_number(account)] = role
    return roles


@dataclass
class Remainder:
    """What is left of a posted sale: per (account, the sale line's side) the signed amount not
    reversed yet, the money paid and not returned, the gift cards not given back, and what a
    cancellation left owed to the customer."""
    money: Money
    tender: dict[str, str]
    lines: dict[tuple[str, bool], Decimal] = field(default_factory=dict)
    paid: Decimal = Decimal(0)
    gift_cards: Decimal = Decimal(0)
    owed: Decimal = Decimal(0)
    cancelled: bool = False

    @classmethod
    def of_sale(cls, sale_lines, mapping, money: Money) -> "Remainder":
        book = cls(money, _tender_accounts(mapping))
        for account, amount in sale_lines:
            role = book.tender.get(account)
            if role == "gift_cards" and amount > 0:
                book.gift_cards += amount
            elif role is None:
                key = (account, amount > 0)
                book.lines[key] = book.lines.get(key, Decimal(0)) + amount
        # The sale balances: what was sold (net of discounts) = paid + gift cards.
        book.paid = -sum(book.lines.values(), Decimal(0)) - book.gift_cards
        return book

    @property
    def value(self) -> Decimal:
        """What is left of the sale to give back: the money not returned plus the gift cards."""
        return -sum(self.lines.values(), Decimal(0))

    def everything(self, label: str) -> list[Part]:
        return [Part(account, -amount, label) for (account, _), amount in self.lines.items() if amount]

    def check(self, parts: list[Part], what: str) -> None:
        """Refuse `parts` (order-side lines of a reversal) that take more than is left of an account."""
        taking: dict[tuple[str, bool], Decimal] = {}
        for part in parts:
            key = (part.account_number, part.amount < 0)     # the side of the sale line it reverses
            taking[key] = taking.get(key, Decimal(0)) + part.amount
        for (account, side), amount in taking.items():
            left = self.lines.get((account, side), Decimal(0))
            if amount and abs(amount) > abs(left):
                raise NotPostable(f"{what} takes {abs(amount)} back from account {account}, where the sale has "
                                  f"{abs(left)} left: check the refunds in WooCommerce")

    def apply(self, kind: str, lines) -> None:
        """Account for a reversal (`lines`: (account, amount)), computed now or recorded before."""
        lines = list(lines)
        settles = any(self.tender.get(a) == "refunds_payable" and v > 0 for a, v in lines)
        returned = Decimal(0)
        for account, amount in lines:
            role = self.tender.get(account)
            if role is None:
                key = (account, amount < 0)
                self.lines[key] = self.lines.get(key, Decimal(0)) + amount
            elif role == "gift_cards" and amount < 0:
                self.gift_cards += amount
            elif role == "refunds_payable":
                if kind == "cancellation":
                    self.owed -= amount
                elif amount > 0:
                    self.owed -= amount
                    returned += amount
                else:
                    returned -= amount
            elif role == "clearing" and amount < 0 and not settles:
                returned -= amount
        if kind == "cancellation":
            self.cancelled = True
        else:
            self.paid -= returned


@dataclass(frozen=True)
class Plan:
    entries: list[tuple[str, JournalEntry]]        # (kind, entry) to record and post, in order
    missing_refunds: tuple[int, ...] = ()          # refund records to read from WooCommerce first
    notes: tuple[str, ...] = ()                    # what was left out and why, for the audit log


def spread(parts: list[Part], total: Decimal, money: Money, label: str) -> list[Part]:
    """`parts` scaled to sum to `total`, each rounded, the cent of rounding on the largest."""
    weight = sum((p.amount for p in parts), Decimal(0))
    if not weight:
        raise NotPostable(f"{label}: {total} cannot be spread over lines that sum to zero")
    scaled = [Part(p.account_number, money(p.amount * total / weight), label) for p in parts]
    difference = total - sum((p.amount for p in scaled), Decimal(0))
    if difference:
        i = max(range(len(scaled)), key=lambda n: scaled[n].amount)
        scaled[i] = Part(scaled[i].account_number, scaled[i].amount + difference, label)
    return [p for p in scaled if p.amount]


def _tender(mapping, role_account, what: str) -> str:
    if role_account is None:
        raise NotPostable(f"{what} needs [accounts] refunds_payable (what the shop owes the customer) mapped")
    return mapping.account_number(role_account)


def refund_entry(refund: dict, book: Remainder, order: dict, mapping, *, currency: str, currency_mode=None,
                 categories=None) -> JournalEntry | None:
    """The reversing entry of one WooCommerce refund (a loaded refund record), or None when it
    moves nothing in the ledger; `book` is updated."""
    guards.check_refund(refund)
    money, woo_id = book.money, order["id"]
    label = f"refund {refund['id']}"
    what = f"refund {refund['id']} of order {order.get('number') or woo_id}"
    amount = money(refund["amount"])
    payable = mapping.accounts.refunds_payable
    clearing = mapping.account_number(mapping.accounts.clearing_for(order.get("payment_method")))
    if book.cancelled:
        if amount > book.owed:
            raise NotPostable(f"{what} returns {amount} after the cancellation, but only {book.owed} is owed to the "
                              "customer: check the refunds in WooCommerce")
        if not refund["refunded_payment"]:
            book.owed -= amount
            book.paid -= amount
            return None     # paid back by hand: the liability stays in refunds_payable for a person to clear
        parts = [Part(_tender(mapping, payable, what), amount, label), Part(clearing, -amount, label)]
    else:
        if amount > book.paid:
            raise NotPostable(f"{what} returns {amount}, more than the {book.paid} paid and not refunded yet: "
                              "check the refunds in WooCommerce")
        restore = Decimal(0)
        if amount == book.paid:
            taken, restore = book.everything(label), book.gift_cards
        else:
            named = refund_parts(refund, order, mapping, money, categories)
            if named:
                taken = named if sum(p.amount for p in named) == amount else spread(named, amount, money, label)
            else:
                taken = spread(book.everything(label), amount, money, label) if amount else []
        book.check(taken, what)
        credit = clearing if refund["refunded_payment"] else _tender(mapping, payable, what)
        parts = taken + [Part(credit, -amount, label)]
        if restore:
            parts.append(Part(mapping.account_number(mapping.accounts.gift_cards), -restore, "gift cards"))
        if sum(p.amount for p in parts) != 0:
            raise NotPostable(f"{what}: the reversals posted so far do not add up to the sale; a person must "
                              "check the order's entries in JDE")
    try:
        entry = assemble(parts, woo_id=woo_id, batch=refund_batch(woo_id, refund["id"]), mapping=mapping,
                         order=order, currency=currency, currency_mode=currency_mode,
                         explanation=f"WooCommerce order {order.get('number') or woo_id} {label}",
                         when={"date_paid_gmt": refund["date_created_gmt"]})
    except NothingToPost:
        return None
    book.apply("refund", [(line.account_number, line.amount) for line in entry.lines])
    return entry


def cancellation_entry(book: Remainder, order: dict, mapping, *, currency: str,
                       currency_mode=None) -> JournalEntry | None:
    """The entry of a paid, posted order cancelled with money not refunded, or None."""
    woo_id = order["id"]
    what = f"the cancellation of order {order.get('number') or woo_id}"
    parts = book.everything("cancellation")
    if book.paid:
        parts.append(Part(_tender(mapping, mapping.accounts.refunds_payable, what), -book.paid, "cancellation"))
    if book.gift_cards:
        parts.append(Part(mapping.account_number(mapping.accounts.gift_cards), -book.gift_cards, "gift cards"))
    if sum(p.amount for p in parts) != 0:
        raise NotPostable(f"{what}: the reversals posted so far do not add up to the sale; a person must check "
                          "the order's entries in JDE")
    try:
        entry = assemble(parts, woo_id=woo_id, batch=cancellation_batch(woo_id), mapping=mapping, order=order,
                         currency=currency, currency_mode=currency_mode,
                         explanation=f"WooCommerce order {order.get('number') or woo_id} cancelled",
                         when={"date_paid_gmt": order.get("date_modified_gmt") or order.get("date_paid_gmt")})
    except NothingToPost:
        book.cancelled = True
        return None
    book.apply("cancellation", [(line.account_number, line.amount) for line in entry.lines])
    return entry


def unrecorded(order: dict, recorded_batches: set[str]) -> bool:
    """Whether an order's payload names a refund, or a cancellation, that no entry records yet."""
    woo_id = order["id"]
    return any(refund_batch(woo_id, r["id"]) not in recorded_batches for r in order.get("refunds") or []) or (
        order.get("status") == "cancelled" and cancellation_batch(woo_id) not in recorded_batches)


def plan(order: dict, sale_lines, recorded, refunds: dict, mapping, *, currency: str, currency_mode=None,
         categories=None) -> Plan:
    """The reversing entries an order (a loaded payload) needs beyond those `recorded`.

    `sale_lines`: the sale entry's (account, amount); `recorded`: (kind, batch number, lines) of
    the reversals recorded so far, in the order they were recorded; `refunds`: {refund id: loaded
    refund record} held for the order.
    """
    money = Money(currency)
    book = Remainder.of_sale(sale_lines, mapping, money)
    done = set()
    for kind, batch, lines in recorded:
        if kind in KINDS:
            book.apply(kind, lines)
            done.add(batch)
    woo_id = order["id"]
    new = [r["id"] for r in order.get("refunds") or [] if refund_batch(woo_id, r["id"]) not in done]
    missing = tuple(sorted({i for i in new if i not in refunds}))
    if missing:
        return Plan([], missing)
    entries, notes = [], []
    for refund in sorted((refunds[i] for i in set(new)), key=lambda r: (r["date_created_gmt"], r["id"])):
        entry = refund_entry(refund, book, order, mapping, currency=currency, currency_mode=currency_mode,
                             categories=categories)
        if entry is None:
            notes.append(f"refund {refund['id']} ({money(refund['amount'])}) moves nothing in the ledger"
                         + (": paid back by hand after the cancellation; clear refunds_payable in JDE"
                            if book.cancelled and not refund["refunded_payment"] else ""))
        else:
            entries.append(("refund", entry))
    if order.get("status") == "cancelled" and cancellation_batch(woo_id) not in done and not book.cancelled:
        entry = cancellation_entry(book, order, mapping, currency=currency, currency_mode=currency_mode)
        if entry is not None:
            entries.append(("cancellation", entry))
    return Plan(entries, (), tuple(notes))

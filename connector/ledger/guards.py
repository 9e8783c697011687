"""Values JDE must never see: an order carrying one goes to a person, never to JDE.

WooCommerce itself never produces them; a plugin, an import or a hostile payload can:
- an order or refund id outside 1–99,999,999 (JDE's document number range; the batch
  number `WC-<order>-R<refund>` must also fit F0911's 25-character reference);
- a negative order total, or a negative item, shipping or tax amount (a negative fee is a
  discount and allowed);
- an amount of 10^13 or more: F0911's amounts hold 15 digits, two of them decimals;
- a date before 1900 or after 2099 (JDE's dates are CYYDDD).
"""
from __future__ import annotations

from decimal import Decimal

from connector.ledger.entry import NotPostable

MAX_DOCUMENT_ID = 99_999_999
MAX_AMOUNT = Decimal(10) ** 13
FIRST_YEAR, LAST_YEAR = 1900, 2099
DATE_KEYS = ("date_created_gmt", "date_modified_gmt", "date_paid_gmt", "date_completed_gmt")


def _amounts(order: dict):
    yield "total", order["total"], False
    yield "total_tax", order.get("total_tax"), False
    for key in ("line_items", "shipping_lines", "tax_lines"):
        for line in order.get(key) or []:
            for field in ("total", "subtotal", "tax_total", "shipping_tax_total", "total_tax"):
                if field in line:
                    yield f"{key}[{line.get('id')}].{field}", line[field], False
            for tax in line.get("taxes") or []:
                yield f"{key}[{line.get('id')}].taxes[{tax.get('id')}]", tax.get("total"), False
    for line in order.get("fee_lines") or []:
        yield f"fee_lines[{line.get('id')}].total", line["total"], True
    for card in order.get("gift_cards") or []:
        yield "gift_cards.amount", card.get("amount"), False


def _check_id(what: str, value) -> None:
    if not 1 <= value <= MAX_DOCUMENT_ID:
        raise NotPostable(f"{what} {value} is outside JDE's document number range (1 to {MAX_DOCUMENT_ID:,})")


def _check_amount(what: str, value, negative_allowed: bool) -> None:
    value = Decimal(value or 0)
    if not value.is_finite() or abs(value) >= MAX_AMOUNT:
        raise NotPostable(f"{what} {value} is beyond what a JDE amount holds (under {MAX_AMOUNT:,})")
    if value < 0 and not negative_allowed:
        raise NotPostable(f"{what} is negative ({value}): WooCommerce does not make such orders; check it there")


def _check_date(what: str, moment) -> None:
    if moment is not None and not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise NotPostable(f"{what} {moment.isoformat()} is outside the years {FIRST_YEAR}–{LAST_YEAR} JDE dates hold")


def check_order(order: dict) -> None:
    """Raise NotPostable, naming the value, for an order JDE must never see."""
    _check_id("order id", order["id"])
    for what, value, negative_allowed in _amounts(order):
        _check_amount(what, value, negative_allowed)
    for key in DATE_KEYS:
        _check_date(key, order.get(key))


def check_refund(refund: dict) -> None:
    _check_id("refund id", refund["id"])
    _check_amount(f"refund {refund['id']} amount", refund["amount"], False)
    _check_date(f"refund {refund['id']} date_created_gmt", refund["date_created_gmt"])
    for key in ("line_items", "shipping_lines", "fee_lines"):
        for line in refund.get(key) or []:
            _check_amount(f"refund {refund['id']} {key}[{line.get('id')}].total", line.get("total"), True)

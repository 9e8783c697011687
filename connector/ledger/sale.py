"""The sale entry of a paid order: the rules of the other modules, put together and checked.

Debits: the clearing account of the payment method (the total), gift cards redeemed, the
gateway fee; in gross mode the discounts. Credits: revenue per item (by category), shipping,
fees, sales tax per rate. WooCommerce rounds each line item, shipping line, fee line and tax
line on its own, so its total may differ from the sum of the parts by up to one currency unit
for each of them; that difference goes to the rounding account, and anything larger goes to a
person (`NotPostable`). An order whose every amount is zero has nothing to post
(`NothingToPost`).
"""
from __future__ import annotations

from connector.ledger import categories as category_rules
from connector.ledger import guards
from connector.ledger.discounts import fee_parts, item_parts
from connector.ledger.entry import JournalEntry, Money, NotPostable, Part, assemble, batch_number
from connector.ledger.tax import tax_parts
from connector.ledger.tenders import tender_parts
from connector.mapping import Mapping


def currency_of(order: dict, mapping: Mapping) -> tuple[str, str | None]:
    """(the entry's currency, JDE's currency mode): the company's, or the order's own when
    `[posting] foreign_currency = "transaction"` (mode "F": JDE converts at its own rate)."""
    currency = (order.get("currency") or "").upper()
    if currency == mapping.store.currency:
        return currency, None
    if mapping.posting.foreign_currency == "transaction" and currency:
        return currency, "F"
    raise NotPostable(f"order currency {currency or '(none)'} is not the company currency "
                      f"{mapping.store.currency}: convert it in JDE, map the store to a company in {currency}, "
                      "or set [posting] foreign_currency = \"transaction\"")


def sale_parts(order: dict, mapping: Mapping, money: Money, categories=None) -> tuple[list[Part], object]:
    """Every part of the sale, rounding included; (parts, the gateway fee found or None)."""
    debits, fee = tender_parts(order, mapping, money)
    credits = (item_parts(order, mapping, money, category_rules.item_accounts(order, mapping, categories))
               + [Part(mapping.account_number(mapping.accounts.shipping), -money(line["total"]), "shipping")
                  for line in order["shipping_lines"]]
               + fee_parts(order, mapping, money)
               + tax_parts(order, mapping, money))
    parts = debits + credits
    difference = -sum(part.amount for part in parts)
    rounded = len(order["line_items"]) + len(order["shipping_lines"]) + len(order["fee_lines"]) \
        + len(order["tax_lines"])
    tolerance = money.unit * rounded
    if abs(difference) > tolerance:
        raise NotPostable(
            f"order total {money(order['total'])} differs from its items, shipping, fees and tax by {-difference} "
            f"(more than the {tolerance} that WooCommerce's rounding of {rounded} amounts explains): check the order "
            "in WooCommerce")
    if difference:
        parts.append(Part(mapping.account_number(mapping.accounts.rounding), difference, "rounding"))
    return parts, fee


def journal_entry(order: dict, mapping: Mapping, categories=None) -> JournalEntry:
    """The sale entry of a paid order (a loaded OrderSchema document).

    `categories`: {product id: [category slugs]} when revenue is mapped by category.
    """
    guards.check_order(order)
    currency, mode = currency_of(order, mapping)
    parts, _ = sale_parts(order, mapping, Money(currency), categories)
    woo_id = order["id"]
    return assemble(parts, woo_id=woo_id, batch=batch_number(woo_id), mapping=mapping, order=order,
                    currency=currency, currency_mode=mode,
                    explanation=f"WooCommerce order {order.get('number') or woo_id}")

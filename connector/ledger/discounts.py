"""Sales, net or gross of coupons, and fees positive and negative.

`[posting] discounts`:
- `"net"` (default): each line item credits its revenue account with its `total` (after
  coupons, before tax), so discounts given do not show in the ledger;
- `"gross"`: each line item credits its revenue account with its `subtotal` (before coupons)
  and `[accounts] discounts` is debited with `subtotal − total` over the items.

In both modes a positive fee line credits `fees`, and a negative fee line (a discount entered
as a fee) debits `discounts` when it is mapped, else revenue: fees are never netted against
each other or against discounts.
"""
from __future__ import annotations

from connector.ledger.entry import Money, NotPostable, Part


def item_parts(order: dict, mapping, money: Money, accounts_of_items: list) -> list[Part]:
    gross = mapping.posting.discounts == "gross"
    parts, discount = [], money(0)
    for item, account in zip(order["line_items"], accounts_of_items):
        number = mapping.account_number(account)
        if gross:
            subtotal, total = money(item["subtotal"]), money(item["total"])
            parts.append(Part(number, -subtotal, "sales"))
            discount += subtotal - total
        else:
            parts.append(Part(number, -money(item["total"]), "sales"))
    if gross and discount:
        if mapping.accounts.discounts is None:   # the mapping check refuses gross without it
            raise NotPostable("[posting] discounts = \"gross\" needs [accounts] discounts")
        parts.append(Part(mapping.account_number(mapping.accounts.discounts), discount, "discounts"))
    return parts


def fee_parts(order: dict, mapping, money: Money) -> list[Part]:
    accounts = mapping.accounts
    parts = []
    for fee in order["fee_lines"]:
        amount = money(fee["total"])
        if amount >= 0:
            parts.append(Part(mapping.account_number(accounts.fees), -amount, "fees"))
        else:
            account = accounts.discounts or accounts.revenue
            parts.append(Part(mapping.account_number(account), -amount, "discount fee"))
    return parts

"""What a WooCommerce refund gives back, line by line, on the accounts the sale used.

A refund record (`GET /orders/{id}/refunds`) holds copies of the order items it refunds, with
negative totals and per-rate taxes, each naming its order item in the `_refunded_item_id` meta:

- a refunded line item debits the revenue account its sale line was credited to (by product
  category); in gross mode its gross value as sold (refunded total × subtotal ÷ total of the
  order item) debits revenue and the discount share credits `discounts`;
- a refunded shipping line debits `shipping`;
- a refunded fee line debits `fees` (a negative fee, a discount, is credited back to the
  account it was debited to: `discounts`, else revenue);
- each rate's refunded tax debits that rate's tax account (`[accounts.tax]`), a line's tax
  with no rates given `tax_payable`.

The parts are debits (positive) reversing the sale's credits; the tender side (what the
customer gets back, and how) is `reversals`' business.
"""
from __future__ import annotations

from connector.ledger.categories import account_of
from connector.ledger.entry import Money, Part
from connector.ledger.tax import tax_account


def refunded_item_id(line: dict) -> int | None:
    """The order item a refund line gives back (its `_refunded_item_id` meta), if named."""
    for meta in line.get("meta_data") or []:
        if meta.get("key") == "_refunded_item_id":
            try:
                return int(str(meta.get("value")).strip())
            except ValueError:
                return None
    return None


def _original(line: dict, order_lines: list[dict], *, same) -> dict | None:
    by_id = refunded_item_id(line)
    if by_id is not None:
        found = next((item for item in order_lines if item.get("id") == by_id), None)
        if found is not None:
            return found
    # A store whose REST answers hide `_`-prefixed item meta: match on what the copy kept.
    candidates = [item for item in order_lines if same(item, line)]
    return candidates[0] if len(candidates) == 1 else None


def _same_product(item: dict, line: dict) -> bool:
    return item.get("product_id") == line.get("product_id") and item.get("variation_id") == line.get("variation_id")


def _same_name(item: dict, line: dict) -> bool:
    return (item.get("name") or "") == (line.get("name") or "")


def _tax_parts(line: dict, order: dict, mapping, money: Money, label: str) -> list[Part]:
    rates = {tax_line.get("rate_id"): tax_line for tax_line in order["tax_lines"]}
    parts = []
    for tax in line.get("taxes") or []:
        account = tax_account(rates.get(tax["id"]) or {"rate_id": tax["id"]}, mapping)
        parts.append(Part(mapping.account_number(account), -money(tax["total"]), label))
    if not line.get("taxes") and money(line.get("total_tax")):
        parts.append(Part(mapping.account_number(mapping.accounts.tax_payable), -money(line["total_tax"]), label))
    return parts


def refund_parts(refund: dict, order: dict, mapping, money: Money, categories=None) -> list[Part]:
    """The parts a refund takes back, each on the account its sale line used (debits > 0)."""
    accounts = mapping.accounts
    label = f"refund {refund['id']}"
    gross = mapping.posting.discounts == "gross"
    wanted = [line.get("product_id") or 0 for line in refund["line_items"]]
    parts: list[Part] = []
    for line in refund["line_items"]:
        given_back = -money(line["total"])
        account = mapping.account_number(account_of(line.get("product_id") or 0, mapping, categories, wanted=wanted))
        original = _original(line, order["line_items"], same=_same_product) if gross else None
        if original is not None and money(original["total"]) and money(original["subtotal"]) != money(original["total"]):
            sold = money(given_back * money(original["subtotal"]) / money(original["total"]))
            parts.append(Part(account, sold, label))
            parts.append(Part(mapping.account_number(accounts.discounts), given_back - sold, label))
        else:
            parts.append(Part(account, given_back, label))
        parts += _tax_parts(line, order, mapping, money, label)
    for line in refund["shipping_lines"]:
        parts.append(Part(mapping.account_number(accounts.shipping), -money(line["total"]), label))
        parts += _tax_parts(line, order, mapping, money, label)
    for line in refund["fee_lines"]:
        original = _original(line, order["fee_lines"], same=_same_name)
        was_discount = money(original["total"]) < 0 if original is not None else money(line["total"]) > 0
        account = (accounts.discounts or accounts.revenue) if was_discount else accounts.fees
        parts.append(Part(mapping.account_number(account), -money(line["total"]), label))
        parts += _tax_parts(line, order, mapping, money, label)
    return [part for part in parts if part.amount]
